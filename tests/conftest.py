"""The suite's shared fixtures (every stage's tests): synthetic and real captures, the embedding cache, the
local Slurm, the tiny zoo and reference captures. Helpers that are not fixtures live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from helpers.data import synthetic_frame, write_capture

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
    """A running one-node Slurm (tests/helpers/slurm.py): its client environment, SLURM_CONF exported meanwhile."""
    from helpers.slurm import cluster_session

    with cluster_session() as env:
        yield env


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny zoo built into a session temp folder; MESSPLUS_TINY_DIR points every run at it."""
    from helpers.capture import tiny_zoo
    from messplus_core.capture.tiny_zoo import TinySpec, ensure_built  # torch: only for the tests that use it

    folder = tmp_path_factory.mktemp("tiny_models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESSPLUS_TINY_DIR", str(folder))
        for model in tiny_zoo().models:
            ensure_built(Path(model.model), TinySpec(**model.build))
        yield folder


@pytest.fixture(scope="session")
def reference_capture(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted capture of tiny x demo (the first LIMIT documents)."""
    from helpers.capture import run_capture_cli

    out = tmp_path_factory.mktemp("reference") / "capture"
    run_capture_cli(out, tiny_dir)
    return out


@pytest.fixture(scope="session")
def gen_reference_capture(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted capture of tiny x gen_demo (the first LIMIT documents), with the CLI's default settings."""
    from helpers.capture import run_capture_cli

    out = tmp_path_factory.mktemp("gen_reference") / "capture"
    run_capture_cli(out, tiny_dir, "device=cpu", benchmark="gen_demo")
    return out


@pytest.fixture
def no_model_is_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fail the test if the capture stage would load or build a model (checks that must run before any load)."""
    from messplus_core.capture import backends, stage

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a model was loaded or built")

    monkeypatch.setattr(backends, "make_lm", refuse)
    monkeypatch.setattr(stage, "ensure_built", refuse)
    monkeypatch.setenv("MESSPLUS_TINY_DIR", str(tmp_path / "tiny"))
