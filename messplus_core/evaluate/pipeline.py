"""The evaluate stage as a library call: config mapping in, results folder out.

Order matters: every config value and every data file is validated before
any embedding or replay runs, so a typo costs seconds, not a sweep.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from messplus_core.core.stream import labelled_training_requests
from messplus_core.data.capture_csv import CaptureData, available_benchmarks, check_manifest_zoo, load_capture
from messplus_core.data.embeddings import cached_embeddings, check_encoder_available, recipe_identity
from messplus_core.data.scenarios import NO_SCENARIO, Scenario, concatenate, scenarios_from_mapping
from messplus_core.errors import CaptureError, ConfigError, config_errors
from messplus_core.evaluate.experiment import RunSpec, bound_row
from messplus_core.evaluate.grid import SplitProtocol, SweepAxes, build_grid, stream_plans
from messplus_core.evaluate.loggers import WandbLogger
from messplus_core.evaluate.plots import write_plots, write_scenario_plots
from messplus_core.evaluate.report import Column, ReportContext, TableSetting, results_frame, summary_markdown
from messplus_core.evaluate.runner import Inputs, run_grid
from messplus_core.evaluate.store import RunStore
from messplus_core.predictors import PREDICTORS
from messplus_core.routers import registry
from messplus_core.schemas import validate_stage
from messplus_core.specs import BenchmarkSpec, ModelZoo, benchmarks_from_mapping

log = logging.getLogger("messplus.evaluate")
#: The unit of each optimised cost kind unless `cost_unit` says otherwise (e.g. $ for a priced zoo).
DEFAULT_UNITS = {"energy": "J", "time": "s"}


@dataclass(frozen=True)
class EvaluationPlan:
    """A validated evaluate config: zoo, benchmarks, routers with their parameters, sweep axes and the grid."""

    zoo: ModelZoo
    benchmarks: list[BenchmarkSpec]
    routers: dict[str, dict[str, Any]]
    axes: SweepAxes
    specs: list[RunSpec]
    cost: str
    data_dir: Path
    split: SplitProtocol
    scenarios: list[Scenario]
    drop_incomplete: bool


def plan(cfg: dict[str, Any], check_data: bool = True) -> EvaluationPlan:
    """Validate the config and expand the grid (no data read yet).

    `check_data=False` validates the config alone (Slurm's submit-time check, before the capture exists).
    The config is first checked against `schemas.EvaluateSchema` (every key present, typed, none unknown).
    Any ValueError or TypeError raised while reading the config (e.g. `float('abc')` of a value) is the
    user's config, so it is raised as a ConfigError (the error path: exit 2, one line).
    """
    with config_errors():
        return _plan(cfg, check_data)


def _plan(cfg: dict[str, Any], check_data: bool) -> EvaluationPlan:
    check_packages(cfg)
    validate_stage("evaluate", cfg)
    zoo = ModelZoo.from_mapping(cfg["model_zoo"])
    benchmarks = benchmarks_from_mapping(cfg.get("benchmarks") or {})
    cost = cfg["cost"]
    routers = dict(cfg.get("routers") or {})
    if not routers:
        raise ConfigError("no router selected: pass router=<name>, router=[a,b] or router=all.")
    predictor = cfg["predictor"]
    check_router_params(routers, zoo)  # first: a preset's missing lever is named before its flags read the levers
    for name in routers:
        spec = registry.get(name)  # ConfigError naming the available routers for an unknown one
        if not spec.predictor:
            continue
        # Each preset's YAML wires `predictor: ${oc.select:predictor,null}`; a preset that reads no embeddings
        # drops it, so that its run identity does not depend on the predictor it never uses.
        if not spec.needs_features(routers[name]):
            routers[name] = {k: v for k, v in routers[name].items() if k != "predictor"}
        elif not isinstance(routers[name].get("predictor"), dict):
            raise ConfigError(f"routers.{name} reads request embeddings (estimator={routers[name].get('estimator')}) "
                              f"but has no predictor; add `predictor: ${{oc.select:predictor,null}}` to its YAML "
                              "(as conf/router/mess_plus.yaml).")
        elif routers[name]["predictor"].get("name") not in PREDICTORS:
            raise ConfigError(f"unknown predictor '{routers[name]['predictor'].get('name')}'; available: {sorted(PREDICTORS)} "
                              "(predictor=<config> or predictor.name=...).")
    axes = SweepAxes.from_config(cfg["sweep"], cfg["alpha"], cfg["V"], cfg["c"], cfg["seed"], cfg["feedback_rate"])
    drop_incomplete = cfg["drop_incomplete"]
    data_dir = Path(cfg["data_dir"]).expanduser()
    if check_data:
        if not data_dir.is_dir():
            raise ConfigError(f"data_dir {data_dir} does not exist; point data_dir=... at a capture folder (see README).")
        if not available_benchmarks(data_dir):
            raise ConfigError(f"data_dir {data_dir} holds no capture CSVs (expected <benchmark>.csv or <benchmark>/*.csv); "
                              "run the capture stage or point data_dir=... at a capture folder.")
        check_manifest_zoo(data_dir, zoo)
    # What a run's result depends on besides its RunSpec fields and its data (whose digest each spec gets once
    # loaded): the cost optimised and, for routers that read embeddings, the encoder and how it is applied.
    settings = {"cost": cost, "encoder": predictor.get("encoder"), "embedding_recipe": recipe_identity(predictor.get("encoder"))}
    split = SplitProtocol.from_config(cfg["split"], list(routers))
    scenarios = scenarios_from_mapping(cfg.get("scenarios"), benchmarks)
    specs = build_grid(benchmarks, zoo, routers, axes, settings, split, scenarios)
    return EvaluationPlan(zoo, benchmarks, routers, axes, specs, cost, data_dir, split, scenarios, drop_incomplete)


def check_router_params(routers: dict[str, dict[str, Any]], zoo: ModelZoo) -> None:
    """Router settings that would otherwise fail inside a worker, mid-sweep: each registered router's own
    `check` (e.g. MESS+'s levers, a learned router's folds), as a ConfigError naming the router and the zoo."""
    for name, params in routers.items():
        check = registry.get(name).check
        if check is None:
            continue
        try:
            check(params, tuple(zoo.categories))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"routers.{name}: {err} (zoo '{zoo.name}')") from None


def check_packages(cfg: dict[str, Any]) -> None:
    """A benchmark YAML without its `# @package benchmarks.<name>` line lands under `benchmark:` (Hydra's default
    package for the group) and would read as "no benchmark selected": name the cause instead."""
    stray = cfg.get("benchmark")
    if isinstance(stray, dict) and stray:
        name = stray.get("task", "<name>")
        raise ConfigError(f"a benchmark config (task {name!r}) has no `# @package benchmarks.{name}` line, so Hydra put it "
                          f"under `benchmark:` instead of `benchmarks.{name}`; make that the YAML's first line "
                          "(see conf/benchmark/boolq.yaml).")


def cost_notes(p: EvaluationPlan, datasets: dict[str, CaptureData]) -> list[str]:
    """Warnings about the optimised cost itself: constant (routing by cost is then meaningless), or a benchmark
    whose mean costs do not follow the zoo's declared cost order (`cost_rank`, cheapest first)."""
    notes = []
    for name, data in datasets.items():
        costs = data.cost(p.cost)
        if not np.isfinite(costs).all():
            continue
        if np.ptp(costs) == 0:
            notes.append(f"{name}: the optimised cost ({p.cost}) is the same for every request and model "
                         f"({costs.flat[0]:g}); every router's cost ties and the routing follows satisfaction only. "
                         "Check the capture's cost columns or use the other cost=.")
            continue
        means = costs.mean(axis=0)
        out_of_order = [f"{a} ({means[i]:.4g}) > {b} ({means[i + 1]:.4g})"
                        for i, (a, b) in enumerate(zip(data.categories, data.categories[1:])) if means[i] > means[i + 1]]
        if out_of_order:
            notes.append(f"{name}: mean {p.cost} per request is out of the zoo's cost order (cheapest first): "
                         + ", ".join(out_of_order) + f"; check `cost_rank` in model_zoo '{p.zoo.name}'.")
    for note in notes:
        log.warning(note)
    return notes


def load_all(p: EvaluationPlan) -> dict[str, CaptureData]:
    """Every benchmark the grid replays, and each scenario's concatenated stream (keyed by its name)."""
    datasets: dict[str, CaptureData] = {}
    for bench in p.benchmarks:
        datasets[bench.name] = load_capture(p.data_dir, bench, p.zoo, p.cost, p.drop_incomplete)
        log.info("%s", datasets[bench.name].report.describe(bench.name))
    for sc in p.scenarios:
        for part in (part for part in sc.parts if part.name not in datasets):
            if part.name not in available_benchmarks(p.data_dir):
                raise ConfigError(f"scenario '{sc.name}' concatenates {[x.name for x in sc.parts]}, but {p.data_dir} has no "
                                  f"capture of '{part.name}'; name benchmarks of this data with "
                                  f"'scenarios.{sc.name}.sequence=[a,b,...]' (selected in benchmark=) and set "
                                  f"scenarios.{sc.name}.alpha, or drop the scenario.")
            datasets[part.name] = load_capture(p.data_dir, part, p.zoo, p.cost, p.drop_incomplete)
            log.info("%s", datasets[part.name].report.describe(part.name))
    for sc in p.scenarios:
        if sc.parts:
            datasets[sc.name] = concatenate(sc.name, [datasets[part.name] for part in sc.parts])
    return datasets


def bind_data(p: EvaluationPlan, datasets: dict[str, CaptureData]) -> EvaluationPlan:
    """The plan whose every run carries the digest of the data it replays (part of its run_id)."""
    return replace(p, specs=[replace(s, data_digest=datasets[s.benchmark].digest) for s in p.specs])


def protocol_sizes(p: EvaluationPlan, datasets: dict[str, CaptureData]) -> tuple[EvaluationPlan, list[str]]:
    """Check, before any embedding, that every stream under the train/test protocol can be split and trained on.

    The training part of a seed's stream and its feedback draws depend only on
    the stream's size, the seed, `split.train_fraction` and the feedback rate,
    so this is decided from sizes alone. A stream whose training part has no
    labelled request in some seed cannot run under the protocol: ConfigError
    naming the stream, the minimum and fixes that work. A stream with fewer than
    2 labelled training requests in some seed cannot fit the learned routers
    (out-of-fold calibration, leave-one-out neighbours): they are skipped on
    that stream, with a note; every other run goes ahead.

    Returns (the plan without the skipped runs, notes for summary.md).
    """
    fraction = p.split.train_fraction
    offline = set(registry.names(trains_offline=True))
    learned = sorted(offline & set(p.routers))
    need = 2 if learned else 1
    per_seed: dict[tuple[str, str, float], dict[int, int]] = {}  # (scenario, benchmark, rate) -> seed -> labelled
    for s in p.specs:
        if s.split == "test":
            labelled = labelled_training_requests(datasets[s.benchmark].n, s.seed, s.feedback_rate, fraction)
            per_seed.setdefault((s.scenario, s.benchmark, s.feedback_rate), {})[s.seed] = labelled
    notes: list[str] = []
    skip: set[tuple[str, str, float]] = set()
    for key, seeds in per_seed.items():
        if min(seeds.values()) >= need:
            continue
        scenario, bench, rate = key
        n = datasets[bench].n
        name = bench if scenario == NO_SCENARIO else f"{bench} (scenario {scenario})"
        counts = ", ".join(f"seed {seed}: {k}" for seed, k in sorted(seeds.items()))
        where = (f"{name} has {n} request(s); with split.train_fraction={fraction:g} and feedback_rate={rate:g} "
                 f"the labelled training requests per seed are {counts} "
                 f"(too few in seed(s) {sorted(seed for seed, k in seeds.items() if k < need)})")
        if min(seeds.values()) < 1:
            raise ConfigError(f"{where}: the train/test protocol needs at least 1 labelled training request in every "
                              f"seed (and a test part), {'2 for the learned routers ' + str(learned) if learned else ''}. "
                              "Fixes: " + "; or ".join(_protocol_fixes(p, n, rate, need, learned)) + ".")
        skip.add(key)
        notes.append(f"{where}: the learned routers {learned} need at least 2 in every seed and were skipped on this "
                     "stream; every other router ran.")
        log.warning(notes[-1])
    if not skip:
        return p, notes
    kept = [s for s in p.specs if not (s.router in offline and (s.scenario, s.benchmark, s.feedback_rate) in skip)]
    return replace(p, specs=kept), notes


def _protocol_fixes(p: EvaluationPlan, n: int, rate: float, need: int, learned: list[str]) -> list[str]:
    """Settings that make the protocol work on an n-request stream, checked against the same rule."""
    fixes = []
    for fraction in np.round(np.arange(0.05, 1.0, 0.05), 2):
        if all(labelled_training_requests(n, seed, rate, fraction) >= need for seed in p.axes.seeds):
            fixes.append(f"split.train_fraction={fraction:g} (the smallest multiple of 0.05 that works for seeds {p.axes.seeds})")
            break
    if rate < 1 and all(labelled_training_requests(n, seed, 1.0, p.split.train_fraction) >= need for seed in p.axes.seeds):
        fixes.append("feedback_rate=1.0")
    if learned:
        others = [r for r in p.routers if not registry.get(r).trains_offline]
        fixes.append(f"router=[{','.join(others)}] (without the learned routers no train/test split is made)"
                     if others else "drop the learned routers from router=")
    if not fixes:
        fixes.append("split.enabled=false")
    fixes.append("a larger capture of this benchmark")
    return fixes


def run_bookkeeping(p: EvaluationPlan, store: RunStore) -> list[str]:
    """What the store already holds: runs of this grid (reused; logged) and runs of other settings or data
    (left out of the report; logged and returned as a note for summary.md).

    The reuse count is not a note: the report of a grid is the same whether its runs were made now or
    earlier (a Slurm aggregate job reuses every run by design).
    """
    stored = store.records()
    wanted = {s.run_id for s in p.specs}
    reused = len(wanted & set(stored))
    other = len(set(stored) - wanted)
    if reused:
        log.info("%d of %d runs of this grid are reused from %s (same data digest, settings and code version).",
                 reused, len(wanted), store.dir)
    if not other:
        return []
    note = (f"{other} run(s) stored in {store.dir} belong to other settings, data or code versions; they stay there "
            "and are not part of this report.")
    log.info("%s", note)
    return [note]


def stream_features(p: EvaluationPlan, datasets: dict[str, CaptureData], encoder: str, cache_dir: str) -> dict[str, np.ndarray | None]:
    """Embeddings per dataset (cached on disk); a concatenated stream stacks its parts' (no re-encoding)."""
    used = {s.router for s in p.specs}
    if not any(registry.get(name).needs_features(params) for name, params in p.routers.items() if name in used):
        return {name: None for name in datasets}
    concatenated = {sc.name: sc for sc in p.scenarios if sc.parts}
    check_encoder_available(encoder, [d.texts for name, d in datasets.items() if name not in concatenated], cache_dir)
    features: dict[str, np.ndarray | None] = {}
    for name, data in datasets.items():
        if name not in concatenated:
            features[name], _ = cached_embeddings(data.texts, encoder, cache_dir, label=name)  # logs hit or throughput
    for name, sc in concatenated.items():
        features[name] = np.concatenate([features[part.name] for part in sc.parts])
    return features


def feasibility_notes(p: EvaluationPlan, datasets: dict[str, CaptureData]) -> list[str]:
    """A logged warning per (stream, alpha) whose alpha exceeds the best model's mean satisfaction there."""
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


def run_evaluation(cfg: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Run (or, with report_only, only report) the evaluate stage into `out_dir`."""
    p = plan(cfg)
    _, setting_notes = table_setting(p, cfg["summary"], cfg["default_sweep"])  # fails before any compute
    datasets = load_all(p)
    p = bind_data(p, datasets)
    p, notes = protocol_sizes(p, datasets)
    notes += setting_notes + feasibility_notes(p, datasets) + cost_notes(p, datasets)
    if any(d.report.missing_energy for d in datasets.values()):
        nowhere = all(np.isnan(d.energy).all() for d in datasets.values())
        notes.append(("energy was not measured for any request (NaN): energy figures are n/a" if nowhere else
                      "energy was not measured for some requests (NaN); energy figures are n/a there")
                     + ("; routing optimised time (cost=time)." if p.cost == "time" else "."))
    store = RunStore(out_dir)
    notes += run_bookkeeping(p, store)
    timings: dict[str, float] = {}
    if not cfg["report_only"]:
        started = time.perf_counter()
        features = stream_features(p, datasets, cfg["predictor"]["encoder"], cfg["cache_dir"])
        timings["embedding_s"] = time.perf_counter() - started
        started = time.perf_counter()
        new, skipped = run_grid(p.specs, Inputs(datasets, features, p.routers, p.cost), store, cfg["n_jobs"])
        timings["runs_s"] = time.perf_counter() - started
        log.info("ran %d runs, skipped %d already finished (%.1f s)", len(new), skipped, timings["runs_s"])
    if not cfg["report"]:
        return {"timings": timings}
    logger_cfg = cfg["logger"]
    wandb = WandbLogger(logger_cfg["project"], logger_cfg["entity"], logger_cfg["group"], out_dir) \
        if logger_cfg.get("name") == "wandb" else None
    return write_report(p, datasets, store, out_dir, cfg, notes, wandb) | {"timings": timings}


def table_setting(p: EvaluationPlan, table: dict[str, Any], default_sweep: dict[str, Any]) -> tuple[TableSetting, list[str]]:
    """The (V, c) of each selected router that sweeps them (the MESS+ presets) shown in summary.md and the plots,
    and notes for summary.md: the sweep's own value where it ran one, else `summary.<preset>.V/c`. Where that is
    still the preset's default point (conf/sweep/default.yaml) and the sweep did not run it, the swept value
    nearest to it (in log scale) is shown and a note says so; a `summary.<preset>` value set by hand that the
    sweep did not run raises one ConfigError naming every such setting and the values that ran."""
    out: TableSetting = {}
    notes: list[str] = []
    wrong: list[str] = []
    for name in (n for n in registry.names() if n in p.routers and registry.get(n).sweeps):
        chosen = table.get(name) or {}
        picked = []
        for axis, ran in (("V", p.axes.V[name]), ("c", p.axes.c[name])):
            value = ran[0] if len(ran) == 1 else float(chosen.get(axis, ran[0]))
            if value not in ran:
                default = default_sweep.get(axis, {}).get(name)
                if default and value == float(default[0]):
                    # swept V and c are > 0 (SweepAxes refuses others), and so is the default they are measured from
                    nearest = min(ran, key=lambda r: abs(math.log(r / value)))
                    notes.append(f"{name}: the tables show {axis}={nearest:g}, the swept value nearest its default "
                                 f"{axis}={value:g}, which this sweep did not run (another: summary.{name}.{axis}=...).")
                    value = nearest
                else:
                    wrong.append(f"summary.{name}.{axis}={value:g} (the sweep ran {axis} {list(ran)})")
            picked.append(value)
        out[name] = (picked[0], picked[1])
    if wrong:
        raise ConfigError(f"{'; '.join(wrong)}: the tables can show only values the sweep ran; set each to one of them.")
    return out, notes


def csv_unit_names(cost: str, unit: str) -> dict[str, str]:
    """results.csv column names that say the unit when `cost_unit` is not the cost kind's own (J, s):
    e.g. cost=energy cost_unit=$ writes `cost_usd_per_request` instead of `energy_j_per_request`."""
    if unit == DEFAULT_UNITS[cost]:
        return {}
    slug = {"$": "usd", "€": "eur", "£": "gbp"}.get(unit) or "".join(ch for ch in unit.lower() if ch.isalnum()) or "unit"
    if cost == "energy":
        return {"energy_j_total": f"cost_{slug}_total", "energy_j_per_request": f"cost_{slug}_per_request",
                "explore_energy_j": f"explore_cost_{slug}"}
    return {"time_s_total": f"time_{slug}_total", "time_s_per_request": f"time_{slug}_per_request"}


def code_version() -> str:
    """`git describe --always --dirty` of this checkout with its commit, or the installed package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        described = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"], capture_output=True,
                                   text=True, timeout=10, check=True).stdout.strip()
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        return f"{described} (commit {commit})"
    except (OSError, subprocess.SubprocessError):
        return f"mess-plus {importlib.metadata.version('mess-plus')} (not a git checkout)"


def report_context(p: EvaluationPlan, cfg: dict[str, Any]) -> ReportContext:
    """What the report's header and labels say: cost kind and unit, zoo, data folder, code version, split,
    the MESS+ settings shown, and the paper's figures where the data is the paper's."""
    unit = cfg["cost_unit"] or DEFAULT_UNITS[p.cost]
    return ReportContext(cost=p.cost, cost_unit=str(unit), zoo=p.zoo.name, models=[(m.category, m.model) for m in p.zoo.models],
                         data_dir=str(p.data_dir.resolve()), version=code_version(), main_split=p.split.main_split,
                         mess_settings=table_setting(p, cfg["summary"], cfg["default_sweep"])[0],
                         paper=paper_figures(cfg.get("paper"), p.data_dir))


def paper_figures(paper: dict[str, Any] | None, data_dir: Path) -> dict[str, Any] | None:
    """The paper's figures (`conf/paper/<zoo>.yaml`) when the data is what the paper used: `data_glob` matches in it."""
    if not paper:
        return None
    pattern = paper.get("data_glob")
    return paper if not pattern or next(data_dir.glob(pattern), None) is not None else None


def write_report(p: EvaluationPlan, datasets: dict[str, CaptureData], store: RunStore, out_dir: Path, cfg: dict[str, Any],
                 notes: list[str], wandb: WandbLogger | None = None) -> dict[str, Any]:
    """results.csv, summary.md and plots from the grid's recorded runs; with `wandb`, those runs are logged to
    W&B in a forked process meanwhile (Slurm array tasks run with report=false and log nothing: their
    aggregate job logs the whole grid once)."""
    stored = store.records()
    records = [stored[s.run_id] for s in p.specs if s.run_id in stored]
    missing = len(p.specs) - len(records)
    if missing:
        notes.append(f"{missing} of {len(p.specs)} runs of this grid have no record in {store.dir} yet; they are left out.")
        log.warning(notes[-1])
    if not records:
        raise CaptureError(f"no finished runs of this grid in {store.dir}; run the sweep first (without report_only).")
    if wandb is not None:
        wandb.start(records, {"data_dir": str(p.data_dir), "model_zoo": p.zoo.name, "cost": p.cost,
                              "benchmarks": [b.name for b in p.benchmarks], "routers": sorted(p.routers),
                              "scenarios": [sc.name for sc in p.scenarios], "split": p.split.main_split, "runs": len(records)})
    frame = results_frame(records, [bound_row(spec, datasets[spec.benchmark], p.cost) for spec in bound_specs(p)])
    ctx = report_context(p, cfg)
    notes = [d.report.describe(name) for name, d in datasets.items()] + notes
    results_csv = out_dir / "results.csv"
    frame.rename(columns=csv_unit_names(p.cost, ctx.cost_unit)).to_csv(results_csv, index=False)
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(frame, summary_sections(p), ctx, notes, records), encoding="utf-8")
    # The plots show the main grid on the split every router is compared on.
    main_records = [r for r in records if r["row"]["scenario"] == NO_SCENARIO and r["row"]["split"] == p.split.main_split]
    main_frame = frame[(frame["scenario"] == NO_SCENARIO) & (frame["split"] == p.split.main_split)]
    plots = write_plots(main_records, main_frame, p.benchmarks, p.zoo.categories, out_dir / "plots", ctx)
    for sc in (sc for sc in p.scenarios if sc.parts):
        starts = np.cumsum([0] + [len(datasets[part.name].labels) for part in sc.parts])[:-1]
        mine = [r for r in records if r["row"]["scenario"] == sc.name and r["row"]["split"] == p.split.main_split]
        plots += write_scenario_plots(mine, sc.name, sc.alpha, [(part.name, int(s)) for part, s in zip(sc.parts, starts)],
                                      len(datasets[sc.name].labels), p.zoo.categories, out_dir / "plots", ctx)
    out = {"results": results_csv, "summary": summary, "plots": plots, "frame": frame}
    if wandb is not None:
        wandb.wait()
        out["wandb"] = wandb.describe()
    return out


