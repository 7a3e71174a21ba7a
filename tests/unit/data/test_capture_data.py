import numpy as np
import pandas as pd
import pytest

from helpers.data import synthetic_frame, write_capture

from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import CaptureError
from messplus_core.specs import BenchmarkSpec, ModelZoo

ZOO = ModelZoo.from_mapping({"name": "llama3", "models": [
    {"category": c, "model": f"m-{c}", "cost_rank": i} for i, c in enumerate(("small", "medium", "large"))]})
ARC = BenchmarkSpec.from_mapping("arc_challenge", {"metric": "acc_norm", "alpha": 0.5})


def load(root, spec=ARC, cost="energy", drop_incomplete=False):
    """The capture at `root` as the evaluate stage loads it; cost and drop_incomplete as its config would pass them."""
    return load_capture(root, spec, ZOO, cost, drop_incomplete)


def test_single_csv_and_shards_give_the_same_data(tmp_path):
    frame = synthetic_frame(60)
    one = load(write_capture(tmp_path / "a", {"arc_challenge": frame}))
    many = load(write_capture(tmp_path / "b", {"arc_challenge": frame.sample(frac=1, random_state=0)}, shards=4))
    assert one.n == many.n == 60
    assert len(many.report.files) == 4
    np.testing.assert_array_equal(one.labels, many.labels)
    np.testing.assert_allclose(one.energy, many.energy)
    assert list(one.doc_ids) == sorted(one.doc_ids)


def test_repeated_docs_with_same_labels_are_merged_with_mean_costs(tmp_path):
    frame = synthetic_frame(10)
    repeat = frame.iloc[:3].copy()
    repeat["energy_consumption_small"] += 10.0
    data = load(write_capture(tmp_path, {"arc_challenge": pd.concat([frame, repeat])}))
    assert data.n == 10
    assert data.report.rows == 13 and data.report.merged_rows == 3 and data.report.docs_with_repeats == 3
    np.testing.assert_allclose(data.energy[:3, 0], frame["energy_consumption_small"].iloc[:3] + 5.0)
    assert "merged 3 repeated rows" in data.report.describe("arc_challenge")


def test_conflicting_labels_name_the_doc_ids_and_files(tmp_path):
    frame = synthetic_frame(10)
    repeat = frame.iloc[[2, 7]].copy()
    repeat["label_large"] = repeat["acc_norm_large"] = 1 - repeat["label_large"]
    with pytest.raises(CaptureError, match=r"different labels: 2 \(in part_0.csv, part_1.csv\), 7 \(in part_1.csv\)"):
        load(write_capture(tmp_path, {"arc_challenge": pd.concat([frame, repeat])}, shards=2))


def test_a_repeated_doc_id_with_another_text_is_another_request(tmp_path):
    frame = synthetic_frame(10)
    repeat = frame.iloc[[4]].copy()
    repeat["input_text"] = "a different question"
    with pytest.raises(CaptureError, match=r"different texts: 4 \(in part_0.csv, part_1.csv\).*one text"):
        load(write_capture(tmp_path, {"arc_challenge": pd.concat([frame, repeat])}, shards=2))


