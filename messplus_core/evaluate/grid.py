"""The evaluation grid: which (benchmark, router, alpha, V, c, seed) runs a config asks for.

`sweep.alphas` is `default` (each benchmark's SLA target) or `sweep` (its
alpha_sweep values); single values given at the top level (`alpha=`, `V=`,
`c=`, `seed=`) replace the corresponding axis. Selected scenarios add their
own streams; the train/test protocol (`split`) decides on which part of each
stream a router is scored. Everything is validated here, before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from messplus_core.data.scenarios import NO_SCENARIO, Scenario
from messplus_core.errors import ConfigError
from messplus_core.evaluate.experiment import RunSpec, settings_hash
from messplus_core.routers import check_router_names, registry
from messplus_core.specs import BenchmarkSpec, ModelZoo, check_alpha


def sweeping(axis: str) -> tuple[str, ...]:
    """The registered routers that span sweep axis `axis` (V, c: the MESS+ presets)."""
    return tuple(n for n in registry.names() if axis in registry.get(n).sweeps)


def _per_preset(axis: str, values: Any, override: Any) -> dict[str, list[float]]:
    """A sweep axis (V or c) per router that spans it (the MESS+ presets). The sweep gives `{router: [values]}`
    (the presets' V differ in units); a plain list applies to every such router; a top-level override (`V=`,
    `c=`: one value or a list) replaces every one's."""
    routers = sweeping(axis)
    if override is not None:
        return {name: sweep_values(axis, override, float) for name in routers}
    if isinstance(values, Mapping):
        unknown = sorted(set(values) - set(routers))
        if unknown:
            raise ConfigError(f"sweep.{axis} names {unknown}, which are not routers that sweep {axis}; use {list(routers)}.")
        return {name: [float(v) for v in vs] for name, vs in values.items()}
    return {name: [float(v) for v in values] for name in routers}


@dataclass(frozen=True)
class SweepAxes:
    """The sweep's axes after the command line's overrides: alphas, V and c per MESS+ preset, seeds, feedback rate."""

    alphas: str | list[float]  # "default", "sweep" or explicit values
    V: dict[str, list[float]]  # per MESS+ preset: the default's V counts requests, the paper's weighs raw cost
    c: dict[str, list[float]]
    seeds: list[int]
    feedback_rate: float

    @classmethod
    def from_config(cls, sweep: dict[str, Any], alpha: Any, V: Any, c: Any, seed: Any, feedback_rate: Any) -> "SweepAxes":
        """Axes from the sweep config; a top-level `alpha=`, `V=`, `c=` or `seed=` (one value or a list) replaces that axis.
        Raises ConfigError naming any of `alphas`, `V`, `c`, `seeds` the sweep lacks (conf/sweep/*.yaml set all four)."""
        missing = [k for k in ("alphas", "V", "c", "seeds") if k not in sweep]
        if missing:
            raise ConfigError(f"the sweep has no {missing}; a sweep config sets alphas, V, c and seeds "
                              "(see conf/sweep/default.yaml).")
        if alpha is not None:
            alphas: str | list[float] = sweep_values("alpha", alpha, float)
        else:
            alphas = sweep["alphas"]
            if isinstance(alphas, str) and alphas not in ("default", "sweep"):
                raise ConfigError(f"sweep.alphas must be 'default', 'sweep' or a list of values, got {alphas!r}.")
            if not isinstance(alphas, str):
                alphas = sweep_values("sweep.alphas", alphas, float)
        axes = cls(
            alphas=alphas,
            V=_per_preset("V", sweep["V"], V),
            c=_per_preset("c", sweep["c"], c),
            seeds=sweep_values("seed", seed if seed is not None else sweep["seeds"], int),
            feedback_rate=_single_value("feedback_rate", feedback_rate),
        )
        axes.validate()
        return axes

    def validate(self) -> None:
        """Raise ConfigError for an alpha outside (0, 1), V or c <= 0, a feedback rate outside (0, 1], no seeds."""
        if not isinstance(self.alphas, str):
            for a in self.alphas:
                check_alpha(a)
        for v in (v for vs in self.V.values() for v in vs):
            if not v > 0:
                raise ConfigError(f"V must be > 0 (it weighs cost against the SLA queue), got {v}.")
        for c in (c for cs in self.c.values() for c in cs):
            if not c > 0:
                raise ConfigError(f"c must be > 0 (exploration scale in p_t = min(1, c/t^(1/4))), got {c}.")
        if not 0 < self.feedback_rate <= 1:
            raise ConfigError(f"feedback_rate must lie in (0, 1], got {self.feedback_rate}.")
        if not self.seeds:
            raise ConfigError("no seeds: give sweep.seeds or seed=<int>.")

    def alphas_for(self, bench: BenchmarkSpec) -> list[float]:
        """The alphas run on `bench`: its own `alpha` (default), its `alpha_sweep` (sweep), or the given list."""
        if self.alphas == "default":
            return [bench.alpha]
        if self.alphas == "sweep":
            return list(bench.alpha_sweep)
        return list(self.alphas)


def sweep_values(name: str, value: Any, kind: type) -> list:
    """One value or a list of values of a sweep axis, as a list of `kind`; anything else is a ConfigError.

    `seed=42`, `seed=[42,43]` and `alpha=[0.7,0.8]` are all accepted (like `router=[..]`); `seed=abc` or
    `seed=4.5` is refused with how to write it.
    """
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        ok = not isinstance(v, bool) and isinstance(v, (int, float) if kind is float else int)
        if not ok and isinstance(v, str):
            try:
                v, ok = (float(v) if kind is float else int(v)), True
            except ValueError:
                ok = False
        if not ok:
            example = "42" if kind is int else "0.8"
            raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'} or a list of them "
                              f"(e.g. {name}={example} or '{name}=[{example},{example}]'), got {value!r}.")
        out.append(kind(v))
    if not out:
        raise ConfigError(f"{name}=[] gives no values; give one value or a non-empty list.")
    return list(dict.fromkeys(out))  # a repeated value would be the same runs twice


