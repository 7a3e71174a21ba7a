"""Helpers of the capture tests: the tiny zoo config, and the capture CLI run in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers.config import REPO, compose, zoo
from messplus_core.capture.shards import shard_path
from messplus_core.specs import ModelZoo

RUN = REPO / "capture" / "run.py"
LIMIT = 40  # documents per capture in these tests: enough to see every path, fast on two cores


def tiny_zoo() -> ModelZoo:
    """conf/model_zoo/tiny.yaml as the capture sees it (after MESSPLUS_TINY_DIR is set)."""
    return zoo("tiny")


def config(*overrides: str) -> dict[str, Any]:
    """conf/capture.yaml composed with overrides, resolved, as capture/run.py hands it to run_capture."""
    return compose("capture", *overrides)


def capture_env(tiny: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MESSPLUS_TINY_DIR=str(tiny),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        WANDB_MODE="offline",
        HF_HOME=str(home / "hf_home"),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def capture_cmd(out_dir: Path, *overrides: str, benchmark: str = "demo") -> list[str]:
    return [sys.executable, str(RUN), "model_zoo=tiny", f"benchmark={benchmark}", f"limit={LIMIT}", f"out_dir={out_dir}", *overrides]


def run_capture_cli(out_dir: Path, tiny: Path, *overrides: str, benchmark: str = "demo") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        capture_cmd(out_dir, *overrides, benchmark=benchmark), cwd=REPO, env=capture_env(tiny, out_dir.parent),
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"capture failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def kill_mid_unit(proc: subprocess.Popen, out: Path, benchmark: str, category: str, records: int) -> None:
    """SIGKILL a running capture once `category`'s shard holds `records` documents (its header line aside)."""
    path = shard_path(out, benchmark, category)
    deadline = time.monotonic() + 300
    try:
        while (max(0, path.read_bytes().count(b"\n") - 1) if path.is_file() else 0) < records:
            assert proc.poll() is None, "capture ended before it could be killed"
            assert time.monotonic() < deadline, "capture made no progress"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
