"""The capture stage: run units, then merge each benchmark whose models are all complete.

`capture/run.py` hands Hydra's config to `run_capture`; everything else
(units, checks, lm-eval, shards, merge) lives in this package.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from messplus_core.util.io import write_json_atomic

from .documents import check_documents, document_set
from .energy import EnergyMeter
from .manifest import hardware, now_iso
from .merge import incomplete_units, merge_benchmark
from .preflight import identity, preflight, tiny_spec
from .settings import CaptureSettings, parse_settings
from .shards import ShardWriter, done_path, read_done, shard_path
from .tiny_zoo import ensure_built
from .units import CaptureUnit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnitReport:
    """What running one unit did: skipped (already complete), or documents measured and reused, wall time (s)
    and the time (s) spent inside measurement windows."""

    unit: CaptureUnit
    skipped: bool
    measured_docs: int = 0
    reused_docs: int = 0
    wall_s: float = 0.0
    measured_time_s: float = 0.0

    def line(self) -> str:
        """One log line, e.g. "unit 3 demo/large (...): 600 docs measured, 0 reused from the shard, 41.0 s"."""
        u = self.unit
        head = f"unit {u.index} {u.benchmark.name}/{u.model.category} ({u.model.model})"
        if self.skipped:
            return f"{head}: already complete"
        rate = f", {self.measured_docs / self.measured_time_s:.1f} docs/s in windows" if self.measured_time_s else ""
        return f"{head}: {self.measured_docs} docs measured, {self.reused_docs} reused from the shard, {self.wall_s:.1f} s{rate}"


def _is_complete(settings: CaptureSettings, unit: CaptureUnit) -> bool:
    """Done with the same limit and, for a generation task, the same generation settings (else the unit reruns,
    and its shard refuses texts decoded with other settings). A done unit whose documents differ from the task's
    current ones is a ConfigError (documents.check_documents), never skipped."""
    path = done_path(settings.out_dir, unit.benchmark.name, unit.model.category)
    done = read_done(path)
    if done is None:
        return False
    check_documents(path, done, unit.benchmark.task)
    return done["limit"] == settings.limit and done.get("generation") in (None, settings.generation)


def run_unit(settings: CaptureSettings, unit: CaptureUnit, device: str) -> UnitReport:
    """Capture one (model, benchmark) unit, resuming its shard; writes its done record at the end."""
    from lm_eval import __version__ as lm_eval_version

    from .backends import cpu_threads, make_lm, model_revision
    from .lm_eval_runner import PerDocumentLM, run_lm_eval

    if _is_complete(settings, unit):
        return UnitReport(unit, skipped=True)
    started_at, t0 = now_iso(), time.perf_counter()
    documents = document_set(unit.benchmark.task, settings.limit)
    model = unit.model
    path = settings.model_path(model.model)
    build = ensure_built(Path(path), tiny_spec(model)) if model.build else None
    ident = identity(settings, unit, device)
    writer = ShardWriter(shard_path(settings.out_dir, unit.benchmark.name, model.category), ident, settings.fsync_every)
    if writer.dropped_torn_line:
        log.warning("%s: dropped a torn last line left by an interrupted run", writer.path)
    gpus = (model.gpus or (0,)) if device == "cuda" else ()  # hf on cuda without gpus runs on cuda:0
    meter = EnergyMeter(gpus, settings.energy)
    lm = PerDocumentLM(
        load=lambda: make_lm(model, path, settings.backend, device, settings.batch_size),
        meter=meter,
        writer=writer,
        label=f"unit {unit.index} {unit.benchmark.name}/{model.category}",
    )
    try:
        with cpu_threads(model.backend_args.get("cpu_threads") if device == "cpu" else None):
            outcome = run_lm_eval(lm, unit.benchmark.task, settings.limit, unit.benchmark.satisfaction, settings.generation)
        revision = (build or {}).get("weights_sha256") or (lm.inner and model_revision(lm.inner))
        records = writer.records
        measured_time = sum(records[d].time_s for d in outcome.metrics)
        write_json_atomic(
            done_path(settings.out_dir, unit.benchmark.name, model.category),
            {
                "identity": ident.to_dict(),
                "limit": settings.limit,
                "documents": documents.to_dict(),
                "model_revision": revision,
                "lm_eval_version": lm_eval_version,
                "task_version": outcome.task_version,
                "n_shot": outcome.n_shot,
                "generation": settings.generation if lm.decoded else None,
                "energy_measured": meter.measured,
                "energy_source": meter.source,
                "hardware": hardware(device, gpus),
                "started_at": started_at,
                "finished_at": now_iso(),
                "docs": len(outcome.metrics),
                "docs_measured_in_last_run": lm.measured_docs,
                "inference_time_s_total": measured_time,
                "metrics": [{"doc_id": d, **outcome.metrics[d]} for d in sorted(outcome.metrics)],
            },
        )
    finally:
        writer.close()
    report = UnitReport(
        unit,
        skipped=False,
        measured_docs=lm.measured_docs,
        reused_docs=lm.reused_docs,
        wall_s=time.perf_counter() - t0,
        measured_time_s=lm.measured_time_s,
    )
    del lm
    _free_accelerator_memory()
    return report


def _free_accelerator_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _merge_ready(settings: CaptureSettings, benchmarks: list[str], say: Callable[[str], None]) -> None:
    for spec in settings.benchmarks:
        if spec.name not in benchmarks:
            continue
        units = [u for u in settings.units if u.benchmark.name == spec.name]
        waiting = incomplete_units(settings.out_dir, units)
        if waiting:
            say(f"{spec.name}: not merged yet, waiting for unit(s) {[u.index for u in waiting]}")
            continue
        csv_path, entry = merge_benchmark(settings.out_dir, settings.zoo, spec, units)
        say(f"{spec.name}: {entry['rows']} rows -> {csv_path} (manifest: {entry['manifest']})")
        for m in entry["models"]:
            say(f"  {m['identity']['category']}: energy {m['energy_source']}")


def run_capture(cfg: Mapping[str, Any], repo_root: Path, say: Callable[[str], None] = print) -> None:
    """The whole stage for one invocation: print_units, merge_only, one unit, or every unit."""
    settings = parse_settings(cfg, repo_root)
    if settings.print_units:
        for unit in settings.selected:
            say(json.dumps(unit.describe()))
        return
    benchmarks = list(dict.fromkeys(u.benchmark.name for u in settings.selected))
    if settings.merge_only:
        for spec in settings.benchmarks:
            if spec.name in benchmarks:
                units = [u for u in settings.units if u.benchmark.name == spec.name]
                csv_path, entry = merge_benchmark(settings.out_dir, settings.zoo, spec, units)
                say(f"{spec.name}: {entry['rows']} rows -> {csv_path}")
        return
    device = preflight(settings)
    say(f"capture: zoo '{settings.zoo.name}', {len(settings.selected)} unit(s), backend {settings.backend} on {device}, "
        f"limit {settings.limit}, out_dir {settings.out_dir}")
    for unit in settings.selected:
        say(run_unit(settings, unit, device).line())
    _merge_ready(settings, benchmarks, say)
