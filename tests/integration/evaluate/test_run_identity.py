"""Run identity: a run is reused only for the same data, settings and code; results.csv holds this invocation's grid."""

import dataclasses
import logging
import shutil

import pandas as pd
import pytest

from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.evaluate import experiment
from messplus_core.evaluate.pipeline import plan, run_evaluation

BASELINES = "router=[single_model,educated_guess,oracle]"


def run(root, out, *overrides):
    return run_evaluation(config(f"data_dir={root}", "logger=none", "benchmark=boolq", "seed=42", "n_jobs=1", BASELINES,
                           *overrides), out)


def boolq(n, seed):
    return {"boolq": synthetic_frame(n, seed, "boolq", "acc")}


def test_a_changed_capture_in_the_same_folder_is_never_served_from_old_runs(tmp_path, caplog):
    root = write_capture(tmp_path / "data", boolq(40, 0))
    first = run(root, tmp_path / "out")["frame"]
    write_capture(root, boolq(60, 5))  # same path, other rows and labels
    with caplog.at_level(logging.INFO):
        second = run(root, tmp_path / "out")
    assert "ran 5 runs, skipped 0" in caplog.text
    frame = second["frame"]
    assert set(frame["n_requests"]) == {60}
    assert (frame["sla_met"] == (frame["satisfaction"] >= frame["alpha"] - 1e-12)).all()
    assert set(frame["run_id"]).isdisjoint(first["run_id"])
    assert "5 run(s) stored in" in second["summary"].read_text()  # the old runs: kept in runs/, not in the report
    assert len((tmp_path / "out" / "runs" / "boolq.jsonl").read_text().splitlines()) == 10


def test_the_same_data_elsewhere_reuses_its_runs_and_says_so(tmp_path, caplog):
    root = write_capture(tmp_path / "data", boolq(40, 0))
    first = run(root, tmp_path / "out")["frame"]
    shutil.copytree(root, tmp_path / "moved")
    with caplog.at_level(logging.INFO):
        second = run(tmp_path / "moved", tmp_path / "out")
    assert "ran 0 runs, skipped 5" in caplog.text and "5 of 5 runs of this grid are reused" in caplog.text
    pd.testing.assert_frame_equal(first, second["frame"])


def test_results_csv_holds_only_the_current_grid(tmp_path):
    root = write_capture(tmp_path / "data", boolq(40, 0))
    run(root, tmp_path / "out", "alpha=0.6")
    frame = run(root, tmp_path / "out", "alpha=0.7")["frame"]
    assert set(frame["alpha"]) == {0.7}


def test_run_id_covers_the_code_version_the_data_and_the_embedding_recipe(tmp_path, monkeypatch):
    spec = experiment.RunSpec("boolq", "oracle", 0.8, 42, feedback_rate=1.0, data_digest="a" * 64)
    before = spec.run_id
    assert experiment.RunSpec("boolq", "oracle", 0.8, 42, feedback_rate=1.0, data_digest="b" * 64).run_id != before
    monkeypatch.setattr(experiment, "RESULT_VERSION", experiment.RESULT_VERSION + 1)
    assert spec.run_id != before
    monkeypatch.undo()

    from messplus_core.data import embeddings

    root = write_capture(tmp_path / "data", boolq(40, 0))
    cfg = config(f"data_dir={root}", "benchmark=boolq", "logger=none")
    mess = {s.config_hash for s in plan(cfg).specs if s.router == "mess_plus_paper"}  # reads embeddings
    oracle = {s.config_hash for s in plan(cfg).specs if s.router == "oracle"}
    assert {s.config_hash for s in plan(cfg).specs if s.router == "mess_plus_paper"} == mess  # deterministic
    recipe = embeddings.embedding_recipe(embeddings.BUNDLED_MINILM)
    monkeypatch.setattr(embeddings, "embedding_recipe", lambda encoder: dataclasses.replace(recipe, max_tokens=512))
    assert {s.config_hash for s in plan(cfg).specs if s.router == "mess_plus_paper"} != mess
    assert {s.config_hash for s in plan(cfg).specs if s.router == "oracle"} == oracle  # does not read embeddings


@pytest.mark.parametrize("key", ["calibrated_value", "custom_score"])
def test_every_key_a_router_reports_is_kept(key):
    import numpy as np
    from messplus_core.core.engine import Trace

    trace = Trace(served=np.zeros(3, dtype=np.int8), explored=np.zeros(3, dtype=bool), satisfied=np.ones(3, dtype=np.int8),
                  cost=np.ones(3), energy=np.ones(3), time=np.ones(3), router_report={key: 0.5})
    row = experiment.summarize(experiment.RunSpec("b", "knn", 0.5, 1, feedback_rate=1.0), trace, ("s",), "energy")
    assert row[key] == 0.5
    clash = Trace(**{**trace.__dict__, "router_report": {"satisfaction": 0.1}})
    with pytest.raises(ValueError, match=r"reports \['satisfaction'\], which are results columns already"):
        experiment.summarize(experiment.RunSpec("b", "knn", 0.5, 1, feedback_rate=1.0), clash, ("s",), "energy")


def test_a_concatenated_scenario_stream_carries_the_digest_of_its_parts(tmp_path):
    from dataclasses import replace

    from helpers.data import synthetic_frame as frame
    from messplus_core.data.capture_csv import load_capture
    from messplus_core.data.scenarios import concatenate
    from messplus_core.specs import BenchmarkSpec, ModelZoo

    zoo = ModelZoo.from_mapping(config("model_zoo=llama3")["model_zoo"])
    arc = load_capture(write_capture(tmp_path / "a", {"arc_challenge": frame(20)}),
                       BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.5}), zoo, "energy",
                       drop_incomplete=False)
    joined = concatenate("stream", [arc, arc])
    assert len(joined.digest) == 64
    assert concatenate("stream", [arc, replace(arc, digest="0" * 64)]).digest != joined.digest
