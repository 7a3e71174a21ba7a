"""The capture stage's settings, parsed from Hydra's config and checked without touching a model.

Paths: `out_dir` given on the command line is relative to the working
directory; relative model paths in a zoo config (the tiny zoo's) are
relative to the repository root, as is the default output folder
`outputs/capture/<zoo name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from messplus_core.errors import ConfigError, config_errors
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


def _int_or_none(cfg: Mapping[str, Any], key: str, minimum: int) -> int | None:
    value = cfg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum} (or null), got {value!r}.")
    return value


def parse_settings(cfg: Mapping[str, Any], repo_root: Path) -> CaptureSettings:
    """The capture settings; a ValueError/TypeError from reading a config value is raised as a ConfigError."""
    with config_errors():
        return _parse_settings(cfg, repo_root)


def _parse_settings(cfg: Mapping[str, Any], repo_root: Path) -> CaptureSettings:
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    benchmarks = tuple(benchmarks_from_mapping(cfg.get("benchmarks") or {}))
    units = tuple(enumerate_units(zoo, benchmarks))
    backend = str(cfg.get("backend", "hf"))
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}.")
    device = str(cfg.get("device", "auto"))
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {list(DEVICES)}, got {device!r}.")
    unit = _int_or_none(cfg, "unit", 0)
    if unit is not None and unit >= len(units):
        raise ConfigError(
            f"unit={unit} is out of range: model_zoo '{zoo.name}' x {len(benchmarks)} benchmark(s) has units "
            f"0..{len(units) - 1}; list them with print_units=true."
        )
    out = cfg.get("out_dir")
    out_dir = (Path(out).expanduser().resolve() if out else repo_root / "outputs" / "capture" / zoo.name)
    energy_cfg = cfg.get("energy") or {}
    generation = {k: v for k, v in dict(cfg.get("generation") or {}).items() if v is not None}
    if "max_gen_toks" in generation:
        generation["max_gen_toks"] = _int_or_none(generation, "max_gen_toks", 1)
    return CaptureSettings(
        zoo=zoo,
        benchmarks=benchmarks,
        units=units,
        backend=backend,
        device=device,
        limit=_int_or_none(cfg, "limit", 1),
        out_dir=out_dir,
        unit=unit,
        merge_only=bool(cfg.get("merge_only", False)),
        print_units=bool(cfg.get("print_units", False)),
        batch_size=_int_or_none(cfg, "batch_size", 1) or 1,
        fsync_every=_int_or_none(cfg, "fsync_every", 1) or 1,
        energy=EnergySettings(
            fallback=str(energy_cfg.get("fallback", "none")),
            watts=None if energy_cfg.get("watts") is None else float(energy_cfg["watts"]),
        ),
        repo_root=repo_root,
        generation=generation,
    )
