"""Helpers for the tests that run against a real one-node Slurm (tests/integration/slurm/).

The cluster is the one of scripts/local_slurm.sh (state under
MESSPLUS_SLURM_DIR, default /tmp/messplus-slurm). `.ci/run` starts it before
the tests; on a developer machine the fixture starts it if it can (root) and
stops it again afterwards. If it cannot start, the tests skip with the reason,
except where MESSPLUS_REQUIRE_SLURM=1 (set by .ci/run): there they fail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from helpers.config import REPO

LOCAL_SLURM = REPO / "scripts" / "local_slurm.sh"
SLURM_DIR = Path(os.environ.get("MESSPLUS_SLURM_DIR", "/tmp/messplus-slurm"))
SLURM_CONF = SLURM_DIR / "etc" / "slurm.conf"

# Neutralise GPU requests on this GPU-less node the way a user would: sbatch's
# own variables, no edit of any script (see conf/slurm.yaml).
NO_GPU_ENV = {"SBATCH_GRES": "none", "SBATCH_GPUS": "0", "SBATCH_GPUS_PER_NODE": "0", "SBATCH_GPUS_PER_TASK": "0"}


def slurm_required() -> bool:
    return os.environ.get("MESSPLUS_REQUIRE_SLURM", "") not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if slurm_required():
        pytest.fail(f"Slurm is required here (MESSPLUS_REQUIRE_SLURM=1) but unavailable: {reason}")
    pytest.skip(f"no local Slurm: {reason} (run `sudo scripts/local_slurm.sh start` to enable these tests)")


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, MESSPLUS_SLURM_DIR=str(SLURM_DIR))
    return subprocess.run([str(LOCAL_SLURM), *args], capture_output=True, text=True, env=env, timeout=timeout)


def start_cluster() -> tuple[dict[str, str], bool]:
    """Make sure the local cluster is up; returns (environment for clients, whether we started it)."""
    if _run("status", timeout=60).returncode == 0:
        started = False
    elif os.geteuid() != 0:
        _unavailable(f"not running and starting it needs root (you are uid {os.geteuid()})")
    else:
        proc = _run("start")
        if proc.returncode != 0:
            _unavailable(f"`scripts/local_slurm.sh start` exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
        started = True
    env = dict(os.environ)
    env.update(
        SLURM_CONF=str(SLURM_CONF),
        WANDB_MODE="offline", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
        MESSPLUS_PYTHON=sys.executable,
        **NO_GPU_ENV,
    )
    # The first scheduling pass of a freshly started slurmctld comes ~3 s late;
    # wait until the node accepts work so that timings below are the pipeline's.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip()
        if out.startswith(("idle", "mix", "alloc")):
            break
        time.sleep(0.3)
    return env, started


@contextlib.contextmanager
def cluster_session() -> Iterator[dict[str, str]]:
    """The cluster's client environment, with SLURM_CONF exported to this process meanwhile.

    Starts the cluster if it is down, and stops it afterwards only if it was started here.
    """
    env, started = start_cluster()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    try:
        yield env
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        if started:
            stop_cluster()


def stop_cluster() -> None:
    """Stop the cluster these tests started, unless someone else's jobs are still in it.

    On a shared machine another session may be using the same cluster (same
    MESSPLUS_SLURM_DIR); stopping it would cancel that session's jobs.
    """
    env = dict(os.environ, SLURM_CONF=str(SLURM_CONF))
    queued = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True).stdout.strip()
    if queued:
        return
    _run("stop", timeout=120)


def submit(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run slurm/submit.sh with `--json`; fails the test with its output if it does not exit 0."""
    proc = subprocess.run([str(REPO / "slurm" / "submit.sh"), "--json", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"submit.sh {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def log_tail(log_dir: Path, n: int = 60) -> str:
    """The last lines of every Slurm log, for failure messages."""
    parts = []
    for p in sorted(Path(log_dir).glob("*.out")):
        lines = p.read_text(errors="replace").splitlines()
        parts.append(f"--- {p.name}\n" + "\n".join(lines[-n:]))
    return "\n".join(parts) or f"(no logs in {log_dir})"


def assert_same_results(slurm_csv: Path, local_csv: Path) -> int:
    """results.csv of a Slurm run and of a local run hold the same rows (any order); returns the row count."""
    import pandas as pd

    a, b = pd.read_csv(slurm_csv), pd.read_csv(local_csv)
    assert sorted(a.columns) == sorted(b.columns), (list(a.columns), list(b.columns))
    key = [c for c in ("benchmark", "router", "alpha", "V", "c", "seed", "feedback_rate") if c in a.columns]
    a = a[sorted(a.columns)].sort_values(key).reset_index(drop=True)
    b = b[sorted(b.columns)].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    return len(a)
