"""The loader's integrity rules: verbatim texts, empty files, physical lines, label/metric agreement,
one rule for missing costs whatever the file split, drop_incomplete, the data digest, the manifest's zoo."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from helpers.data import synthetic_frame, write_capture

from messplus_core.data.capture_csv import NA_STRINGS, load_capture
from messplus_core.errors import CaptureError, ConfigError
from messplus_core.specs import BenchmarkSpec, ModelZoo

ZOO = ModelZoo.from_mapping({"name": "llama3", "models": [
    {"category": c, "model": f"m-{c}", "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})
ARC = BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.5})
BOOLQ = BenchmarkSpec.from_mapping("boolq", {"metric": "acc", "alpha": 0.8})
CATS = ("small", "medium", "large")


def load(root, spec=ARC, cost="energy", drop_incomplete=False):
    """The capture at `root` as the evaluate stage loads it; cost and drop_incomplete as its config would pass them."""
    return load_capture(root, spec, ZOO, cost, drop_incomplete)


def test_texts_that_look_missing_are_read_verbatim(tmp_path):
    texts = list(NA_STRINGS) + ["  padded  "]
    frame = synthetic_frame(len(texts))
    frame["input_text"] = texts
    data = load(write_capture(tmp_path, {"arc_challenge": frame}))
    assert data.texts == tuple(texts)


def test_an_empty_shard_is_named_and_a_header_only_shard_is_accepted(tmp_path):
    root = write_capture(tmp_path, {"arc_challenge": synthetic_frame(8)}, shards=2)
    (root / "arc_challenge" / "part_2.csv").write_text(",".join(synthetic_frame(1).columns) + "\n")
    assert load(root).n == 8
    (root / "arc_challenge" / "part_3.csv").write_bytes(b"")
    with pytest.raises(CaptureError, match=r"part_3.csv is empty \(0 bytes\).*Delete it.*header line is accepted"):
        load(root)


def test_errors_name_the_physical_line_where_a_multiline_row_starts(tmp_path):
    frame = synthetic_frame(6)
    frame.loc[1, "input_text"] = "Passage: one\ntwo, with a comma\nQuestion: is \"this\" valid?"
    frame.loc[2, "input_text"] = "Windows\r\nline"
    frame["label_small"] = frame["label_small"].astype(float)
    frame.loc[4, "label_small"] = frame.loc[4, "acc_norm_small"] = 0.5
    root = write_capture(tmp_path, {"arc_challenge": frame})
    # header: line 1; doc 0: 2; doc 1: 3-5; doc 2: 6-7; doc 3: 8; doc 4: 9
    with pytest.raises(CaptureError, match=r"line 9 \(doc_id 4\): 0.5"):
        load(root)


def test_label_and_metric_that_disagree_are_refused_listing_the_doc_ids(tmp_path):
    frame = synthetic_frame(12)
    for doc in (3, 8):
        frame.loc[doc, "acc_norm_medium"] = 1 - frame.loc[doc, "label_medium"]
    with pytest.raises(CaptureError, match=r"'label_medium' disagrees with 'acc_norm_medium'.*2 row\(s\).*\(doc_id 3\).*\(doc_id 8\)"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_every_disagreeing_label_column_of_every_shard_is_named_in_one_error_with_both_values(tmp_path):
    """One error for all of them (it used to name only the first model's column, so a user fixed and reran once per
    model); each listed row shows the label's and the metric's value."""
    frame = synthetic_frame(12)
    frame.loc[1, "acc_norm_small"] = 1 - frame.loc[1, "label_small"]
    for doc in range(2, 12):  # 10 rows of label_large: the first DISAGREEMENTS_LISTED are shown, then a count
        frame.loc[doc, "acc_norm_large"] = 1 - frame.loc[doc, "label_large"]
    with pytest.raises(CaptureError) as err:
        load(write_capture(tmp_path, {"arc_challenge": frame}, shards=2))
    message = str(err.value)
    assert "\n" not in message and "2 label column(s) ['label_small', 'label_large'] disagree" in message
    small = f"part_0.csv: 'label_small' disagrees with 'acc_norm_small' in 1 row(s): part_0.csv line 3 (doc_id 1): " \
            f"label_small={frame.loc[1, 'label_small']:g} vs acc_norm_small={frame.loc[1, 'acc_norm_small']:g}"
    assert small in message
    assert "part_0.csv: 'label_large' disagrees with 'acc_norm_large' in 4 row(s)" in message  # docs 2-5
    assert "part_1.csv: 'label_large' disagrees with 'acc_norm_large' in 6 row(s)" in message  # docs 6-11
    assert "(doc_id 10): label_large=" in message and "(doc_id 11)" not in message and "and 1 more" in message


def test_the_metric_column_used_for_a_missing_label_is_logged(tmp_path, caplog):
    frame = synthetic_frame(10).drop(columns=["label_small", "label_medium", "label_large"])
    with caplog.at_level(logging.INFO):
        data = load(write_capture(tmp_path, {"arc_challenge": frame}))
    assert "satisfaction is read from the benchmark's metric ['acc_norm_large', 'acc_norm_medium', 'acc_norm_small']" in caplog.text
    assert "satisfaction from acc_norm_X (label_X absent)" in data.report.describe("arc_challenge")


def partly_missing_energy(n: int = 12) -> pd.DataFrame:
    frame = synthetic_frame(n)
    frame.loc[n // 2:, [f"energy_consumption_{c}" for c in CATS]] = np.nan
    frame.loc[2, "energy_consumption_small"] = np.nan
    return frame


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_partly_missing_energy_follows_one_rule_whatever_the_file_split(tmp_path, shards):
    root = write_capture(tmp_path, {"arc_challenge": partly_missing_energy()}, shards=shards)
    data = load(root, cost="time")  # energy is not optimised: accepted, NaN (n/a) where missing
    assert data.n == 12 and np.isnan(data.energy).sum() == 6 * 3 + 1
    assert data.report.missing_energy
    with pytest.raises(CaptureError, match=r"7 of 12 rows lack a value routing needs \(cost=energy\)") as err:
        load(root, cost="energy")
    fixes = str(err.value).split("Fixes: ")[1]
    assert "cost=time" in fixes and "drop_incomplete=true (drops these 7 of 12 rows" in fixes
    # every suggested fix works with the given data
    assert load(root, cost="time").n == 12
    assert load(root, cost="energy", drop_incomplete=True).n == 5


def test_a_fix_that_cannot_work_is_not_suggested(tmp_path):
    frame = partly_missing_energy()
    frame.loc[0, "inference_time_large"] = np.nan  # time is incomplete too: cost=time would fail as well
    root = write_capture(tmp_path, {"arc_challenge": frame})
    with pytest.raises(CaptureError) as err:
        load(root, cost="energy")
    assert "cost=time" not in str(err.value) and "drop_incomplete=true" in str(err.value)
    with pytest.raises(CaptureError, match="lack a value routing needs"):
        load(root, cost="time")


def test_with_cost_time_figures_including_a_missing_energy_are_nan_never_a_number(tmp_path):
    from messplus_core.core.engine import replay
    from messplus_core.routers.base import Replayed
    from messplus_core.routers.baselines import SingleModel
    from messplus_core.evaluate.experiment import router_context, RunSpec
    from messplus_core.core.stream import make_stream

    data = load(write_capture(tmp_path, {"arc_challenge": partly_missing_energy()}), cost="time")
    stream = make_stream(data, 42, "time", 1.0)
    for model in CATS:
        ctx = router_context(data, RunSpec("arc_challenge", "single_model", 0.5, 42, 1.0), "time", None, stream.labels, stream.cost)
        trace = replay(Replayed(ctx, SingleModel(ctx.categories, model)), stream)
        assert np.isnan(trace.energy.sum())  # every model has a missing energy among the 12 requests
        assert np.isfinite(trace.time.sum())


def test_drop_incomplete_drops_rows_without_label_or_optimised_cost_and_counts_them(tmp_path):
    frame = synthetic_frame(10)
    frame["label_large"] = frame["label_large"].astype(float)
    frame.loc[[1, 6], ["label_large", "acc_norm_large"]] = np.nan
    frame.loc[3, "energy_consumption_medium"] = np.nan
    root = write_capture(tmp_path, {"arc_challenge": frame})
    with pytest.raises(CaptureError, match=r"3 of 10 rows lack .*\['label_large', 'energy_consumption_medium'\]"):
        load(root)
    data = load(root, drop_incomplete=True)
    assert data.n == 7 and 1 not in data.doc_ids and 3 not in data.doc_ids
    assert data.report.dropped_rows == 3 and "dropped 3 incomplete rows" in data.report.describe("arc_challenge")


def test_the_digest_follows_the_data_not_the_file_split(tmp_path):
    frame = synthetic_frame(30)
    one = load(write_capture(tmp_path / "a", {"arc_challenge": frame}))
    split = load(write_capture(tmp_path / "b", {"arc_challenge": frame.sample(frac=1, random_state=1)}, shards=3))
    assert one.digest == split.digest and len(one.digest) == 64
    for column, change in (("label_small", lambda v: 1 - v), ("energy_consumption_large", lambda v: v + 1),
                           ("input_text", lambda v: v + "?")):
        changed = frame.copy()
        changed.loc[7, column] = change(changed.loc[7, column])
        if column == "label_small":
            changed.loc[7, "acc_norm_small"] = changed.loc[7, column]
        assert load(write_capture(tmp_path / column, {"arc_challenge": changed})).digest != one.digest


def test_a_capture_of_another_zoo_is_refused_naming_both(tmp_path, caplog):
    from helpers.evaluate import config
    from messplus_core.evaluate.pipeline import plan

    root = write_capture(tmp_path / "cap", {"arc_challenge": synthetic_frame(20)})
    plan(config(f"data_dir={root}", "benchmark=arc_challenge", "logger=none", "model_zoo=tiny"))
    assert "has no manifest.json" in caplog.text and "model_zoo 'tiny'" in caplog.text  # cannot be checked: a warning
    (root / "manifest.json").write_text(json.dumps({"zoo": "tiny", "benchmarks": {}}))
    with pytest.raises(ConfigError, match=r"made with model_zoo 'tiny', but .* given model_zoo 'llama3'.*model_zoo=tiny"):
        plan(config(f"data_dir={root}", "benchmark=arc_challenge", "logger=none"))
    (root / "manifest.json").write_text(json.dumps({"zoo": "llama3", "benchmarks": {}}))
    assert plan(config(f"data_dir={root}", "benchmark=arc_challenge", "logger=none")).zoo.name == "llama3"
