"""SlurmPlan of Slurm jobs for one experiment: capture arrays, merge, evaluate, aggregate.

Pure: from a model zoo, the selected benchmarks and plain resource mappings it
builds `Job` records and the exact `sbatch` command lines, without touching
Slurm or the file system. `messplus_core.slurm.submit` composes the Hydra config,
calls this and submits.

Job graph (the dependency names are Slurm's):

    capture array(s)   one task per (benchmark, model) unit; the array index
          |            IS the capture stage's unit number (benchmark-major,
          |            model cheapest-first), so a task runs `unit=$SLURM_ARRAY_TASK_ID`.
          |            Units needing different GPU counts go to different
          |            arrays (a Slurm array has one resource request).
          | afterok    (all capture arrays)
    merge array        one task per benchmark: `merge_only=true benchmark=<b>`
          | aftercorr  (task i starts when merge task i succeeded)
    evaluate array     one task per benchmark, `report=false` into one shared folder
          | afterok
   [scenarios job]     only with scenario=...: the scenarios over the whole selection
          | afterok
    aggregate job      `report_only=true` over the whole selection
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from messplus_core.capture.units import unit_order
from messplus_core.errors import ConfigError
from messplus_core.specs import ModelZoo

# sbatch's own variables that override a GPU request written in a script.
# When one is set, the plan puts no GPU option on the command line (which would
# beat the environment) and leaves the request to sbatch and those variables.
GPU_ENV_VARS = ("SBATCH_GRES", "SBATCH_GPUS", "SBATCH_GPUS_PER_NODE", "SBATCH_GPUS_PER_TASK")

STAGES = ("capture", "evaluate")


@dataclass(frozen=True)
class CaptureTask:
    """One capture unit as a Slurm array task: its index (the stage's `unit=K`), names and GPUs."""

    index: int
    benchmark: str
    category: str
    model: str
    gpus: tuple[int, ...]


def capture_tasks(zoo: ModelZoo, benchmarks: Sequence[str]) -> list[CaptureTask]:
    """The capture job's array tasks, numbered as the capture stage numbers its units (`capture/units.py`)."""
    return [CaptureTask(i, b, m.category, m.model, m.gpus) for i, b, m in unit_order(zoo, benchmarks)]


@dataclass(frozen=True)
class Resources:
    """What one job (or every task of one array) asks Slurm for."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    gpus: int = 0
    gpu_type: str | None = None
    extra: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, stage: str, cfg: Mapping[str, Any], gpus: int = 0) -> "Resources":
        """From a stage's `conf/slurm.yaml` block (null or empty text values: Slurm's default; numbers arrive
        decoded by oc.decode); `extra` is a list or a shell-quoted string of sbatch options. ConfigError for a
        cpus_per_task that is not an integer >= 1."""
        def opt(key: str) -> str | None:  # an empty environment variable reads as unset
            v = cfg.get(key)
            return None if v is None or str(v).strip() == "" else str(v).strip()

        cpus = cfg.get("cpus_per_task")  # an int: conf/slurm.yaml decodes the environment's text (oc.decode)
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
            raise ConfigError(f"slurm {stage}.cpus_per_task must be a positive integer, got {cpus!r}.")
        extra = cfg.get("extra") or []
        if isinstance(extra, str):
            extra = shlex.split(extra)
        return cls(
            partition=opt("partition"),
            account=opt("account"),
            qos=opt("qos"),
            time=opt("time"),
            cpus_per_task=cpus,
            mem=opt("mem"),
            gpus=gpus,
            gpu_type=opt("gpu_type"),
            extra=tuple(str(e) for e in extra),
        )

    def sbatch_options(self, gpu_env_override: bool = False) -> list[str]:
        """sbatch flags, e.g. ["--partition=gpu", "--gres=gpu:a100:2"]; no --gres when SBATCH_* GPU variables
        in the environment decide the GPUs (`gpu_env_override`)."""
        opts = []
        for flag, value in (
            ("--partition", self.partition),
            ("--account", self.account),
            ("--qos", self.qos),
            ("--time", self.time),
            ("--cpus-per-task", self.cpus_per_task),
            ("--mem", self.mem),
        ):
            if value is not None:
                opts.append(f"{flag}={value}")
        if self.gpus > 0 and not gpu_env_override:
            kind = f"gpu:{self.gpu_type}" if self.gpu_type else "gpu"
            opts.append(f"--gres={kind}:{self.gpus}")
        opts.extend(self.extra)
        return opts

    def describe(self, gpu_env_override: bool = False) -> str:
        """One line for the dry-run listing, e.g. "partition=gpu, cpus=8, mem=64G, time=04:00:00, gpus=2"."""
        parts = [
            f"partition={self.partition or '(default)'}",
            f"cpus={self.cpus_per_task or '(default)'}",
            f"mem={self.mem or '(default)'}",
            f"time={self.time or '(default)'}",
        ]
        if self.gpus:
            gpu = f"gpus={self.gpus}" + (f" ({self.gpu_type})" if self.gpu_type else "")
            if gpu_env_override:
                gpu += " [overridden by SBATCH_* environment]"
            parts.append(gpu)
        if self.account:
            parts.insert(1, f"account={self.account}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Job:
    """One sbatch submission: a single job or an array."""

    key: str                         # stable name inside the plan, e.g. capture_gpu1
    stage: str                       # capture | merge | evaluate | aggregate
    script: str                      # path of the sbatch script, relative to the repo
    args: tuple[str, ...]            # arguments after the script
    resources: Resources
    array: tuple[int, ...] | None = None
    tasks: tuple[str, ...] = ()      # one description per array index (same order)
    dependency: tuple[tuple[str, str], ...] = ()  # (type, job key), e.g. ("afterok", "merge")
    max_parallel: int | None = None
    requeue: bool = True

    @property
    def name(self) -> str:
        """The job's name inside the plan (its `key`)."""
        return self.key


