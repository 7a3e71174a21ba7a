"""The evaluate stage as a library call: config mapping in, results folder out.

Order matters: every config value and every data file is validated before
any embedding or replay runs, so a typo costs seconds, not a sweep.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .capture_data import CaptureData, CaptureError, available_benchmarks, load_capture
from .embeddings import cached_embeddings
from .experiment import RunSpec, static_optimum_row
from .plots import write_plots
from .predictors import PREDICTORS
from .report import Column, TableSetting, results_frame, summary_markdown
from .routers import MESS_PLUS_ROUTERS, needs_features
from .run_store import RunStore
from .runner import Inputs, run_grid
from .scenarios import NO_SCENARIO, Scenario, concatenate, scenarios_from_mapping
from .sweep import SplitProtocol, SweepAxes, build_grid, stream_plans
from .wandb_log import WandbLogger
from .zoo import BenchmarkSpec, ConfigError, ModelZoo, benchmarks_from_mapping

log = logging.getLogger("messplus.evaluate")


@dataclass(frozen=True)
class Plan:
    zoo: ModelZoo
    benchmarks: list[BenchmarkSpec]
    routers: dict[str, dict[str, Any]]
    axes: SweepAxes
    specs: list[RunSpec]
    cost: str
    data_dir: Path
    split: SplitProtocol
    scenarios: list[Scenario]


def plan(cfg: dict[str, Any]) -> Plan:
    """Validate the config and expand the grid (no data read yet)."""
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    benchmarks = benchmarks_from_mapping(cfg.get("benchmarks") or {})
    cost = cfg.get("cost", "energy")
    if cost not in ("energy", "time"):
        raise ConfigError(f"cost must be energy or time, got {cost!r}.")
    routers = dict(cfg.get("routers") or {})
    if not routers:
        raise ConfigError("no router selected: pass router=<name>, router=[a,b] or router=all.")
    predictor = cfg.get("predictor") or {}
    for name in MESS_PLUS_ROUTERS:
        if name in routers and needs_features(name, routers[name]):
            if predictor.get("name") not in PREDICTORS:
                raise ConfigError(f"unknown predictor '{predictor.get('name')}'; available: {sorted(PREDICTORS)} (predictor=<config> or predictor.name=...).")
            routers[name] = {**routers[name], "predictor": {"name": predictor["name"], "head": predictor.get("head") or {}}}
    axes = SweepAxes.from_config(cfg["sweep"], cfg.get("alpha"), cfg.get("V"), cfg.get("c"), cfg.get("seed"), cfg.get("feedback_rate", 1.0))
    data_dir = Path(cfg["data_dir"]).expanduser()
    if not data_dir.is_dir():
        raise ConfigError(f"data_dir {data_dir} does not exist; point data_dir=... at a capture folder (see README).")
    if not available_benchmarks(data_dir):
        raise ConfigError(f"data_dir {data_dir} holds no capture CSVs (expected <benchmark>.csv or <benchmark>/*.csv); "
                          "run the capture stage or point data_dir=... at a capture folder.")
    settings = {"cost": cost, "encoder": predictor.get("encoder"), "data_dir": str(data_dir.resolve())}
    split = SplitProtocol.from_config(cfg.get("split"), list(routers))
    scenarios = scenarios_from_mapping(cfg.get("scenarios"))
    specs = build_grid(benchmarks, zoo, routers, axes, settings, split, scenarios)
    return Plan(zoo, benchmarks, routers, axes, specs, cost, data_dir, split, scenarios)


def load_all(p: Plan) -> dict[str, CaptureData]:
    """Every benchmark the grid replays, and each scenario's concatenated stream (keyed by its name)."""
    datasets: dict[str, CaptureData] = {}
    for bench in [*p.benchmarks, *(part for sc in p.scenarios for part in sc.parts)]:
        if bench.name not in datasets:
            datasets[bench.name] = load_capture(p.data_dir, bench, p.zoo, p.cost)
            log.info("%s", datasets[bench.name].report.describe(bench.name))
    for sc in p.scenarios:
        if sc.parts:
            datasets[sc.name] = concatenate(sc.name, [datasets[part.name] for part in sc.parts])
    return datasets


def stream_features(p: Plan, datasets: dict[str, CaptureData], encoder: str, cache_dir: str) -> dict[str, np.ndarray | None]:
    """Embeddings per dataset (cached on disk); a concatenated stream stacks its parts' (no re-encoding)."""
    if not any(needs_features(name, params) for name, params in p.routers.items()):
        return {name: None for name in datasets}
    concatenated = {sc.name: sc for sc in p.scenarios if sc.parts}
    features: dict[str, np.ndarray | None] = {}
    for name, data in datasets.items():
        if name not in concatenated:
            features[name], hit = cached_embeddings(data.texts, encoder, cache_dir)
            log.info("%s: embeddings %s", name, "from cache" if hit else "computed and cached")
    for name, sc in concatenated.items():
        features[name] = np.concatenate([features[part.name] for part in sc.parts])
    return features


def feasibility_notes(p: Plan, datasets: dict[str, CaptureData]) -> list[str]:
    notes = []
    seen = set()
    for stream in stream_plans(p.benchmarks, p.axes, p.scenarios):
        best = float(datasets[stream.benchmark].labels.mean(axis=0).max())
        for alpha in stream.alphas:
            if alpha > best and (stream.benchmark, alpha) not in seen:
                seen.add((stream.benchmark, alpha))
                note = (f"{stream.benchmark}: alpha={alpha:g} exceeds the best model's mean satisfaction {best:.3f}: "
                        "the SLA is infeasible for any router; runs go ahead.")
                log.warning(note)
                notes.append(note)
    return notes


