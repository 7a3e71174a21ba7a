"""Model zoos and benchmark specs as plain, validated dataclasses.

Both stages read the same `conf/model_zoo/*.yaml` and `conf/benchmark/*.yaml`;
this module turns those mappings into typed objects and rejects bad ones
before any data is read or any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from messplus_core.core.satisfaction import Satisfaction
from messplus_core.errors import ConfigError


@dataclass(frozen=True)
class ZooModel:
    """One model of a zoo: its category name, model reference (hub id or folder), cost rank and backend args."""

    category: str
    model: str
    cost_rank: int
    backend_args: Mapping[str, Any] = field(default_factory=dict)
    # Recipe for a model the project builds itself (the tiny zoo); empty for hub models.
    build: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gpus(self) -> tuple[int, ...]:
        """GPU indices the model runs on (`backend_args.gpus`), as seen after CUDA_VISIBLE_DEVICES."""
        return tuple(int(g) for g in self.backend_args.get("gpus") or ())


@dataclass(frozen=True)
class ModelZoo:
    """Models of a zoo, ordered cheapest first (ascending `cost_rank`)."""

    name: str
    models: tuple[ZooModel, ...]

    @property
    def categories(self) -> list[str]:
        """Category names, cheapest first: the order of every (N, M) array's columns."""
        return [m.category for m in self.models]

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> "ModelZoo":
        """From a `conf/model_zoo/*.yaml` mapping, sorted by cost_rank. Raises ConfigError for no models, an entry
        without category, model or cost_rank, GPU indices that are not non-negative ints, repeated categories or
        repeated cost ranks."""
        name = str(cfg.get("name", "?"))
        raw = cfg.get("models")
        if not raw:
            raise ConfigError(f"model_zoo '{name}': no models; list them under `models:`.")
        models = []
        for i, entry in enumerate(raw):
            for key in ("category", "model", "cost_rank"):
                if key not in entry or entry[key] is None:
                    raise ConfigError(f"model_zoo '{name}': model #{i} lacks `{key}`; every entry needs category, model and cost_rank.")
            models.append(
                ZooModel(
                    category=str(entry["category"]),
                    model=str(entry["model"]),
                    cost_rank=int(entry["cost_rank"]),
                    backend_args=dict(entry.get("backend_args") or {}),
                    build=dict(entry.get("build") or {}),
                )
            )
            gpus = models[-1].backend_args.get("gpus") or []
            if not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in gpus):
                raise ConfigError(f"model_zoo '{name}': model #{i} has backend_args.gpus {list(gpus)}; give a list of GPU indices like [0] or [0, 1].")
        cats = [m.category for m in models]
        dupes = sorted({c for c in cats if cats.count(c) > 1})
        if dupes:
            raise ConfigError(f"model_zoo '{name}': categories must be unique, repeated: {dupes}.")
        ranks = [m.cost_rank for m in models]
        if len(set(ranks)) != len(ranks):
            raise ConfigError(f"model_zoo '{name}': cost_rank values must be distinct (got {ranks}); they declare the cost order.")
        return cls(name=name, models=tuple(sorted(models, key=lambda m: m.cost_rank)))

    def check_gpus(self, available: int, models: Iterable[ZooModel] | None = None) -> None:
        """Raise unless every GPU index the models (default: all) declare is below `available` (visible devices)."""
        wanted = sorted({g for m in (self.models if models is None else models) for g in m.gpus})
        missing = [g for g in wanted if g >= available]
        if missing:
            have = f"GPUs 0..{available - 1}" if available else "no GPU"
            raise ConfigError(
                f"model_zoo '{self.name}' places models on GPU index(es) {missing}, but this machine has {have} "
                "visible (CUDA_VISIBLE_DEVICES applies). Edit backend_args.gpus, run on a machine with those GPUs, "
                "or use device=cpu."
            )


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark: its lm-eval task, its satisfaction (`metric` names the score; see core/satisfaction.py), SLA targets."""

    name: str
    task: str
    metric: str
    alpha: float
    alpha_sweep: tuple[float, ...]
    kind: str = "binary"  # binary: labels in {0, 1}; graded: scores in [0, 1]
    threshold: float | None = None  # binary from a graded score: label = 1[score >= threshold]

    @property
    def satisfaction(self) -> Satisfaction:
        """The benchmark's satisfaction rule (metric, binary or graded, threshold)."""
        return Satisfaction(self.metric, self.kind, self.threshold)

    @classmethod
    def from_mapping(cls, name: str, cfg: Mapping[str, Any]) -> "BenchmarkSpec":
        """From a `conf/benchmark/*.yaml` mapping (task defaults to `name`). Raises ConfigError for a bad
        satisfaction block and any alpha outside (0, 1); KeyError without `alpha`."""
        sat = Satisfaction.from_mapping(f"benchmark '{name}'", cfg.get("satisfaction"),
                                        None if cfg.get("metric") is None else str(cfg["metric"]))
        alpha = float(cfg["alpha"])
        sweep = tuple(float(a) for a in (cfg.get("alpha_sweep") or [alpha]))
        for a in (alpha, *sweep):
            check_alpha(a, where=f"benchmark '{name}'")
        return cls(name=name, task=str(cfg.get("task", name)), metric=sat.metric, alpha=alpha, alpha_sweep=sweep,
                   kind=sat.kind, threshold=sat.threshold)


def check_alpha(alpha: float, where: str = "alpha") -> None:
    """ConfigError, prefixed with `where`, unless 0 < alpha < 1 (alpha: the SLA's target mean satisfaction)."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"{where}: alpha must lie in (0, 1), got {alpha}.")


def benchmarks_from_mapping(cfg: Mapping[str, Mapping[str, Any]]) -> list[BenchmarkSpec]:
    """Benchmarks selected in Hydra's `benchmarks` node, in config order."""
    if not cfg:
        raise ConfigError("no benchmark selected: pass benchmark=<name>, benchmark=[a,b] or benchmark=all.")
    return [BenchmarkSpec.from_mapping(name, spec) for name, spec in cfg.items()]