def bound_specs(p: EvaluationPlan) -> list[RunSpec]:
    """One row per expected-value bound (registry entries with `expected`, the static optimum) per set of
    requests the grid scores: per stream and alpha on the full stream, and per seed on a test part."""
    specs = {replace(s, router=bound, V=None, c=None, model=None, config_hash="", feedback_rate=1.0,
                     seed=s.seed if s.split == "test" else -1)
             for s in p.specs for bound in registry.names() if registry.get(bound).expected is not None}
    return sorted(specs, key=lambda s: (s.scenario, s.benchmark, s.alpha, s.split, s.seed, s.router))


def summary_sections(p: EvaluationPlan) -> list[tuple[str, str, str, list[Column]]]:
    """(scenario, title, description, columns): the main grid at each benchmark's default alpha, then each scenario."""
    sections = [(NO_SCENARIO, "Benchmarks at their default SLA target", "At each benchmark's default alpha.",
                 [Column(b.name, b.alpha) for b in p.benchmarks])]
    for sc in p.scenarios:
        columns = [Column(sc.name, sc.alpha)] if sc.parts else \
            [Column(b.name, sc.alpha if sc.alpha is not None else b.alpha) for b in p.benchmarks]
        sections.append((sc.name, f"Scenario: {sc.name}", f"{sc.describe()}.", columns))
    return sections
