"""Submit-time validation of a Slurm plan: every job's stage config is composed and checked before sbatch runs.

Each sbatch script hands its stage the job's arguments plus a few of its own
(`SCRIPT_TAILS`, e.g. `unit=$SLURM_ARRAY_TASK_ID`). `stage_call` rebuilds that
exact override list for one array task, `job_config` composes it with Hydra
as the stage would, and `validate_plan` runs the stage's own checks on it
(`capture.settings.parse_settings`, `pipeline.plan`), so a typo (`cost=tme`,
`limt=5`) or a bad value (`alpha=1.5`) fails at submit time, not after the
whole capture array has run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from messplus_core.errors import ConfigError
from messplus_core.slurm.plan import Job, SlurmPlan

#: What each sbatch script appends to the job's arguments ({bench}: the task's benchmark, {task}: its array index).
#: Kept equal to the scripts' `exec` lines by tests/unit/slurm/test_slurm_check.py.
SCRIPT_TAILS: dict[str, tuple[str, ...]] = {
    "capture": ("unit={task}",),
    "merge": ("benchmark={bench}", "merge_only=true"),
    "evaluate": ("benchmark={bench}", "report=false", "hydra.output_subdir=.hydra/{bench}"),
    "scenarios": ("report=false", "hydra.output_subdir=.hydra/scenarios"),
    "aggregate": ("report_only=true", "hydra.output_subdir=.hydra/aggregate"),
}
#: The stage (Hydra config name) each job runs.
STAGE_CONFIG = {"capture": "capture", "merge": "capture", "evaluate": "evaluate", "scenarios": "evaluate",
                "aggregate": "evaluate"}
#: Jobs whose first argument is the comma-separated benchmark list the task index picks from.
PER_BENCHMARK = ("merge", "evaluate")


def stage_call(job: Job, task: int | None = None) -> tuple[str, list[str]]:
    """(config name, overrides) that `job`'s script passes to its stage in array task `task`."""
    args = list(job.args)
    bench = ""
    if job.stage in PER_BENCHMARK:
        benchmarks = args.pop(0).split(",")
        bench = benchmarks[task or 0]
    tail = [t.format(bench=bench, task=task if task is not None else (job.array or (0,))[0]) for t in SCRIPT_TAILS[job.stage]]
    return STAGE_CONFIG[job.stage], args + tail


def job_config(repo: Path, job: Job, task: int | None = None) -> dict[str, Any]:
    """The stage config `job` composes in array task `task`, resolved, without Hydra's own node."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    from messplus_core.cli import register_resolvers

    register_resolvers()
    name, overrides = stage_call(job, task)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(repo / "conf"), version_base=None):
        cfg = compose(config_name=name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.pop("hydra")
    return OmegaConf.to_container(cfg, resolve=True)


def tasks_to_check(job: Job) -> list[int | None]:
    """Array tasks whose configs differ: every benchmark of a per-benchmark array, one unit per capture array."""
    if job.array is None:
        return [None]
    return list(job.array) if job.stage in PER_BENCHMARK else [job.array[0]]


def validate_plan(plan: SlurmPlan, repo: Path, capture_exists: bool) -> None:
    """Compose and check every job's stage config; raise ConfigError naming the job, its task and the problem.

    `capture_exists`: the evaluate jobs' data folder exists already (evaluate-only
    route), so its data checks run too; otherwise only the config is checked.
    """
    from messplus_core.capture.settings import parse_settings
    from messplus_core.evaluate.pipeline import plan as evaluate_plan

    checks: dict[str, Callable[[dict[str, Any]], Any]] = {
        "capture": lambda cfg: parse_settings(cfg, repo),
        "evaluate": lambda cfg: evaluate_plan(cfg, check_data=capture_exists),
    }
    for job in plan.jobs:
        for task in tasks_to_check(job):
            where = f"{job.key}" + (f" task {task}" if task is not None else "")
            name, overrides = stage_call(job, task)
            try:
                checks[name](job_config(repo, job, task))
            except ConfigError as err:
                raise ConfigError(f"{where} would fail: {err} (nothing submitted)") from None
            except Exception as err:  # noqa: BLE001 - Hydra's composition errors: an unknown key, group or value
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise ConfigError(f"{where} would fail: {name}/run.py cannot compose its config from {overrides}: "
                                  f"{reason} (nothing submitted)") from None
