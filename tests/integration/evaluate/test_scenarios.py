"""The paper's scenarios as configs: the non-stationary stream and sparse feedback, beside the main grid."""

import numpy as np
import pytest

from helpers.data import synthetic_frame, write_capture
from helpers.evaluate import config

from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import replay_parts
from messplus_core.evaluate.pipeline import load_all, plan, run_evaluation

PARTS = ("arc_challenge", "piqa", "winogrande")


@pytest.fixture
def capture(tmp_path):
    frames = {"arc_challenge": synthetic_frame(90, 0), "boolq": synthetic_frame(80, 1, "boolq", "acc"),
              "piqa": synthetic_frame(70, 2, "piqa", "acc"), "winogrande": synthetic_frame(60, 3, "winogrande", "acc")}
    for name, frame in frames.items():  # texts that say where they came from
        frame["input_text"] = [f"{name} #{i}: {t}" for i, t in enumerate(frame["input_text"])]
    return write_capture(tmp_path / "capture", frames)


@pytest.fixture
def base(capture, tmp_path):
    return [f"data_dir={capture}", f"cache_dir={tmp_path / 'cache'}", "logger=none", "benchmark=[arc_challenge,boolq]", "n_jobs=2"]


def test_nonstationary_stream_is_the_three_benchmarks_in_sequence(base):
    p = plan(config(*base, "scenario=nonstationary", "router=compare"))
    datasets = load_all(p)
    stream = datasets["nonstationary"]
    expected = [t for name in PARTS for t in datasets[name].texts]
    assert list(stream.texts) == expected
    specs = [s for s in p.specs if s.scenario == "nonstationary"]
    assert {s.benchmark for s in specs} == {"nonstationary"} and {s.alpha for s in specs} == {0.67}
    assert not any(s.shuffle for s in specs)
    for spec in specs:
        replayed, _ = replay_parts(spec, stream, None, "energy")
        if spec.split == "full":  # every seed replays the sequence unshuffled
            np.testing.assert_array_equal(replayed.order, np.arange(stream.n))
        else:  # the test part is the sequence's tail, after the training part (its beginning)
            np.testing.assert_array_equal(replayed.order, np.arange(stream.n - len(replayed.order), stream.n))
    sources = [t.split(" #")[0] for t in np.asarray(stream.texts)[replayed.order]]
    assert sources == sorted(sources, key=PARTS.index)


def test_sparse_feedback_replays_each_benchmark_with_feedback_on_20_percent(base):
    p = plan(config(*base, "scenario=sparse_feedback"))
    sparse = [s for s in p.specs if s.scenario == "sparse_feedback"]
    main = [s for s in p.specs if s.scenario == "none"]
    assert len(sparse) == len(main) and {s.feedback_rate for s in sparse} == {0.2} and {s.feedback_rate for s in main} == {1.0}
    assert {s.benchmark for s in sparse} == {"arc_challenge", "boolq"}
    assert len({s.run_id for s in p.specs}) == len(p.specs)


def test_no_scenario_by_default(base):
    assert {s.scenario for s in plan(config(*base)).specs} == {"none"}


def test_a_scenario_without_its_own_alpha_is_rejected(base):
    with pytest.raises(ConfigError, match="needs its own alpha"):
        plan(config(*base, "scenario=nonstationary", "scenarios.nonstationary.alpha=null"))


def test_both_scenarios_get_their_own_summary_sections(base, tmp_path):
    result = run_evaluation(config(*base, "scenario=all", "router=compare"), tmp_path / "out")
    summary = result["summary"].read_text()
    main, rest = summary.split("## Scenario: nonstationary")
    nonstationary, sparse = rest.split("## Scenario: sparse_feedback")
    assert "| nonstationary (α=0.67) |" in nonstationary and "arc_challenge → piqa → winogrande" in nonstationary
    assert "feedback on 20% of requests" in sparse
    for part in (main, nonstationary, sparse):
        assert "| mess_plus |" in part and "| knn |" in part and "*oracle* (bound)" in part
        assert "### MESS+ against the best other router" in part
    frame = result["frame"]
    assert set(frame["scenario"]) == {"none", "nonstationary", "sparse_feedback"}
    sparse_rows = frame[(frame["scenario"] == "sparse_feedback") & (frame["router"] == "knn")]
    assert (sparse_rows["train_requests"] < frame.loc[(frame["scenario"] == "none") & (frame["router"] == "knn"), "train_requests"].min()).all()
