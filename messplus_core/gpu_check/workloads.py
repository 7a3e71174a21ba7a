"""The demo benchmark's lm-eval requests, scored per document or batched, with or without windows.

These replay what the capture stage does inside `PerDocumentLM._measure`
(one `loglikelihood` call per document, inside an `EnergyMeter` window)
next to the same calls without a window and to one batched call, so the
cost of measuring can be told apart from the cost of scoring.
"""

from __future__ import annotations

import statistics
import time
from itertools import cycle, islice
from typing import TYPE_CHECKING, Callable, Sequence

from ..capture.energy import EnergyMeter, Reading

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance
    from lm_eval.api.model import LM


def demo_requests(limit: int | None = None) -> list[list["Instance"]]:
    """The demo task's loglikelihood requests grouped by document (4 answer choices each), doc_id order."""
    from ..capture.lm_eval_runner import task_manager

    task = task_manager(False).load(["demo"])["tasks"]["demo"]
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    by_doc: dict[int, list[Instance]] = {}
    for inst in task.instances:
        by_doc.setdefault(int(inst.doc_id), []).append(inst)
    return [by_doc[d] for d in sorted(by_doc)]


def documents(groups: Sequence[list["Instance"]], n: int) -> list[list["Instance"]]:
    """`n` documents from `groups`, in order, starting over when `n` exceeds them."""
    return list(islice(cycle(groups), n))


def per_document(lm: "LM", docs: Sequence[list["Instance"]], meter: EnergyMeter | None) -> tuple[float, list[Reading]]:
    """Score each document in its own call; inside a meter window when `meter` is given.

    Returns the wall time of the whole loop (s) and, with a meter, one
    Reading per document (else an empty list).
    """
    readings: list[Reading] = []
    start = time.perf_counter()
    for group in docs:
        if meter is None:
            lm.loglikelihood(group, disable_tqdm=True)
        else:
            opened = meter.begin()
            lm.loglikelihood(group, disable_tqdm=True)
            readings.append(meter.end(opened))
    return time.perf_counter() - start, readings


def batched(lm: "LM", docs: Sequence[list["Instance"]]) -> float:
    """Score every request of `docs` in one call (the model's own batching); wall time (s)."""
    flat = [inst for group in docs for inst in group]
    start = time.perf_counter()
    lm.loglikelihood(flat, disable_tqdm=True)
    return time.perf_counter() - start


def interleaved_medians(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run each timed callable `rounds` times, alternating between them; the median time of each (s).

    Alternating spreads slow phases of a shared machine over every variant
    instead of charging them to whichever ran during them.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}
