"""Problems a user causes are caught before compute, through the project's error path (exit 2, one line)."""

import json
import subprocess
import sys

import pytest

from helpers.config import REPO
from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.data import embeddings
from messplus_core.errors import ConfigError
from messplus_core.evaluate import pipeline
from messplus_core.evaluate.pipeline import plan, run_evaluation
from messplus_core.evaluate.runner import RunsFailed


@pytest.fixture
def base(synthetic_capture, tmp_path):
    return [f"data_dir={synthetic_capture}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=boolq", "n_jobs=1"]


def test_list_values_of_single_value_knobs_are_sweep_values(base):
    p = plan(config(*base, "seed=[42,43]", "alpha=[0.7,0.8]", "V=[1e-4,1e-5]", "c=[0.1,1.0]"))
    mess = [s for s in p.specs if s.router == "mess_plus"]
    assert {s.seed for s in p.specs} == {42, 43} and {s.alpha for s in p.specs} == {0.7, 0.8}
    assert {s.V for s in mess} == {1e-4, 1e-5} and {s.c for s in mess} == {0.1, 1.0}
    assert len(mess) == 2 * 2 * 2 * 2


@pytest.mark.parametrize("override,message", [
    ("seed=abc", r"seed must be an integer or a list of them \(e.g. seed=42 or 'seed=\[42,42\]'\), got 'abc'"),
    ("seed=4.5", "seed must be an integer"),
    ("alpha=high", "alpha must be a number"),
    ("seed=[42,x]", "seed must be an integer"),
    ("feedback_rate=[0.2,0.5]", "feedback_rate takes one value"),
    ("routers.mess_plus.energy_estimate=median", r"routers.mess_plus: mess_plus.energy_estimate must be one of"),
    ("+routers.mess_plus.optimsm=3", r"routers.mess_plus: mess_plus: unknown setting\(s\) \[.optimsm.\]"),
    # the preset's `features` flag reads `estimator`: the missing lever is named first, not a KeyError
    ("~routers.mess_plus.estimator", r"routers.mess_plus: mess_plus: lever\(s\) \[.estimator.\] not set"),
    ("routers.mess_plus.energy_prior=[1,2]", "energy_prior needs one value per model"),
    ("routers.mess_plus.tightening=abc", r"routers.mess_plus: mess_plus.tightening must be a number, got 'abc'"),
    ("routers.mess_plus.optimism=abc", r"routers.mess_plus: mess_plus.optimism must be a number, got 'abc'"),
    ("routers.mess_plus.forced_explorations=2.5", r"mess_plus.forced_explorations must be an integer, got 2.5"),
    ("split.train_fraction=abc", "invalid config value: could not convert string to float: 'abc'"),
    ("benchmarks.boolq.alpha=high", "invalid config value"),
    ("n_jobs=-1", "n_jobs must be an integer >= 0"),
])
def test_bad_knob_values_get_the_projects_message(base, override, message):
    with pytest.raises(ConfigError, match=message):
        plan(config(*base, override))


@pytest.mark.parametrize("override,message", [
    ("routers.knn.router_energy_j=abc", r"routers.knn: router_energy_j must be a number, got 'abc'"),
    ("routers.threshold_2model.head.lr=abc", r"routers.threshold_2model: head.lr must be a number, got 'abc'"),
    ("routers.cheapest_above_threshold.fit.epochs=2.5", r"routers.cheapest_above_threshold: fit.epochs must be an integer, got 2.5"),
])
def test_bad_learned_router_knobs_get_the_projects_message(base, override, message):
    with pytest.raises(ConfigError, match=message):
        plan(config(*base, "router=compare", override))


