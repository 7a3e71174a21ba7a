"""Tiny zoo x demo benchmark, end to end: the CSV the evaluate stage reads, checked against lm-eval itself."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from lm_eval import simple_evaluate

from messplus_core.capture.demo_data import read_demo
from messplus_core.capture.lm_eval_runner import task_manager
from messplus_core.capture.shards import done_path, shard_path
from messplus_core.capture.stage import run_capture
from messplus_core.data.capture_csv import load_capture
from messplus_core.errors import ConfigError
from messplus_core.specs import BenchmarkSpec

from helpers.capture import LIMIT, config, run_capture_cli, tiny_zoo
from helpers.config import REPO

CATS = ("small", "medium", "large")
DEMO = BenchmarkSpec(name="demo", task="demo", metric="acc", alpha=0.5, alpha_sweep=(0.5,))


@pytest.fixture(scope="module")
def frame(reference_capture: Path) -> pd.DataFrame:
    return pd.read_csv(reference_capture / "demo.csv")


def test_csv_has_the_evaluate_stage_columns_one_row_per_document(frame: pd.DataFrame) -> None:
    per_cat = [f"{k}_{c}" for c in CATS for k in ("label", "acc", "energy_consumption", "inference_time")]
    assert list(frame.columns) == ["doc_id", "input_text", "benchmark_name", *per_cat]
    assert frame["doc_id"].tolist() == list(range(LIMIT))
    assert set(frame["benchmark_name"]) == {"demo"}


def test_input_text_is_the_context_lm_eval_scored_without_choices(frame: pd.DataFrame) -> None:
    docs = read_demo()
    for _, row in frame.iterrows():
        doc = docs[int(row["doc_id"])]
        assert row["input_text"] == f"Question: {doc['question']}\nAnswer:"
        assert not any(choice in row["input_text"].split("\n")[1] for choice in doc["choices"])


def test_labels_equal_lm_evals_own_per_sample_acc(frame: pd.DataFrame, tiny_dir: Path) -> None:
    """A plain lm-eval run (its own batching, no windows, no shards) gives the same per-document acc."""
    for model in tiny_zoo().models:
        res = simple_evaluate(
            model="hf", model_args={"pretrained": model.model}, device="cpu", batch_size=16,
            tasks=["demo"], limit=LIMIT, task_manager=task_manager(False), bootstrap_iters=0, log_samples=True,
        )
        plain = {s["doc_id"]: s["acc"] for s in res["samples"]["demo"]}
        ours = dict(zip(frame["doc_id"], frame[f"label_{model.category}"]))
        assert ours == plain, model.category
        assert (frame[f"acc_{model.category}"] == frame[f"label_{model.category}"]).all()


def test_times_positive_energy_missing_and_the_manifest_says_why(frame: pd.DataFrame, reference_capture: Path) -> None:
    for c in CATS:
        assert (frame[f"inference_time_{c}"] > 0).all()
        assert frame[f"energy_consumption_{c}"].isna().all()  # no GPU, no RAPL here: NaN, never 0
    manifest = json.loads((reference_capture / "manifest.json").read_text())
    entry = manifest["benchmarks"]["demo"]
    assert manifest["zoo"] == "tiny" and entry["rows"] == LIMIT and entry["energy_measured"] is False
    for m in entry["models"]:
        assert m["energy_source"].startswith("not measured")
        assert m["lm_eval_version"] and m["task_version"] == 1.0 and m["model_revision"]
        assert m["hardware"]["device"] == "cpu" and m["identity"]["backend"] == "hf"
        assert m["started_at"] <= m["finished_at"]


def test_the_evaluate_stage_loader_accepts_the_capture(reference_capture: Path, frame: pd.DataFrame) -> None:
    data = load_capture(reference_capture, DEMO, tiny_zoo(), cost="time", drop_incomplete=False)
    assert data.n == LIMIT and data.categories == CATS
    assert data.labels.tolist() == frame[[f"label_{c}" for c in CATS]].astype(int).values.tolist()
    assert all(math.isfinite(t) and t > 0 for t in data.time.ravel())


def test_rerun_skips_complete_units_and_rewrites_the_same_csv(reference_capture: Path, tiny_dir: Path, frame: pd.DataFrame) -> None:
    proc = run_capture_cli(reference_capture, tiny_dir)
    assert proc.stdout.count("already complete") == len(CATS)
    pd.testing.assert_frame_equal(pd.read_csv(reference_capture / "demo.csv"), frame)


def test_one_unit_then_merge_only(tmp_path: Path, tiny_dir: Path, reference_capture: Path) -> None:
    """`unit=K` captures one (model, benchmark) pair; the merge waits for the others, then merge_only joins them."""
    out = tmp_path / "capture"
    lines: list[str] = []
    run_capture(config("model_zoo=tiny", "benchmark=demo", f"limit={LIMIT}", f"out_dir={out}", "unit=1"), REPO, say=lines.append)
    assert done_path(out, "demo", "medium").is_file() and not shard_path(out, "demo", "small").exists()
    assert "demo: not merged yet, waiting for unit(s) [0, 2]" in lines and not (out / "demo.csv").exists()
    with pytest.raises(ConfigError, match=r"unit 0 \(small\), unit 2 \(large\) not complete"):
        run_capture(config("model_zoo=tiny", "benchmark=demo", f"out_dir={out}", "merge_only=true"), REPO, say=lines.append)
    for cat in ("small", "large"):  # the other units, as another job would have written them
        for path in (shard_path, done_path):
            path(out, "demo", cat).write_bytes(path(reference_capture, "demo", cat).read_bytes())
    run_capture(config("model_zoo=tiny", "benchmark=demo", f"out_dir={out}", "merge_only=true"), REPO, say=lines.append)
    merged, reference = pd.read_csv(out / "demo.csv"), pd.read_csv(reference_capture / "demo.csv")
    assert merged.drop(columns="inference_time_medium").equals(reference.drop(columns="inference_time_medium"))