@dataclass
class SlurmPlan:
    """Every job of one submission, in submission order, with the folders they write and the capture units."""

    zoo: str
    benchmarks: list[str]
    selection: str
    out_dir: Path
    capture_dir: Path
    evaluate_dir: Path
    log_dir: Path
    jobs: list[Job] = field(default_factory=list)
    units: list[CaptureTask] = field(default_factory=list)
    gpu_env_override: bool = False

    def job(self, key: str) -> Job:
        """The job named `key`; KeyError if the plan has none."""
        for j in self.jobs:
            if j.key == key:
                return j
        raise KeyError(key)


def compress_indices(indices: Iterable[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (sbatch --array syntax)."""
    idx = sorted(set(indices))
    if not idx:
        raise ValueError("an array needs at least one index")
    parts, start, prev = [], idx[0], idx[0]
    for i in idx[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts)


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _gpus_for(unit: CaptureTask, setting: Any) -> int:
    """`capture.gpus`: auto (the unit's model's backend_args.gpus) or a count (decoded from the environment)."""
    if setting == "auto":
        return len(set(unit.gpus))
    if not _is_int(setting, 0):
        raise ConfigError(f"slurm capture.gpus must be `auto` or a non-negative integer, got {setting!r}.")
    return setting


def _max_parallel(stage: str, value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value, 1):
        raise ConfigError(f"slurm {stage}.max_parallel must be a positive integer or null, got {value!r}.")
    return value


def build_plan(
    *,
    zoo: ModelZoo,
    benchmarks: Sequence[str],
    selection: str,
    cfg: Mapping[str, Any],
    out_dir: Path,
    capture_dir: Path,
    evaluate_dir: Path,
    log_dir: Path,
    environ: Mapping[str, str],
    zoo_order: Sequence[str] | None = None,
) -> SlurmPlan:
    """The jobs of one experiment.

    `selection` is the benchmark override exactly as the user gave it (e.g.
    `all` or `[arc_challenge,boolq]`): capture tasks and the aggregate job get
    it unchanged so that they see the same selection, and the same unit
    numbering, as a local run; merge and evaluate tasks get one benchmark each.
    `cfg` is the resolved `conf/slurm.yaml` as plain containers. `zoo_order`
    lists the zoo's categories in the order of its config file (needed to
    address a model in a Hydra override); default: cost order.
    """
    stages = list(cfg.get("stages") or STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ConfigError(f"slurm stages must be a non-empty subset of {list(STAGES)}, got {stages}.")
    if not benchmarks:
        raise ConfigError("no benchmark selected: pass benchmark=<name>, benchmark=[a,b] or benchmark=all.")
    gpu_env_override = any(environ.get(v) not in (None, "") for v in GPU_ENV_VARS)
    prefix = str(cfg.get("job_prefix") or "messplus")
    plan = SlurmPlan(
        zoo=zoo.name, benchmarks=list(benchmarks), selection=selection, out_dir=out_dir,
        capture_dir=capture_dir, evaluate_dir=evaluate_dir, log_dir=log_dir,
        gpu_env_override=gpu_env_override,
    )
    bench_list = ",".join(benchmarks)
    bench_tasks = tuple(f"{i}: {b}" for i, b in enumerate(benchmarks))
    capture_cfg = cfg.get("capture") or {}
    capture_args = [str(a) for a in capture_cfg.get("args") or []]
    _reject_owned(capture_args, ("model_zoo", "benchmark", "out_dir", "unit", "merge_only", "print_units"), "capture.args")
    common_capture = (f"model_zoo={zoo.name}", f"out_dir={capture_dir}", *capture_args)

    if "capture" in stages:
        plan.units = capture_tasks(zoo, benchmarks)
        by_gpus: dict[int, list[CaptureTask]] = {}
        for u in plan.units:
            by_gpus.setdefault(_gpus_for(u, capture_cfg.get("gpus")), []).append(u)
        capture_keys = []
        for n_gpus in sorted(by_gpus):
            units = by_gpus[n_gpus]
            key = "capture" if len(by_gpus) == 1 else f"capture_gpu{n_gpus}"
            capture_keys.append(key)
            remap = () if gpu_env_override else gpu_remap(zoo, n_gpus, zoo_order)
            plan.jobs.append(Job(
                key=f"{prefix}_{key}", stage="capture", script="slurm/capture.sbatch",
                args=(*common_capture, *remap, f"benchmark={selection}"),
                resources=Resources.from_mapping("capture", capture_cfg, gpus=n_gpus),
                array=tuple(u.index for u in units),
                tasks=tuple(
                    f"{u.index}: {u.benchmark} / {u.category} = {u.model}"
                    + (f" (zoo gpus {list(u.gpus)})" if u.gpus else "")
                    for u in units
                ),
                max_parallel=_max_parallel("capture", capture_cfg.get("max_parallel")),
            ))
        plan.jobs.append(Job(
            key=f"{prefix}_merge", stage="merge", script="slurm/merge.sbatch",
            args=(bench_list, *common_capture),
            resources=Resources.from_mapping("merge", cfg.get("merge") or {}),
            array=tuple(range(len(benchmarks))), tasks=bench_tasks,
            dependency=tuple(("afterok", f"{prefix}_{k}") for k in capture_keys),
        ))

    if "evaluate" in stages:
        ev_cfg = cfg.get("evaluate") or {}
        ev_args = [str(a) for a in ev_cfg.get("args") or []]
        _reject_owned(ev_args, ("data_dir", "model_zoo", "benchmark", "sweep", "hydra.run.dir", "out_dir", "report", "report_only"), "evaluate.args")
        common_ev = (
            f"data_dir={capture_dir}", f"model_zoo={zoo.name}", f"sweep={cfg.get('sweep') or 'default'}",
            f"hydra.run.dir={evaluate_dir}",
        )
        ev_res = Resources.from_mapping("evaluate", ev_cfg)
        # The sweep's worker processes default to every core of the machine;
        # on a shared node use the CPUs Slurm gives the task (user args win).
        workers = ()
        if ev_res.cpus_per_task and _last_value(ev_args, "n_jobs") is None:
            workers = (f"n_jobs={ev_res.cpus_per_task}",)
        # Scenarios (scenario=...) span benchmarks (e.g. one concatenated
        # stream) and write their own runs file, so the per-benchmark tasks
        # run the main grid only and one job over the whole selection runs
        # the scenarios after them (its main-grid runs are already recorded,
        # and the evaluate stage skips recorded runs).
        scenario = _last_value(ev_args, "scenario")
        per_task = [a for a in ev_args if _key(a) != "scenario"]
        plan.jobs.append(Job(
            key=f"{prefix}_evaluate", stage="evaluate", script="slurm/evaluate.sbatch",
            args=(bench_list, *common_ev, *workers, *per_task),
            resources=ev_res,
            array=tuple(range(len(benchmarks))), tasks=bench_tasks,
            dependency=(("aftercorr", f"{prefix}_merge"),) if "capture" in stages else (),
            max_parallel=_max_parallel("evaluate", ev_cfg.get("max_parallel")),
        ))
        last = f"{prefix}_evaluate"
        if scenario not in (None, "none", "null"):
            plan.jobs.append(Job(
                key=f"{prefix}_scenarios", stage="scenarios", script="slurm/scenarios.sbatch",
                args=(*common_ev, *workers, *ev_args, f"benchmark={selection}"),
                resources=ev_res,
                tasks=(f"scenario={scenario} over benchmark={selection}",),
                dependency=(("afterok", last),),
            ))
            last = f"{prefix}_scenarios"
        plan.jobs.append(Job(
            key=f"{prefix}_aggregate", stage="aggregate", script="slurm/aggregate.sbatch",
            args=(*common_ev, *ev_args, f"benchmark={selection}"),
            resources=Resources.from_mapping("aggregate", cfg.get("aggregate") or {}),
            dependency=(("afterok", last),),
        ))
    return plan


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _last_value(args: Sequence[str], key: str) -> str | None:
    values = [a.split("=", 1)[1] for a in args if "=" in a and _key(a) == key]
    return values[-1] if values else None


def gpu_remap(zoo: ModelZoo, n_gpus: int, zoo_order: Sequence[str] | None = None) -> tuple[str, ...]:
    """Overrides that renumber the zoo's GPU indices for a task granted `n_gpus` GPUs.

    Slurm shows a task only the GPUs it granted, numbered from 0
    (CUDA_VISIBLE_DEVICES), whereas a zoo may place a model on, say, GPU 2 of
    a workstation; the capture stage checks every model's indices against the
    visible GPUs. A model whose indices do not fit is moved to the first ones
    (the task's own model needs exactly n_gpus, so it gets all of them; the
    others are not loaded by this task).
    """
    if n_gpus <= 0:
        return ()
    order = list(zoo_order) if zoo_order else zoo.categories
    by_cat = {m.category: m for m in zoo.models}
    out = []
    for i, cat in enumerate(order):
        gpus = by_cat[cat].gpus if cat in by_cat else ()
        if gpus and max(gpus) >= n_gpus:
            new = list(range(min(len(set(gpus)), n_gpus)))
            out.append(f"model_zoo.models.{i}.backend_args.gpus=[{','.join(map(str, new))}]")
    return tuple(out)


def _reject_owned(args: Sequence[str], owned: Sequence[str], where: str) -> None:
    """The planner sets these overrides itself; a second value would make Hydra fail in every task."""
    for a in args:
        key = _key(a)
        if key in owned:
            raise ConfigError(
                f"{where}: `{a}` is set by submit.sh itself ({', '.join(owned)}); "
                f"use the top-level key instead (e.g. model_zoo=..., benchmark=..., capture_dir=..., evaluate_dir=...)."
            )


def sbatch_command(job: Job, plan: SlurmPlan, job_ids: Mapping[str, str], *, test_only: bool = False) -> list[str]:
    """The sbatch command line of `job`; dependencies name ids of jobs already submitted."""
    cmd = ["sbatch", "--parsable", f"--job-name={job.name}", "--open-mode=append"]
    if job.array is not None:
        arr = compress_indices(job.array)
        if job.max_parallel:
            arr += f"%{job.max_parallel}"
        cmd += [f"--array={arr}", f"--output={plan.log_dir}/%x_%A_%a.out"]
    else:
        cmd += [f"--output={plan.log_dir}/%x_%j.out"]
    if job.requeue:
        cmd.append("--requeue")
    if job.dependency:
        by_type: dict[str, list[str]] = {}
        for dep_type, key in job.dependency:
            by_type.setdefault(dep_type, []).append(job_ids.get(key, f"<{key}>"))
        cmd.append("--dependency=" + ",".join(f"{t}:{':'.join(ids)}" for t, ids in by_type.items()))
        # Portable twin of DependencyParameters=kill_invalid_depend: a job whose
        # parent failed is cancelled instead of pending forever.
        cmd.append("--kill-on-invalid-dep=yes")
    cmd += job.resources.sbatch_options(plan.gpu_env_override)
    if test_only:
        cmd.append("--test-only")
    cmd.append(job.script)
    cmd += list(job.args)
    return cmd


def format_plan(plan: SlurmPlan, job_ids: Mapping[str, str] | None = None, *, max_tasks: int = 40) -> str:
    """Human-readable job/array structure (what --dry-run prints)."""
    ids = dict(job_ids or {})
    lines = [
        f"experiment: zoo={plan.zoo} benchmark={plan.selection} ({len(plan.benchmarks)} benchmark(s): {', '.join(plan.benchmarks)})",
        f"  capture -> {plan.capture_dir}",
        f"  evaluate -> {plan.evaluate_dir}  (results.csv, summary.md, plots/)",
        f"  logs -> {plan.log_dir}",
    ]
    if plan.gpu_env_override:
        lines.append("  GPU requests: left to the SBATCH_GRES/SBATCH_GPUS* environment variables (set in this shell)")
    for n, job in enumerate(plan.jobs, 1):
        jid = ids.get(job.key, "(not submitted)")
        if job.array is not None:
            shape = f"array [{compress_indices(job.array)}] = {len(job.array)} task(s)"
            if job.max_parallel:
                shape += f", at most {job.max_parallel} at once"
        else:
            shape = "single job"
        deps = ", ".join(f"{t}:{k}" for t, k in job.dependency) or "none"
        lines.append(f"[{n}] {job.key}  id={jid}  {shape}")
        lines.append(f"      script: {job.script}   depends on: {deps}")
        lines.append(f"      resources: {job.resources.describe(plan.gpu_env_override)}")
        shown = job.tasks[:max_tasks]
        for t in shown:
            lines.append(f"      task {t}")
        if len(job.tasks) > len(shown):
            lines.append(f"      ... {len(job.tasks) - len(shown)} more task(s)")
    return "\n".join(lines)


def plan_as_dict(plan: SlurmPlan, job_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """JSON-able record of the plan (written beside the logs on submit)."""
    ids = dict(job_ids or {})
    return {
        "zoo": plan.zoo,
        "benchmark": plan.selection,
        "benchmarks": plan.benchmarks,
        "capture_dir": str(plan.capture_dir),
        "evaluate_dir": str(plan.evaluate_dir),
        "log_dir": str(plan.log_dir),
        "gpu_env_override": plan.gpu_env_override,
        # same keys as the capture stage's `print_units=true`
        "units": [{"unit": u.index, "benchmark": u.benchmark, "category": u.category, "model": u.model,
                   "gpus": list(u.gpus)} for u in plan.units],
        "jobs": [
            {
                "key": j.key,
                "stage": j.stage,
                "job_id": ids.get(j.key),
                "array": list(j.array) if j.array is not None else None,
                "tasks": list(j.tasks),
                "dependency": [list(d) for d in j.dependency],
                "sbatch": sbatch_command(j, plan, ids),
            }
            for j in plan.jobs
        ],
    }
