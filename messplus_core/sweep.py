"""The evaluation grid: which (benchmark, router, alpha, V, c, seed) runs a config asks for.

`sweep.alphas` is `default` (each benchmark's SLA target) or `sweep` (its
alpha_sweep values); single values given at the top level (`alpha=`, `V=`,
`c=`, `seed=`) replace the corresponding axis. Everything is validated here,
before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .experiment import RunSpec, settings_hash
from .routers import check_router_names
from .zoo import BenchmarkSpec, ConfigError, ModelZoo, check_alpha


@dataclass(frozen=True)
class SweepAxes:
    alphas: str | list[float]  # "default", "sweep" or explicit values
    V: list[float]
    c: list[float]
    seeds: list[int]
    feedback_rate: float

    @classmethod
    def from_config(cls, sweep: dict[str, Any], alpha: float | None = None, V: float | None = None,
                    c: float | None = None, seed: int | None = None, feedback_rate: float = 1.0) -> "SweepAxes":
        alphas = [float(alpha)] if alpha is not None else sweep.get("alphas", "default")
        if isinstance(alphas, str) and alphas not in ("default", "sweep"):
            raise ConfigError(f"sweep.alphas must be 'default', 'sweep' or a list of values, got {alphas!r}.")
        axes = cls(
            alphas=alphas if isinstance(alphas, str) else [float(a) for a in alphas],
            V=[float(V)] if V is not None else [float(v) for v in sweep["V"]],
            c=[float(c)] if c is not None else [float(x) for x in sweep["c"]],
            seeds=[int(seed)] if seed is not None else [int(s) for s in sweep["seeds"]],
            feedback_rate=float(feedback_rate),
        )
        axes.validate()
        return axes

    def validate(self) -> None:
        if not isinstance(self.alphas, str):
            for a in self.alphas:
                check_alpha(a)
        for v in self.V:
            if not v > 0:
                raise ConfigError(f"V must be > 0 (it weighs cost against the SLA queue), got {v}.")
        for c in self.c:
            if not c > 0:
                raise ConfigError(f"c must be > 0 (exploration scale in p_t = min(1, c/t^(1/4))), got {c}.")
        if not 0 < self.feedback_rate <= 1:
            raise ConfigError(f"feedback_rate must lie in (0, 1], got {self.feedback_rate}.")
        if not self.seeds:
            raise ConfigError("no seeds: give sweep.seeds or seed=<int>.")

    def alphas_for(self, bench: BenchmarkSpec) -> list[float]:
        if self.alphas == "default":
            return [bench.alpha]
        if self.alphas == "sweep":
            return list(bench.alpha_sweep)
        return list(self.alphas)


def build_grid(benchmarks: Sequence[BenchmarkSpec], zoo: ModelZoo, routers: dict[str, dict[str, Any]],
               axes: SweepAxes, settings: dict[str, Any]) -> list[RunSpec]:
    """Every run the config asks for. MESS+ spans V x c; the baselines do not depend on them."""
    check_router_names(list(routers))
    grid: list[RunSpec] = []
    for bench in benchmarks:
        for alpha in axes.alphas_for(bench):
            for seed in axes.seeds:
                common = dict(benchmark=bench.name, alpha=alpha, seed=seed, feedback_rate=axes.feedback_rate)
                for name in routers:
                    digest = settings_hash({"router": routers[name], **(settings if name == "mess_plus" else {"cost": settings["cost"]})})
                    if name == "mess_plus":
                        grid += [RunSpec(router=name, V=v, c=c, config_hash=digest, **common) for v in axes.V for c in axes.c]
                    elif name == "single_model":
                        grid += [RunSpec(router=name, model=cat, config_hash=digest, **common) for cat in zoo.categories]
                    else:
                        grid.append(RunSpec(router=name, config_hash=digest, **common))
    return grid
