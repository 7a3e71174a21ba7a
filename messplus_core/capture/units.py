"""Capture units: the (model, benchmark) pairs, each loading its model once.

Units are numbered 0.. benchmark-major (benchmarks in config order, then the
zoo's models cheapest first). The numbering is the CLI contract that
`unit=K` and `print_units=true` expose to schedulers such as Slurm arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..zoo import BenchmarkSpec, ModelZoo, ZooModel


@dataclass(frozen=True)
class Unit:
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


def enumerate_units(zoo: ModelZoo, benchmarks: Iterable[BenchmarkSpec]) -> list[Unit]:
    units: list[Unit] = []
    for bench in benchmarks:
        for model in zoo.models:  # already cheapest first
            units.append(Unit(index=len(units), benchmark=bench, model=model))
    return units
