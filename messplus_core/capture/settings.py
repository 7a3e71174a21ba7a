"""The capture stage's settings, parsed from Hydra's config and checked without touching a model.

Every key comes from `conf/capture.yaml` (typed by `schemas.CaptureSchema`; no default is written here).
Paths: `out_dir` is relative to the working directory (its default, `${paths.capture}/<zoo name>`, is
absolute); relative model paths in a zoo config (the tiny zoo's) are relative to the repository root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from messplus_core.errors import ConfigError, config_errors
from messplus_core.schemas import validate_stage
from messplus_core.specs import BenchmarkSpec, ModelZoo, benchmarks_from_mapping
from .backends import BACKENDS, DEVICES
from .energy import EnergySettings
from .units import CaptureUnit, enumerate_units


@dataclass(frozen=True)
class CaptureSettings:
    """The capture stage's validated config (`parse_settings`): zoo, benchmarks, their units and run options."""

    zoo: ModelZoo
    benchmarks: tuple[BenchmarkSpec, ...]
    units: tuple[CaptureUnit, ...]
    backend: str
    device: str  # auto | cpu | cuda, as asked; resolved when a unit runs
    limit: int | None
    out_dir: Path
    unit: int | None
    merge_only: bool
    print_units: bool
    batch_size: int
    fsync_every: int
    energy: EnergySettings
    repo_root: Path
    generation: dict[str, Any] = field(default_factory=dict)  # lm-eval gen_kwargs for generate_until tasks

    @property
    def selected(self) -> tuple[CaptureUnit, ...]:
        """The units this invocation works on: one with `unit=K`, else all."""
        return self.units if self.unit is None else (self.units[self.unit],)

    def model_path(self, model_ref: str) -> str:
        """A zoo model reference as a loadable path or hub id (relative local paths against the repo root)."""
        p = Path(model_ref).expanduser()
        if p.is_absolute():
            return str(p)
        local = self.repo_root / p
        return str(local) if local.exists() or looks_like_path(model_ref) else model_ref


def looks_like_path(ref: str) -> bool:
    """A hub id is `name` or `org/name`; anything else with a slash, or starting with `.`/`~`, is a path."""
    return ref.startswith((".", "~", "/")) or ref.count("/") > 1


def parse_settings(cfg: Mapping[str, Any], repo_root: Path) -> CaptureSettings:
    """The capture settings; a ValueError/TypeError from reading a config value is raised as a ConfigError."""
    with config_errors():
        return _parse_settings(cfg, repo_root)


def _parse_settings(cfg: Mapping[str, Any], repo_root: Path) -> CaptureSettings:
    validate_stage("capture", cfg)
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    benchmarks = tuple(benchmarks_from_mapping(cfg.get("benchmarks") or {}))
    units = tuple(enumerate_units(zoo, benchmarks))
    backend = cfg["backend"]
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}.")
    device = cfg["device"]
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {list(DEVICES)}, got {device!r}.")
    unit = cfg["unit"]
    if unit is not None and unit >= len(units):
        raise ConfigError(
            f"unit={unit} is out of range: model_zoo '{zoo.name}' x {len(benchmarks)} benchmark(s) has units "
            f"0..{len(units) - 1}; list them with print_units=true."
        )
    energy_cfg = cfg["energy"]
    generation = {k: v for k, v in cfg["generation"].items() if v is not None}
    return CaptureSettings(
        zoo=zoo,
        benchmarks=benchmarks,
        units=units,
        backend=backend,
        device=device,
        limit=cfg["limit"],
        out_dir=Path(cfg["out_dir"]).expanduser().resolve(),
        unit=unit,
        merge_only=cfg["merge_only"],
        print_units=cfg["print_units"],
        batch_size=cfg["batch_size"],
        fsync_every=cfg["fsync_every"],
        energy=EnergySettings(fallback=energy_cfg["fallback"], watts=energy_cfg["watts"]),
        repo_root=repo_root,
        generation=generation,
    )
