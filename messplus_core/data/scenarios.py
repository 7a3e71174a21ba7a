"""The paper's scenarios (`conf/scenario/*.yaml`): streams run beside the main grid, reported in their own sections.

A scenario either concatenates benchmarks into one stream (`parts`, e.g. the
non-stationary stream arc_challenge -> piqa -> winogrande, unshuffled, at its
own alpha) or replays each selected benchmark under changed conditions (e.g.
feedback on 20% of requests). Its runs carry the scenario's name, so one
output folder holds the main grid and every scenario side by side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from messplus_core.data.capture_csv import CaptureData, LoadReport
from messplus_core.errors import ConfigError
from messplus_core.specs import BenchmarkSpec, check_alpha

NO_SCENARIO = "none"


@dataclass(frozen=True)
class Scenario:
    """One scenario: a concatenated stream (`parts`) or the selected benchmarks replayed under changed conditions."""

    name: str
    parts: tuple[BenchmarkSpec, ...]  # concatenated into one stream named after the scenario; empty: each selected benchmark
    alpha: float | None  # None: each benchmark's alphas, as in the main grid
    shuffle: bool
    feedback_rate: float | None  # None: the top-level feedback_rate

    @classmethod
    def from_mapping(cls, name: str, cfg: Mapping[str, Any], selected: Sequence[BenchmarkSpec] = ()) -> "Scenario":
        """`parts`: benchmark configs (the YAML's defaults list); `sequence`, when given, replaces them by names
        of selected benchmarks (`benchmark=`), so a stream can be made of any data, e.g. a zoo of one's own."""
        sequence = cfg.get("sequence")
        if sequence:
            by_name = {b.name: b for b in selected}
            missing = [n for n in sequence if n not in by_name]
            if missing:
                raise ConfigError(f"scenario '{name}': sequence names {missing}, which are not selected benchmarks "
                                  f"({sorted(by_name)}); add them to benchmark=[...] or change scenarios.{name}.sequence.")
            parts = tuple(by_name[n] for n in sequence)
        else:
            parts = tuple(BenchmarkSpec.from_mapping(b, spec) for b, spec in (cfg.get("parts") or {}).items())
        alpha = cfg.get("alpha")
        if alpha is not None:
            check_alpha(float(alpha), where=f"scenario '{name}'")
        if parts and alpha is None:
            raise ConfigError(f"scenario '{name}': a concatenated stream needs its own alpha (scenarios.{name}.alpha).")
        rate = cfg.get("feedback_rate")
        if rate is not None and not 0 < float(rate) <= 1:
            raise ConfigError(f"scenario '{name}': feedback_rate must lie in (0, 1], got {rate}.")
        return cls(name=name, parts=parts, alpha=None if alpha is None else float(alpha),
                   shuffle=bool(cfg.get("shuffle", True)), feedback_rate=None if rate is None else float(rate))

    @property
    def identity(self) -> dict[str, Any]:
        """What makes this scenario's streams what they are (hashed into its runs' config)."""
        return {"parts": [p.name for p in self.parts], "shuffle": self.shuffle}

    def describe(self) -> str:
        """One line for the report, e.g. "arc_challenge → piqa, in capture order, not shuffled, α=0.7"."""
        bits = [" → ".join(p.name for p in self.parts) if self.parts else "each selected benchmark"]
        bits.append("in capture order, not shuffled" if not self.shuffle else "shuffled per seed")
        if self.alpha is not None:
            bits.append(f"α={self.alpha:g}")
        if self.feedback_rate is not None:
            bits.append(f"feedback on {self.feedback_rate:.0%} of requests")
        return ", ".join(bits)


def scenarios_from_mapping(cfg: Mapping[str, Mapping[str, Any]] | None, selected: Sequence[BenchmarkSpec] = ()) -> list[Scenario]:
    """Scenarios selected in Hydra's `scenarios` node, in config order (none selected: empty)."""
    scenarios = [Scenario.from_mapping(name, spec or {}, selected) for name, spec in (cfg or {}).items()]
    for s in scenarios:
        if s.name == NO_SCENARIO:
            raise ConfigError(f"'{NO_SCENARIO}' names the main grid; give the scenario another name.")
    return scenarios


def concatenate(name: str, parts: Sequence[CaptureData]) -> CaptureData:
    """One capture made of `parts` in order (doc_ids stay those of their own benchmark)."""
    reports = [p.report for p in parts]
    return CaptureData(
        benchmark=name,
        categories=parts[0].categories,
        doc_ids=np.concatenate([p.doc_ids for p in parts]),
        texts=tuple(t for p in parts for t in p.texts),
        labels=np.concatenate([p.labels for p in parts]),
        energy=np.concatenate([p.energy for p in parts]),
        time=np.concatenate([p.time for p in parts]),
        report=LoadReport(
            files=tuple(f for r in reports for f in r.files),
            rows=sum(r.rows for r in reports),
            unique_docs=sum(r.unique_docs for r in reports),
            merged_rows=sum(r.merged_rows for r in reports),
            docs_with_repeats=sum(r.docs_with_repeats for r in reports),
            missing_energy=any(r.missing_energy for r in reports),
            missing_time=any(r.missing_time for r in reports),
            dropped_rows=sum(r.dropped_rows for r in reports),
        ),
        digest=hashlib.sha256(json.dumps([name] + [p.digest for p in parts]).encode()).hexdigest(),
    )
