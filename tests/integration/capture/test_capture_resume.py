"""A capture killed with SIGKILL mid-way resumes: every document exactly once, labels as if uninterrupted."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pandas as pd
from helpers.capture import LIMIT, capture_cmd, capture_env, kill_mid_unit, run_capture_cli
from helpers.config import REPO

from messplus_core.capture.shards import done_path, read_shard, shard_path

CATS = ("small", "medium", "large")


def test_sigkill_mid_capture_then_rerun(tmp_path: Path, tiny_dir: Path, reference_capture: Path) -> None:
    out = tmp_path / "capture"
    proc = subprocess.Popen(
        capture_cmd(out, "fsync_every=1"), cwd=REPO, env=capture_env(tiny_dir, tmp_path),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # Kill once the last unit (large) is a quarter done: two units complete, one partial.
    kill_mid_unit(proc, out, "demo", "large", LIMIT // 4)
    assert proc.returncode == -signal.SIGKILL

    killed_at = read_shard(shard_path(out, "demo", "large"))
    assert 0 < len(killed_at.records) < LIMIT, "the kill must land mid-unit"
    assert not done_path(out, "demo", "large").exists() and not (out / "demo.csv").exists()

    rerun = run_capture_cli(out, tiny_dir, "fsync_every=1")
    assert rerun.stdout.count("already complete") == 2
    assert f"{LIMIT - len(killed_at.records)} docs measured, {len(killed_at.records)} reused" in rerun.stdout

    for cat in CATS:
        shard = shard_path(out, "demo", cat)
        assert shard.read_bytes().count(b"\n") == 1 + LIMIT  # header + each document exactly once
        assert sorted(read_shard(shard).records) == list(range(LIMIT))
    resumed = read_shard(shard_path(out, "demo", "large")).records
    for doc_id, rec in killed_at.records.items():  # kept from the first run, not recomputed
        assert resumed[doc_id] == rec

    merged = pd.read_csv(out / "demo.csv")
    reference = pd.read_csv(reference_capture / "demo.csv")
    assert merged["doc_id"].tolist() == list(range(LIMIT))
    for col in ["input_text", *(f"label_{c}" for c in CATS)]:
        assert merged[col].tolist() == reference[col].tolist(), col