def test_rows_of_another_benchmark_are_refused(tmp_path):
    frame = synthetic_frame(6)
    frame.loc[5, "benchmark_name"] = "boolq"
    with pytest.raises(CaptureError, match=r"'benchmark_name' names another benchmark than 'arc_challenge'.*line 7 \(doc_id 5\): 'boolq'"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_missing_column_names_file_and_column(tmp_path):
    root = write_capture(tmp_path, {"arc_challenge": synthetic_frame(5).drop(columns="inference_time_medium")})
    with pytest.raises(CaptureError, match=r"arc_challenge\.csv: missing column 'inference_time_medium'"):
        load(root)


def test_metric_column_is_used_when_label_is_absent(tmp_path):
    frame = synthetic_frame(20).drop(columns=["label_small", "label_medium", "label_large"])
    data = load(write_capture(tmp_path, {"arc_challenge": frame}))
    np.testing.assert_array_equal(data.labels[:, 2], frame["acc_norm_large"].to_numpy())


def test_zoo_category_missing_from_csv(tmp_path):
    frame = synthetic_frame(5).rename(columns=lambda c: c.replace("_large", "_xl"))
    with pytest.raises(CaptureError, match=r"category 'large' of model_zoo 'llama3'.*categories in this file: \['medium', 'small', 'xl'\]"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_nan_energy_names_line_and_doc(tmp_path):
    frame = synthetic_frame(5)
    frame.loc[3, "energy_consumption_medium"] = np.nan
    with pytest.raises(CaptureError, match=r"1 of 5 rows lack a value routing needs \(cost=energy\) in \['energy_consumption_medium'\]: arc_challenge.csv line 5 \(doc_id 3\)"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_unmeasured_energy_is_accepted_when_optimising_time(tmp_path):
    frame = synthetic_frame(5)
    for cat in ("small", "medium", "large"):
        frame[f"energy_consumption_{cat}"] = np.nan
    data = load(write_capture(tmp_path, {"arc_challenge": frame}), cost="time")
    assert data.report.missing_energy and np.isnan(data.energy).all()
    with pytest.raises(CaptureError, match="lack a value routing needs"):
        load(tmp_path, cost="energy")


@pytest.mark.parametrize("column,value,message", [
    ("label_small", 0.5, "is not 0 or 1"),
    ("inference_time_large", -1.0, "is negative"),
    ("energy_consumption_small", np.inf, "is infinite"),
])
def test_bad_values_are_rejected(tmp_path, column, value, message):
    frame = synthetic_frame(5)
    frame[column] = frame[column].astype(float)
    frame.loc[1, column] = value
    if column.startswith("label_"):
        frame["acc_norm_small"] = frame[column]
    with pytest.raises(CaptureError, match=f"'{column}' {message}.*line 3 \\(doc_id 1\\)"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_benchmark_without_data_lists_available(tmp_path):
    root = write_capture(tmp_path, {"boolq": synthetic_frame(5, benchmark="boolq")})
    with pytest.raises(CaptureError, match=r"'arc_challenge' has no data.*Benchmarks with data there: \['boolq'\]"):
        load(root)


GEN = BenchmarkSpec.from_mapping("gen_demo", {"satisfaction": {"metric": "bleu1", "kind": "graded"}, "alpha": 0.5})


def graded_frame(n: int = 12) -> pd.DataFrame:
    frame = synthetic_frame(n, benchmark="gen_demo", metric="bleu1")
    rng = np.random.default_rng(3)
    for cat in ("small", "medium", "large"):
        frame[f"label_{cat}"] = frame[f"bleu1_{cat}"] = np.round(rng.random(n), 4)
        frame[f"prompt_tokens_{cat}"] = 10
        frame[f"generated_tokens_{cat}"] = rng.integers(1, 30, n)
    return frame


def test_graded_benchmark_reads_scores_in_0_1(tmp_path):
    frame = graded_frame()
    data = load(write_capture(tmp_path, {"gen_demo": frame}), GEN)
    assert data.labels.dtype == np.float64
    np.testing.assert_allclose(data.labels[:, 0], frame["label_small"])
    np.testing.assert_array_equal(data.tokens[:, 2, 1], frame["generated_tokens_large"])
    assert (data.tokens[:, :, 0] == 10).all()


@pytest.mark.parametrize("bad", [1.2, -0.1])
def test_graded_benchmark_refuses_scores_outside_0_1_naming_file_and_row(tmp_path, bad):
    frame = graded_frame()
    frame.loc[4, "label_medium"] = bad
    root = write_capture(tmp_path, {"gen_demo": frame})
    with pytest.raises(CaptureError, match=r"gen_demo.csv: column 'label_medium' is not a score in \[0, 1\] in 1 row\(s\): "
                                           r"gen_demo.csv line 6 \(doc_id 4\)"):
        load(root, GEN)


def test_binary_benchmark_still_refuses_graded_scores(tmp_path):
    frame = synthetic_frame(10)
    frame.loc[2, "label_large"] = 0.5
    with pytest.raises(CaptureError, match=r"column 'label_large' is not 0 or 1 in 1 row\(s\): arc_challenge.csv line 4 \(doc_id 2\): 0.5\. "
                                           r"Labels of the binary benchmark 'arc_challenge' are 0 or 1"):
        load(write_capture(tmp_path, {"arc_challenge": frame}))


def test_binary_labels_stay_int8_and_captures_without_token_counts_have_none(tmp_path):
    data = load(write_capture(tmp_path, {"arc_challenge": synthetic_frame(10)}))
    assert data.labels.dtype == np.int8 and data.tokens is None


def test_threshold_turns_graded_scores_into_binary_labels(tmp_path):
    spec = BenchmarkSpec.from_mapping("gen_demo", {"satisfaction": {"metric": "bleu1", "kind": "binary", "threshold": 0.5}, "alpha": 0.5})
    frame = graded_frame()
    data = load(write_capture(tmp_path, {"gen_demo": frame}), spec)
    assert data.labels.dtype == np.int8
    np.testing.assert_array_equal(data.labels[:, 1], (frame["label_medium"] >= 0.5).astype(int))
