"""Helpers shared by the evaluate-stage tests: synthetic captures, the real capture's location, Hydra composition.

A plain module (not conftest) so tests import it by a name no other test folder shadows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
REAL_CAPTURE = Path(os.environ.get("MESSPLUS_REAL_CAPTURE", REPO.parent / "shared" / "data" / "llama3_zoo_capture"))
CATEGORIES = ("small", "medium", "large")
#: The two real benchmarks the integration tests replay, with their default alpha.
REAL_BENCHMARKS = {"arc_challenge": 0.5, "boolq": 0.8}


def synthetic_frame(n: int = 120, seed: int = 0, benchmark: str = "arc_challenge", metric: str = "acc_norm") -> pd.DataFrame:
    """A capture whose labels depend on the text's topic, so a predictor has something to learn."""
    rng = np.random.default_rng(seed)
    topics = ["easy arithmetic", "hard physics", "trivia about rivers", "tricky logic puzzle"]
    skill = np.array([[0.9, 0.95, 0.99], [0.1, 0.4, 0.8], [0.5, 0.7, 0.9], [0.05, 0.2, 0.6]])
    topic = rng.integers(0, len(topics), n)
    cols: dict[str, object] = {
        "doc_id": np.arange(n),
        "input_text": [f"Question {i} on {topics[k]}: what is the answer?" for i, k in enumerate(topic)],
        "benchmark_name": benchmark,
    }
    for m, (cat, joules) in enumerate(zip(CATEGORIES, (50.0, 300.0, 1500.0))):
        label = (rng.random(n) < skill[topic, m]).astype(float)
        cols[f"label_{cat}"] = label
        cols[f"{metric}_{cat}"] = label
        cols[f"energy_consumption_{cat}"] = joules * rng.uniform(0.8, 1.2, n)
        cols[f"inference_time_{cat}"] = joules / 500 * rng.uniform(0.8, 1.2, n)
    return pd.DataFrame(cols)


def write_capture(root: Path, frames: dict[str, pd.DataFrame], shards: int = 1) -> Path:
    """Write `<root>/<benchmark>.csv` (shards == 1) or `<root>/<benchmark>/part_k.csv`."""
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if shards == 1:
            frame.to_csv(root / f"{name}.csv", index=False)
        else:
            (root / name).mkdir(exist_ok=True)
            for k, rows in enumerate(np.array_split(np.arange(len(frame)), shards)):
                frame.iloc[rows].to_csv(root / name / f"part_{k}.csv", index=False)
    return root


def require_real_capture() -> Path:
    if not REAL_CAPTURE.is_dir():
        pytest.skip(f"the authors' published capture is not at {REAL_CAPTURE} (set MESSPLUS_REAL_CAPTURE to its folder)")
    return REAL_CAPTURE


def config(*overrides: str) -> dict[str, Any]:
    """The evaluate stage's config as Hydra composes it from conf/, as a plain dict."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="evaluate", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def evaluate_real_twice(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, *overrides: str) -> list[dict[str, Any]]:
    """sweep=default on REAL_BENCHMARKS of the published capture, run twice into fresh folders (same seeds: equal results)."""
    from messplus_core.evaluate.pipeline import run_evaluation

    cfg = config(f"data_dir={require_real_capture()}", f"cache_dir={cache_dir}", "logger=none", "sweep=default", "n_jobs=2",
                 f"benchmark=[{','.join(REAL_BENCHMARKS)}]", *overrides)
    return [run_evaluation(cfg, tmp_path_factory.mktemp(name)) for name in ("first", "second")]


def default_mess_plus() -> dict[str, Any]:
    """The shipped default MESS+ preset's levers (conf/router/mess_plus.yaml), without the engine's prices."""
    import yaml

    params = yaml.safe_load((REPO / "conf" / "router" / "mess_plus.yaml").read_text())
    params.pop("predictor_energy_j")
    return params