def evaluate(cfg: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Run (or, with report_only, only report) the evaluate stage into `out_dir`."""
    p = plan(cfg)
    table = table_setting(p, cfg.get("summary") or {})
    datasets = load_all(p)
    notes = feasibility_notes(p, datasets)
    if any(d.report.missing_energy for d in datasets.values()):
        notes.append("energy was not measured for some requests (NaN); energy figures are n/a there"
                     + ("; routing optimised time (cost=time)." if p.cost == "time" else "."))
    store = RunStore(out_dir)
    timings: dict[str, float] = {}
    if not cfg.get("report_only", False):
        started = time.perf_counter()
        features = stream_features(p, datasets, cfg["predictor"]["encoder"], cfg["cache_dir"])
        timings["embedding_s"] = time.perf_counter() - started
        logger_cfg = cfg.get("logger") or {}
        wandb = WandbLogger(logger_cfg.get("project", "mess-plus"), logger_cfg.get("entity"), logger_cfg.get("group"), out_dir) \
            if logger_cfg.get("name") == "wandb" else None
        started = time.perf_counter()
        new, skipped = run_grid(p.specs, Inputs(datasets, features, p.routers, p.cost, wandb.log if wandb else None), store,
                                int(cfg.get("n_jobs", 0)))
        timings["runs_s"] = time.perf_counter() - started
        log.info("ran %d runs, skipped %d already finished (%.1f s)", len(new), skipped, timings["runs_s"])
    if not cfg.get("report", True):
        return {"timings": timings}
    return write_report(p, datasets, store, out_dir, table, notes) | {"timings": timings}


def table_setting(p: Plan, table: dict[str, Any]) -> TableSetting:
    """The (V, c) of each selected MESS+ preset shown in summary.md and the plots: the sweep's own where it has
    one of each, else `summary.<preset>.V/c`."""
    out: TableSetting = {}
    for name in (n for n in MESS_PLUS_ROUTERS if n in p.routers):
        Vs, cs, chosen = p.axes.V[name], p.axes.c[name], table.get(name) or {}
        V = Vs[0] if len(Vs) == 1 else float(chosen.get("V", Vs[0]))
        c = cs[0] if len(cs) == 1 else float(chosen.get("c", cs[0]))
        if V not in Vs or c not in cs:
            raise ConfigError(f"summary.{name}.V={V:g}, summary.{name}.c={c:g} is not in the sweep (V {Vs}, c {cs}); "
                              "pick values it ran.")
        out[name] = (V, c)
    return out


def write_report(p: Plan, datasets: dict[str, CaptureData], store: RunStore, out_dir: Path, table: TableSetting,
                 notes: list[str]) -> dict[str, Any]:
    stored = store.records()
    records = [stored[s.run_id] for s in p.specs if s.run_id in stored]
    missing = len(p.specs) - len(records)
    if missing:
        notes.append(f"{missing} of {len(p.specs)} runs of this grid have no record in {store.dir} yet; they are left out.")
        log.warning(notes[-1])
    if not records:
        raise CaptureError(f"no finished runs of this grid in {store.dir}; run the sweep first (without report_only).")
    frame = results_frame(records, [static_optimum_row(spec, datasets[spec.benchmark], p.cost) for spec in bound_specs(p)])
    notes = [d.report.describe(name) for name, d in datasets.items()] + notes
    results_csv = out_dir / "results.csv"
    frame.to_csv(results_csv, index=False)
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(frame, summary_sections(p), table, p.cost, notes, p.split.main_split), encoding="utf-8")
    # The plots show the main grid on the split every router is compared on.
    main_records = [r for r in records if r["row"]["scenario"] == NO_SCENARIO and r["row"]["split"] == p.split.main_split]
    main_frame = frame[(frame["scenario"] == NO_SCENARIO) & (frame["split"] == p.split.main_split)]
    plots = write_plots(main_records, main_frame, p.benchmarks, p.zoo.categories, out_dir / "plots", table)
    return {"results": results_csv, "summary": summary, "plots": plots, "frame": frame}


def bound_specs(p: Plan) -> list[RunSpec]:
    """One static-optimum bound per set of requests the grid scores: per stream and alpha on the full stream,
    and per seed on a test part."""
    specs = {replace(s, router="static_optimum", V=None, c=None, model=None, config_hash="", feedback_rate=1.0,
                                 seed=s.seed if s.split == "test" else -1)
             for s in p.specs}
    return sorted(specs, key=lambda s: (s.scenario, s.benchmark, s.alpha, s.split, s.seed))


def summary_sections(p: Plan) -> list[tuple[str, str, str, list[Column]]]:
    """(scenario, title, description, columns): the main grid at each benchmark's default alpha, then each scenario."""
    sections = [(NO_SCENARIO, "Benchmarks at their default SLA target", "At each benchmark's default alpha.",
                 [Column(b.name, b.alpha) for b in p.benchmarks])]
    for sc in p.scenarios:
        columns = [Column(sc.name, sc.alpha)] if sc.parts else \
            [Column(b.name, sc.alpha if sc.alpha is not None else b.alpha) for b in p.benchmarks]
        sections.append((sc.name, f"Scenario: {sc.name}", f"{sc.describe()}.", columns))
    return sections
