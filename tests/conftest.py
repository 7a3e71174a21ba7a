"""Fixtures of the evaluate-stage tests; helpers live in evaluate_support.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from evaluate_support import synthetic_frame, write_capture

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def synthetic_capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "capture", {"arc_challenge": synthetic_frame(), "boolq": synthetic_frame(150, 1, "boolq", "acc")})


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache per test session: each real benchmark is encoded once, not once per test module."""
    return tmp_path_factory.mktemp("embedding_cache")


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """A running one-node Slurm (tests/slurm_support.py): its client environment, SLURM_CONF exported meanwhile."""
    import slurm_support

    with slurm_support.cluster_session() as env:
        yield env
