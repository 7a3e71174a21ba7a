"""Bring your own zoo and benchmarks: the README's worked example, run as a user would (CLI, --config-dir)."""

import subprocess
import sys

import pandas as pd
import pytest

from helpers.config import REPO
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.errors import ConfigError
from messplus_core.evaluate.pipeline import plan, run_evaluation

EXAMPLE = REPO / "examples" / "byo_zoo"


def test_readme_example_priced_six_model_zoo(tmp_path):
    """The commands of README "Bring your own zoo", verbatim apart from the folders."""
    data, out = tmp_path / "my_capture", tmp_path / "my_report"
    made = subprocess.run([sys.executable, str(EXAMPLE / "make_capture.py"), str(data)], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    cmd = [sys.executable, str(REPO / "evaluate" / "run.py"), "--config-dir", str(EXAMPLE / "conf"), "model_zoo=priced6",
           "benchmark=[support_tickets,contract_qa]", f"data_dir={data}", "cost_unit=$", "logger=none", "seed=42",
           f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={out}"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = (out / "summary.md").read_text()
    assert "m6 = acme/xl-70b" in summary and "in $ (totals in $)" in summary
    assert "| router | support_tickets (α=0.7) | contract_qa (α=0.65) | mean |" in summary
    assert " J" not in summary.split("## Notes")[0].replace("J/request", "")  # no joules anywhere in the tables
    frame = pd.read_csv(out / "results.csv")
    assert {"cost_usd_per_request", "cost_usd_total", "explore_cost_usd"} <= set(frame.columns)
    assert "energy_j_per_request" not in frame.columns
    assert {f"share_m{i}" for i in range(1, 7)} <= set(frame.columns)
    for name in ("running_satisfaction", "queue", "model_mix", "cost_vs_satisfaction"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000


def test_benchmark_yaml_without_package_line_gets_its_own_error(tmp_path):
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "mine.yaml").write_text("task: mine\nmetric: acc\nalpha: 0.5\n")
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="evaluate", overrides=["benchmark=mine", f"hydra.searchpath=[file://{tmp_path}]"])
    with pytest.raises(ConfigError, match=r"no `# @package benchmarks.mine` line"):
        plan(OmegaConf.to_container(cfg, resolve=True))


def test_cost_out_of_zoo_order_and_constant_cost_are_warned(tmp_path, caplog):
    frame = synthetic_frame(60)
    frame["energy_consumption_small"], frame["energy_consumption_medium"] = frame["energy_consumption_medium"], frame["energy_consumption_small"]
    flat = synthetic_frame(60, 1, "boolq", "acc")
    for cat in ("small", "medium", "large"):
        flat[f"inference_time_{cat}"] = 0.0
    root = write_capture(tmp_path / "cap", {"arc_challenge": frame, "boolq": flat})
    base = [f"data_dir={root}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "seed=42", "router=[oracle]", "n_jobs=1"]
    summary = run_evaluation(config(*base, "benchmark=arc_challenge"), tmp_path / "a")["summary"].read_text()
    assert "arc_challenge: mean energy per request is out of the zoo's cost order (cheapest first): small (" in summary
    assert "> medium (" in summary and "cost_rank" in summary
    summary = run_evaluation(config(*base, "benchmark=boolq", "cost=time"), tmp_path / "b")["summary"].read_text()
    assert "boolq: the optimised cost (time) is the same for every request and model (0)" in summary
    assert "out of the zoo's cost order" in caplog.text


def test_nonstationary_stream_from_any_selected_benchmarks(synthetic_capture, tmp_path):
    base = [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "seed=42", "router=[oracle]",
            "benchmark=[arc_challenge,boolq]", "scenario=nonstationary"]
    with pytest.raises(ConfigError, match=r"has no capture of 'piqa'.*scenarios.nonstationary.sequence"):
        run_evaluation(config(*base), tmp_path / "a")
    result = run_evaluation(config(*base, "scenarios.nonstationary.sequence=[boolq,arc_challenge]", "scenarios.nonstationary.alpha=0.6"),
                      tmp_path / "b")
    rows = result["frame"][result["frame"]["scenario"] == "nonstationary"]
    assert set(rows["alpha"]) == {0.6} and set(rows["n_requests"]) == {150 + 120}
    assert "boolq → arc_challenge" in result["summary"].read_text()
    assert (tmp_path / "b" / "plots" / "scenario_nonstationary.png").stat().st_size > 10_000
    with pytest.raises(ConfigError, match=r"sequence names \['piqa'\], which are not selected"):
        run_evaluation(config(*base, "scenarios.nonstationary.sequence=[boolq,piqa]"), tmp_path / "c")
