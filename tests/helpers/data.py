"""Synthetic captures of the three-model zoo (small, medium, large: the llama3 categories), as CSV folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES = ("small", "medium", "large")


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


def write_synthetic_capture(root: Path, benchmarks: dict[str, int], seed: int = 0) -> Path:
    """A small capture folder (`<root>/<benchmark>.csv`) for the llama3 categories, for evaluate-only runs."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    skill = {"small": 0.45, "medium": 0.7, "large": 0.9}
    joules = {"small": 40.0, "medium": 250.0, "large": 1200.0}
    for name, n in benchmarks.items():
        topic = rng.integers(0, 3, n)
        cols = {"doc_id": np.arange(n), "input_text": [f"{name} question {i} about topic {t}" for i, t in enumerate(topic)],
                "benchmark_name": name}
        for cat in skill:
            p = np.clip(skill[cat] + 0.15 * (topic - 1), 0.02, 0.98)
            label = (rng.random(n) < p).astype(int)
            cols[f"label_{cat}"] = label
            cols[f"acc_{cat}"] = label
            cols[f"acc_norm_{cat}"] = label
            cols[f"energy_consumption_{cat}"] = joules[cat] * rng.uniform(0.8, 1.2, n)
            cols[f"inference_time_{cat}"] = joules[cat] / 400 * rng.uniform(0.8, 1.2, n)
        pd.DataFrame(cols).to_csv(root / f"{name}.csv", index=False)
    return root
