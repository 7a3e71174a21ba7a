"""The evaluate stage through its Hydra config: validation before compute, outputs, resume."""

import subprocess
import sys

import pandas as pd
import pytest

from helpers.config import REPO
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.errors import CaptureError, ConfigError
from messplus_core.evaluate.pipeline import plan, run_evaluation

REQUIRED = ["benchmark", "router", "alpha", "V", "c", "seed", "feedback_rate", "n_requests", "satisfaction", "sla_met",
            "energy_j_total", "energy_j_per_request", "explore_steps", "explore_energy_j", "share_small", "share_medium", "share_large"]


@pytest.fixture
def base(synthetic_capture, tmp_path):
    return [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=[arc_challenge,boolq]", "n_jobs=2"]


@pytest.mark.parametrize("override,message", [
    ("alpha=1.2", r"alpha must lie in \(0, 1\), got 1.2"),
    ("alpha=0", r"alpha must lie in \(0, 1\)"),
    ("V=0", "V must be > 0"),
    ("c=-1", "c must be > 0"),
    ("feedback_rate=0", r"feedback_rate must lie in \(0, 1\]"),
    ("+routers.nope={}", r"unknown router\(s\) \['nope'\]"),
    ("predictor.name=transformer", "unknown predictor 'transformer'"),
    ("cost=money", "cost must be energy or time"),
])
def test_bad_config_is_rejected_before_any_compute(base, override, message):
    with pytest.raises(ConfigError, match=message):
        plan(config(*base, override))


def test_data_folder_without_csvs(base, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no capture CSVs"):
        plan(config(*base, f"data_dir={tmp_path / 'empty'}"))
    with pytest.raises(ConfigError, match="does not exist"):
        plan(config(*base, f"data_dir={tmp_path / 'nowhere'}"))


def test_benchmark_without_data_and_zoo_mismatch(base, tmp_path):
    with pytest.raises(CaptureError, match="'piqa' has no data"):
        run_evaluation(config(*base, "benchmark=piqa"), tmp_path / "out")
    frame = synthetic_frame(20).rename(columns=lambda c: c.replace("_medium", "_mid"))
    root = write_capture(tmp_path / "odd", {"arc_challenge": frame})
    with pytest.raises(CaptureError, match="category 'medium' of model_zoo 'llama3'"):
        run_evaluation(config(*base, f"data_dir={root}", "benchmark=arc_challenge"), tmp_path / "out")
    assert not (tmp_path / "out" / "runs").exists()  # nothing ran


def test_infeasible_alpha_warns_and_still_runs(base, tmp_path, caplog):
    result = run_evaluation(config(*base, "benchmark=arc_challenge", "alpha=0.99", "seed=42", "router=[single_model,oracle]"), tmp_path / "out")
    assert "SLA is infeasible" in caplog.text
    assert "infeasible" in result["summary"].read_text()
    frame = result["frame"]
    assert not frame.loc[frame["router"] == "oracle", "sla_met"].any()


def test_single_values_override_the_sweep(base, tmp_path):
    p = plan(config(*base, "sweep=paper", "alpha=0.55", "c=0.1", "seed=42"))
    paper = [s for s in p.specs if s.router == "mess_plus_paper"]
    default = [s for s in p.specs if s.router == "mess_plus"]
    assert {s.alpha for s in p.specs} == {0.55}
    assert {s.V for s in paper} == {1e-3, 1e-4, 1e-5, 1e-6} and {s.c for s in paper} == {0.1}
    assert {s.V for s in default} == {25.0, 100.0, 400.0} and {s.c for s in default} == {0.1}  # c= sets every preset's
    assert {s.seed for s in p.specs} == {42}
    full = plan(config(*base, "sweep=paper"))
    assert len([s for s in full.specs if s.router == "mess_plus_paper"]) == 2 * 3 * 4 * 3 * 3
    assert len([s for s in full.specs if s.router == "mess_plus"]) == 2 * 3 * 3 * 2 * 3


def test_cli_end_to_end_and_resume(base, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "evaluate" / "run.py"), *base, "sweep=default", f"hydra.run.dir={out}"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    frame = pd.read_csv(out / "results.csv")
    assert set(REQUIRED) <= set(frame.columns)
    # 2 benchmarks x 3 seeds x (3 MESS+ presets + 3 single + educated_guess + oracle) + 2 static_optimum rows
    assert len(frame) == 2 * 3 * 8 + 2
    assert set(frame["router"]) == {"mess_plus", "mess_plus_paper", "mess_plus_2024", "single_model:small", "single_model:medium", "single_model:large",
                                    "educated_guess", "oracle", "static_optimum"}
    summary = (out / "summary.md").read_text()
    assert "| mess_plus |" in summary and "| mess_plus_paper |" in summary and "*oracle* (bound)" in summary
    for name in ("running_satisfaction", "queue", "model_mix", "cost_vs_satisfaction"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "ran 0 runs, skipped 48 already finished" in second.stderr + second.stdout
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), frame)


def test_cli_reports_bad_input_with_exit_code_2(base, tmp_path):
    cmd = [sys.executable, str(REPO / "evaluate" / "run.py"), *base, "V=-1", f"hydra.run.dir={tmp_path / 'x'}"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "V must be > 0" in result.stderr + result.stdout


def test_time_cost_with_unmeasured_energy(base, tmp_path):
    frame = synthetic_frame(60)
    for cat in ("small", "medium", "large"):
        frame[f"energy_consumption_{cat}"] = float("nan")
    root = write_capture(tmp_path / "noenergy", {"arc_challenge": frame})
    result = run_evaluation(config(*base, f"data_dir={root}", "benchmark=arc_challenge", "seed=42", "cost=time"), tmp_path / "out")
    summary = result["summary"].read_text()
    assert "energy was not measured" in summary and "routing optimised time" in summary
    assert " s (" in summary  # cells in seconds per request
    assert result["frame"]["energy_j_per_request"].isna().all()
    assert (tmp_path / "out" / "plots" / "cost_vs_satisfaction.png").stat().st_size > 10_000
    with pytest.raises(CaptureError, match="lack a value routing needs"):
        run_evaluation(config(*base, f"data_dir={root}", "benchmark=arc_challenge", "seed=42"), tmp_path / "out2")
