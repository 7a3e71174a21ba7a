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

from messplus_core.core.stream import CostKind
from messplus_core.data.capture_csv import CaptureData
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec, execute_run
from messplus_core.evaluate.store import RunStore

FLUSH_EVERY = 32  # records per durable append


class RunsFailed(ConfigError):
    """Some runs of the grid raised a ValueError (a setting or data problem); every other run finished and was stored."""


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


def run_grid(specs: Sequence[RunSpec], inputs: Inputs, store: RunStore, n_jobs: int,
             progress: bool = True) -> tuple[list[dict[str, Any]], int]:
    """Run every spec whose run_id is not in `store` yet. Returns (new records, number skipped).

    A run that fails does not stop the others: every finished run is stored,
    then RunsFailed (ValueError: a setting or data problem) names the failed
    runs and their errors; any other exception (a bug) is re-raised as is.
    """
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

    failed: list[tuple[RunSpec, BaseException]] = []
    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress or not todo)
    try:
        if n_jobs == 1 or len(todo) < 2:
            for spec in todo:
                try:
                    collect(spec, _execute(spec))
                except Exception as err:  # noqa: BLE001 - reported below, after the other runs
                    failed.append((spec, err))
                bar.update()
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker) as pool:
                futures = {pool.submit(_execute, spec): spec for spec in todo}
                for future in as_completed(futures):
                    try:
                        collect(futures[future], future.result())
                    except Exception as err:  # noqa: BLE001 - reported below, after the other runs
                        failed.append((futures[future], err))
                    bar.update()
    finally:
        bar.close()
        for benchmark, records in pending.items():
            store.append(benchmark, records)
        _INPUTS = None
    if failed:
        bugs = [err for _, err in failed if not isinstance(err, ValueError)]
        if bugs:
            raise bugs[0]
        listed = "; ".join(f"{s.benchmark} {s.label} alpha={s.alpha:g} seed={s.seed} ({s.split}): {err}" for s, err in failed[:5])
        raise RunsFailed(f"{len(failed)} of {len(todo)} runs failed: {listed}{' ...' if len(failed) > 5 else ''}. "
                         f"The {len(new)} finished runs are stored in {store.dir}; a rerun skips them.")
    return new, len(specs) - len(todo)