def _single_value(name: str, value: Any) -> float:
    if isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} takes one value, got {list(value)}; run one invocation per value "
                          f"(or a Hydra multirun: -m {name}={','.join(str(v) for v in value)}).")
    return sweep_values(name, value, float)[0]


@dataclass(frozen=True)
class SplitProtocol:
    """The train/test protocol: offline routers fit on the first `train_fraction` of each seed's stream, and
    every router is scored on the rest in the same order; routers that learn online (MESS+) also on the full
    stream (registry metadata `trains_offline`, `learns_online`).

    `enabled: auto` (conf/evaluate.yaml's) turns it on exactly when an offline router is selected.
    """

    enabled: bool
    train_fraction: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], routers: Sequence[str]) -> "SplitProtocol":
        """From the `split` config node (typed and range-checked by `schemas.SplitSchema`) and the selected router
        names. Raises ConfigError for offline routers selected with the protocol turned off."""
        offline = sorted(set(registry.names(trains_offline=True)) & set(routers))
        enabled = bool(offline) if cfg["enabled"] == "auto" else cfg["enabled"]
        fraction = float(cfg["train_fraction"])
        if offline and not enabled:
            raise ConfigError(f"{offline} train offline and run only under the train/test protocol; "
                              "set split.enabled=auto or true, or drop them from router=.")
        return cls(enabled, fraction)

    def splits(self, router: str) -> list[tuple[str, float | None]]:
        """(split, train_fraction) pairs a router runs on: under the protocol, the test part; the routers that learn
        online, and the bounds they are measured against, also on the full stream."""
        if not self.enabled:
            return [("full", None)]
        test = ("test", self.train_fraction)
        spec = registry.get(router)
        return [test, ("full", None)] if spec.learns_online or spec.bound else [test]

    @property
    def main_split(self) -> str:
        """The split every router is compared on."""
        return "test" if self.enabled else "full"


@dataclass(frozen=True)
class StreamPlan:
    """One stream of the grid: a benchmark of the main grid or of a scenario, or a scenario's concatenation."""

    scenario: str
    benchmark: str  # the data's key: a benchmark, or the scenario's name for a concatenated stream
    alphas: list[float]
    feedback_rate: float
    shuffle: bool = True
    identity: dict[str, Any] = field(default_factory=dict)  # scenario settings, hashed into its runs


def stream_plans(benchmarks: Sequence[BenchmarkSpec], axes: SweepAxes, scenarios: Sequence[Scenario] = ()) -> list[StreamPlan]:
    """The grid's streams: each benchmark of the main grid, then each scenario's (its concatenation, or every
    benchmark under its conditions). Raises ConfigError when a concatenated scenario is named like a benchmark."""
    plans = [StreamPlan(NO_SCENARIO, b.name, axes.alphas_for(b), axes.feedback_rate) for b in benchmarks]
    names = {b.name for b in benchmarks}
    for sc in scenarios:
        rate = axes.feedback_rate if sc.feedback_rate is None else sc.feedback_rate
        if sc.parts:
            if sc.name in names:
                raise ConfigError(f"scenario '{sc.name}' shares its name with a benchmark; its concatenated stream needs its own.")
            plans.append(StreamPlan(sc.name, sc.name, [sc.alpha], rate, sc.shuffle, sc.identity))
        else:
            plans += [StreamPlan(sc.name, b.name, [sc.alpha] if sc.alpha is not None else axes.alphas_for(b), rate,
                                 sc.shuffle, sc.identity) for b in benchmarks]
    return plans


def build_grid(benchmarks: Sequence[BenchmarkSpec], zoo: ModelZoo, routers: dict[str, dict[str, Any]],
               axes: SweepAxes, settings: dict[str, Any], split: SplitProtocol,
               scenarios: Sequence[Scenario] = ()) -> list[RunSpec]:
    """Every run the config asks for. A router that sweeps V and c (the MESS+ presets) spans its V x c, a per-model
    router runs once per zoo model, every other router once per stream, alpha and seed."""
    check_router_names(list(routers))
    grid: list[RunSpec] = []
    for stream in stream_plans(benchmarks, axes, scenarios):
        for alpha in stream.alphas:
            for seed in axes.seeds:
                common = dict(benchmark=stream.benchmark, alpha=alpha, seed=seed, feedback_rate=stream.feedback_rate,
                              scenario=stream.scenario, shuffle=stream.shuffle)
                for name in routers:
                    spec = registry.get(name)
                    digest = settings_hash({"router": routers[name],
                                            **(settings if spec.needs_features(routers[name]) else {"cost": settings["cost"]}),
                                            **({"scenario": stream.identity} if stream.identity else {})})
                    for part, fraction in split.splits(name):
                        run = dict(common, router=name, config_hash=digest, split=part, train_fraction=fraction)
                        if spec.sweeps:
                            grid += [RunSpec(V=v, c=c, **run) for v in axes.V[name] for c in axes.c[name]]
                        elif spec.per_model:
                            grid += [RunSpec(model=cat, **run) for cat in zoo.categories]
                        else:
                            grid.append(RunSpec(**run))
    return grid
