"""Tiny zoo x gen_demo: the generation path, with graded BLEU-1 per request, token counts and texts; kill and resume."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from messplus_core.capture.gen_demo_data import read_gen_demo
from messplus_core.capture.shards import done_path, read_shard, shard_path
from messplus_core.core.satisfaction import bleu1
from messplus_core.data.capture_csv import load_capture
from messplus_core.specs import BenchmarkSpec

from helpers.capture import LIMIT, capture_cmd, capture_env, kill_mid_unit, run_capture_cli, tiny_zoo
from helpers.config import REPO

CATS = ("small", "medium", "large")
GEN = BenchmarkSpec.from_mapping("gen_demo", {"task": "gen_demo", "satisfaction": {"metric": "bleu1", "kind": "graded"}, "alpha": 0.5})


@pytest.fixture(scope="module")
def frame(gen_reference_capture: Path) -> pd.DataFrame:
    return pd.read_csv(gen_reference_capture / "gen_demo.csv", keep_default_na=False, na_values={
        f"energy_consumption_{c}": [""] for c in CATS})


def test_csv_holds_graded_scores_token_counts_times_and_texts(frame: pd.DataFrame) -> None:
    per_cat = [f"{k}_{c}" for c in CATS for k in ("label", "bleu1", "energy_consumption", "inference_time", "prompt_tokens",
                                                  "generated_tokens", "generated_text")]
    assert list(frame.columns) == ["doc_id", "input_text", "benchmark_name", *per_cat]
    assert frame["doc_id"].tolist() == list(range(LIMIT))
    docs = read_gen_demo()
    for c in CATS:
        assert frame[f"label_{c}"].between(0, 1).all() and (frame[f"label_{c}"] == frame[f"bleu1_{c}"]).all()
        assert (frame[f"inference_time_{c}"] > 0).all() and frame[f"energy_consumption_{c}"].isna().all()
        assert (frame[f"prompt_tokens_{c}"] > 0).all() and (frame[f"generated_tokens_{c}"] >= 0).all()
        for _, row in frame.iterrows():  # the label is sentence BLEU-1 of the stored text against the reference
            doc = docs[int(row["doc_id"])]
            assert row["input_text"] == f"English: {doc['source']}\nFrench:"
            assert row[f"label_{c}"] == pytest.approx(bleu1(row[f"generated_text_{c}"], " " + doc["target"]))
            assert "\n" not in row[f"generated_text_{c}"]  # cut at the task's stop sequence


def test_scores_differ_by_model_size(frame: pd.DataFrame) -> None:
    means = [frame[f"label_{c}"].mean() for c in CATS]
    assert means[0] < means[2] - 0.1, means
    assert len(set(frame["label_large"].round(3))) > 3  # graded, not 0/1


def test_manifest_and_loader(gen_reference_capture: Path, frame: pd.DataFrame) -> None:
    entry = json.loads((gen_reference_capture / "manifest.json").read_text())["benchmarks"]["gen_demo"]
    assert entry["satisfaction"] == {"metric": "bleu1", "kind": "graded", "threshold": None}
    assert all(m["generation"] == {"do_sample": False, "temperature": 0.0} for m in entry["models"])
    data = load_capture(gen_reference_capture, GEN, tiny_zoo(), cost="time", drop_incomplete=False)
    assert data.labels.dtype.kind == "f" and data.tokens is not None
    assert data.tokens[:, 2, 1].tolist() == frame["generated_tokens_large"].tolist()


def test_sigkill_mid_generation_then_rerun(tmp_path: Path, tiny_dir: Path, gen_reference_capture: Path) -> None:
    out = tmp_path / "capture"
    proc = subprocess.Popen(capture_cmd(out, "device=cpu", "fsync_every=1", benchmark="gen_demo"), cwd=REPO,
                            env=capture_env(tiny_dir, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_mid_unit(proc, out, "gen_demo", "large", LIMIT // 4)
    killed_at = read_shard(shard_path(out, "gen_demo", "large"))
    assert 0 < len(killed_at.records) < LIMIT and not done_path(out, "gen_demo", "large").exists()

    rerun = run_capture_cli(out, tiny_dir, "device=cpu", "fsync_every=1", benchmark="gen_demo")
    assert rerun.stdout.count("already complete") == 2
    assert f"{LIMIT - len(killed_at.records)} docs measured, {len(killed_at.records)} reused" in rerun.stdout
    resumed = read_shard(shard_path(out, "gen_demo", "large")).records
    assert sorted(resumed) == list(range(LIMIT))
    for doc_id, rec in killed_at.records.items():  # kept from the first run, not decoded again
        assert resumed[doc_id] == rec
    merged = pd.read_csv(out / "gen_demo.csv", keep_default_na=False)
    reference = pd.read_csv(gen_reference_capture / "gen_demo.csv", keep_default_na=False)
    for col in ["input_text", *(f"{k}_{c}" for c in CATS for k in ("label", "generated_text", "generated_tokens"))]:
        assert merged[col].tolist() == reference[col].tolist(), col


def test_other_generation_settings_never_reuse_a_finished_capture(tmp_path: Path, tiny_dir: Path, gen_reference_capture: Path) -> None:
    out = tmp_path / "capture"
    shutil.copytree(gen_reference_capture, out)
    proc = subprocess.run(capture_cmd(out, "device=cpu", "generation.max_gen_toks=4", benchmark="gen_demo"), cwd=REPO,
                          env=capture_env(tiny_dir, tmp_path), capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert "doc_id 0 was captured from a different request" in output and "Traceback" not in output
