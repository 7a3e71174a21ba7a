"""Fixtures of the capture tests: the tiny zoo built once per session, and a reference capture, in temp folders."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from capture_support import run_capture_cli, tiny_zoo

from messplus_core.capture.tiny_zoo import TinySpec, ensure_built


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny zoo built into a session temp folder; MESSPLUS_TINY_DIR points every run at it."""
    folder = tmp_path_factory.mktemp("tiny_models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESSPLUS_TINY_DIR", str(folder))
        for model in tiny_zoo().models:
            ensure_built(Path(model.model), TinySpec(**model.build))
        yield folder


@pytest.fixture(scope="session")
def reference_capture(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted capture of tiny x demo (the first LIMIT documents)."""
    out = tmp_path_factory.mktemp("reference") / "capture"
    run_capture_cli(out, tiny_dir)
    return out


@pytest.fixture(scope="session")
def gen_reference_capture(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted capture of tiny x gen_demo (the first LIMIT documents), with the CLI's default settings."""
    out = tmp_path_factory.mktemp("gen_reference") / "capture"
    run_capture_cli(out, tiny_dir, "device=cpu", benchmark="gen_demo")
    return out
