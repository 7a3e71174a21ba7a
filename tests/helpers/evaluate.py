"""Helpers shared by the evaluate-stage tests: synthetic captures, the real capture's location, Hydra composition.

Synthetic captures live in helpers/data.py, composition in helpers/config.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from helpers.config import REPO, compose

REAL_CAPTURE = Path(os.environ.get("MESSPLUS_REAL_CAPTURE", REPO.parent / "shared" / "data" / "llama3_zoo_capture"))
#: The two real benchmarks the integration tests replay, with their default alpha.
REAL_BENCHMARKS = {"arc_challenge": 0.5, "boolq": 0.8}


def require_real_capture() -> Path:
    if not REAL_CAPTURE.is_dir():
        pytest.skip(f"the authors' published capture is not at {REAL_CAPTURE} (set MESSPLUS_REAL_CAPTURE to its folder)")
    return REAL_CAPTURE


def config(*overrides: str) -> dict[str, Any]:
    """The evaluate stage's config as Hydra composes it from conf/, as a plain dict."""
    return compose("evaluate", *overrides)


def evaluate_real_twice(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, *overrides: str) -> list[dict[str, Any]]:
    """sweep=default on REAL_BENCHMARKS of the published capture, run twice into fresh folders (same seeds: equal results)."""
    from messplus_core.evaluate.pipeline import run_evaluation

    cfg = config(f"data_dir={require_real_capture()}", f"cache_dir={cache_dir}", "logger=none", "sweep=default", "n_jobs=2",
                 f"benchmark=[{','.join(REAL_BENCHMARKS)}]", *overrides)
    return [run_evaluation(cfg, tmp_path_factory.mktemp(name)) for name in ("first", "second")]


def default_mess_plus() -> dict[str, Any]:
    """The shipped default MESS+ preset's levers (conf/router/mess_plus.yaml), without the engine's prices."""
    return preset_levers("mess_plus")


def preset_levers(name: str) -> dict[str, Any]:
    """A MESS+ preset's levers (conf/router/<name>.yaml, the only place they live), without the engine's prices
    and the predictor wiring (`${oc.select:predictor,null}`, resolved only in a composed config)."""
    import yaml

    params = yaml.safe_load((REPO / "conf" / "router" / f"{name}.yaml").read_text())
    params.pop("predictor_energy_j")
    params.pop("predictor")
    return params