def test_cli_bad_knob_exits_2_without_traceback(base, tmp_path):
    cmd = [sys.executable, str(REPO / "evaluate" / "run.py"), *base, "seed=abc", f"hydra.run.dir={tmp_path / 'x'}"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "seed must be an integer" in result.stderr + result.stdout and "Traceback" not in result.stderr


def no_embedding(*args, **kwargs):
    raise AssertionError("embeddings were computed before a size problem was reported")


def tiny(tmp_path, n, **kw):
    return write_capture(tmp_path / f"tiny{n}", {"boolq": synthetic_frame(n, 3, "boolq", "acc")}, **kw)


def test_a_stream_too_small_for_the_protocol_fails_before_compute_with_fixes_that_work(tmp_path, monkeypatch):
    root = tiny(tmp_path, 1)
    common = [f"data_dir={root}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=boolq", "n_jobs=1"]
    monkeypatch.setattr(pipeline, "cached_embeddings", no_embedding)
    with pytest.raises(ConfigError, match=r"boolq has 1 request\(s\).*at least 1 labelled training request.*Fixes: (.*)") as err:
        run_evaluation(config(*common, "router=compare"), tmp_path / "out")
    fix = str(err.value).split("Fixes: ")[1].split(" (without")[0]
    assert fix.startswith("router=[mess_plus,") and not {"knn", "threshold_2model"} & set(fix[8:-1].split(","))
    monkeypatch.undo()
    result = run_evaluation(config(*common, fix), tmp_path / "out")
    assert set(result["frame"]["n_requests"]) == {1}


def test_sparse_feedback_training_part_without_labels_is_caught_before_compute(tmp_path, monkeypatch):
    root = tiny(tmp_path, 24)
    common = [f"data_dir={root}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=boolq", "n_jobs=1",
              "router=compare", "feedback_rate=0.2"]
    monkeypatch.setattr(pipeline, "cached_embeddings", no_embedding)
    with pytest.raises(ConfigError, match=r"seed 42: 0.*Fixes: split.train_fraction=(\S+) ") as err:
        run_evaluation(config(*common), tmp_path / "out")
    counts = str(err.value).split("per seed are ")[1].split(" (too few")[0]
    assert [c.split(":")[0] for c in counts.split(", ")] == ["seed 42", "seed 43", "seed 44"]  # every seed of the sweep
    fraction = str(err.value).split("Fixes: split.train_fraction=")[1].split(" ")[0]
    monkeypatch.undo()
    result = run_evaluation(config(*common, f"split.train_fraction={fraction}"), tmp_path / "out")
    assert {"knn", "threshold_2model", "cheapest_above_threshold"} <= set(result["frame"]["router"])


def test_learned_routers_are_skipped_on_a_stream_too_small_for_them_and_every_other_run_completes(tmp_path):
    root = write_capture(tmp_path / "cap", {"boolq": synthetic_frame(4, 3, "boolq", "acc"),
                                            "arc_challenge": synthetic_frame(60, 4)})
    result = run_evaluation(config(f"data_dir={root}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "n_jobs=1",
                             "benchmark=[arc_challenge,boolq]", "router=compare", "seed=42"), tmp_path / "out")
    frame = result["frame"]
    learned = {"knn", "threshold_2model", "cheapest_above_threshold"}
    assert learned <= set(frame.loc[frame["benchmark"] == "arc_challenge", "router"])
    assert not learned & set(frame.loc[frame["benchmark"] == "boolq", "router"])
    assert {"mess_plus", "oracle", "educated_guess"} <= set(frame.loc[frame["benchmark"] == "boolq", "router"])
    assert "boolq has 4 request(s)" in result["summary"].read_text() and "were skipped on this stream" in result["summary"].read_text()


def test_a_failing_run_keeps_the_finished_ones_and_reports_through_the_error_path(base, tmp_path, monkeypatch):
    from messplus_core.evaluate import experiment

    real = experiment.build_router

    def flaky(name, ctx, params):
        if ctx.seed == 43:
            raise ValueError("a setting this router cannot take")
        return real(name, ctx, params)

    monkeypatch.setattr(experiment, "build_router", flaky)
    overrides = [*base, "router=[single_model,oracle]", "seed=[42,43]"]
    with pytest.raises(RunsFailed, match=r"4 of 8 runs failed: .*seed=43.*a setting this router cannot take.*The 4 finished runs are stored"):
        run_evaluation(config(*overrides), tmp_path / "out")
    stored = (tmp_path / "out" / "runs" / "boolq.jsonl").read_text().splitlines()
    assert len(stored) == 4 and all(json.loads(line)["row"]["seed"] == 42 for line in stored)
    monkeypatch.undo()
    assert len(run_evaluation(config(*overrides), tmp_path / "out")["frame"]) == 8 + 1  # 4 reused, 4 new, 1 bound


def test_a_hub_encoder_that_is_not_on_disk_fails_in_one_line_before_compute(base, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(pipeline, "cached_embeddings", no_embedding)
    with pytest.raises(ConfigError, match=r"encoder 'answerdotai/ModernBERT-base' is not in the Hugging Face cache .* "
                                          r"HF_HUB_OFFLINE=1 .*predictor=minilm"):
        run_evaluation(config(*base, "predictor=modernbert", "seed=42"), tmp_path / "out")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(embeddings, "_hub_answers", lambda encoder, timeout_s: (_ for _ in ()).throw(OSError("no route to host")))
    with pytest.raises(ConfigError, match=r"the hub did not answer \(no route to host\)"):
        run_evaluation(config(*base, "predictor=modernbert", "seed=42"), tmp_path / "out")
