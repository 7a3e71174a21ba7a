"""Runs a grid in parallel over the cores, with a progress bar, skipping finished runs."""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from .capture_data import CaptureData, CostKind
from .experiment import RunSpec, execute_run
from .run_store import RunStore

FLUSH_EVERY = 32  # records per durable append


@dataclass(frozen=True)
class Inputs:
    """Everything a run needs besides its spec; shared with forked workers, never pickled per task."""

    datasets: dict[str, CaptureData]
    features: dict[str, np.ndarray | None]
    router_params: dict[str, dict[str, Any]]
    cost: CostKind


_INPUTS: Inputs | None = None


def _init_worker() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread per process: the processes already fill the cores


def _execute(spec: RunSpec) -> dict[str, Any]:
    assert _INPUTS is not None
    return execute_run(spec, _INPUTS.datasets[spec.benchmark], _INPUTS.features[spec.benchmark],
                       _INPUTS.router_params[spec.router], _INPUTS.cost)


def run_grid(specs: Sequence[RunSpec], inputs: Inputs, store: RunStore, n_jobs: int = 0,
             progress: bool = True) -> tuple[list[dict[str, Any]], int]:
    """Run every spec whose run_id is not in `store` yet. Returns (new records, number skipped)."""
    global _INPUTS
    done = store.records()
    todo = [s for s in specs if s.run_id not in done]
    _INPUTS = inputs
    n_jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    new: list[dict[str, Any]] = []
    pending: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def collect(spec: RunSpec, record: dict[str, Any]) -> None:
        new.append(record)
        pending[spec.benchmark].append(record)
        if len(pending[spec.benchmark]) >= FLUSH_EVERY:
            store.append(spec.benchmark, pending.pop(spec.benchmark))

    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress or not todo)
    try:
        if n_jobs == 1 or len(todo) < 2:
            for spec in todo:
                collect(spec, _execute(spec))
                bar.update()
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker) as pool:
                futures = {pool.submit(_execute, spec): spec for spec in todo}
                for future in as_completed(futures):
                    collect(futures[future], future.result())
                    bar.update()
    finally:
        bar.close()
        for benchmark, records in pending.items():
            store.append(benchmark, records)
        _INPUTS = None
    return new, len(specs) - len(todo)
