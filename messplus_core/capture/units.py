"""Capture units: the (model, benchmark) pairs, each loading its model once.

Units are numbered 0.. benchmark-major (benchmarks in config order, then the
zoo's models cheapest first). The numbering is the CLI contract that
`unit=K` and `print_units=true` expose to schedulers such as Slurm arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

from messplus_core.specs import BenchmarkSpec, ModelZoo, ZooModel


B = TypeVar("B")


@dataclass(frozen=True)
class CaptureUnit:
    """One capture unit: a benchmark on one zoo model, numbered `index` (the `unit=K` of the CLI)."""

    index: int
    benchmark: BenchmarkSpec
    model: ZooModel

    def describe(self) -> dict[str, Any]:
        """The JSON object `print_units=true` prints for this unit."""
        return {
            "unit": self.index,
            "benchmark": self.benchmark.name,
            "category": self.model.category,
            "model": self.model.model,
            "gpus": list(self.model.gpus),
        }


def unit_order(zoo: ModelZoo, benchmarks: Sequence[B]) -> list[tuple[int, B, ZooModel]]:
    """The unit numbering, the one place it is defined: (index, benchmark, model), benchmark-major in the order
    given, then the zoo's models cheapest first. `benchmarks` may be specs (the capture stage) or names (Slurm
    planning, `slurm/plan.py`)."""
    return [(i * len(zoo.models) + j, bench, model)
            for i, bench in enumerate(benchmarks) for j, model in enumerate(zoo.models)]  # zoo.models: cheapest first


def enumerate_units(zoo: ModelZoo, benchmarks: Sequence[BenchmarkSpec]) -> list[CaptureUnit]:
    """The capture stage's units, numbered by `unit_order`."""
    return [CaptureUnit(index=i, benchmark=bench, model=model) for i, bench, model in unit_order(zoo, benchmarks)]
