"""Submit a whole experiment to Slurm: `python -m messplus_core.slurm.submit` (behind slurm/submit.sh).

    slurm/submit.sh [--dry-run] [--capture-args "..."] [--evaluate-args "..."] \
        model_zoo=llama3 benchmark=all [sweep=paper] [capture.time=24:00:00 ...]

Positional `key=value` arguments are Hydra overrides of `conf/slurm.yaml`
(which composes the same model_zoo and benchmark groups as the stages).
`--capture-args` / `--evaluate-args` append overrides passed through to
capture/run.py and evaluate/run.py in every task. `--dry-run` prints the
job/array structure and the sbatch command lines without submitting;
`--test-only` also asks Slurm (`sbatch --test-only`) whether each job's
resources could be scheduled. On submit, the job ids and the plan are
printed and written to `<log_dir>/submission-<first job id>.json` and
`<log_dir>/latest.json`; `--wait S` then blocks until every job is done.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from messplus_core.errors import ConfigError
from messplus_core.slurm.check import validate_plan
from messplus_core.slurm.plan import SlurmPlan, build_plan, format_plan, plan_as_dict, sbatch_command
from messplus_core.slurm.watch import wait_for_jobs
from messplus_core.specs import ModelZoo


def repo_root() -> Path:
    """The repository whose conf/, slurm/ and stage scripts the jobs use.

    Jobs run from it (sbatch's submit directory). MESSPLUS_REPO points
    elsewhere, e.g. a deployed copy on a shared file system.
    """
    return Path(os.environ.get("MESSPLUS_REPO") or Path(__file__).resolve().parents[2]).resolve()


def compose(overrides: Sequence[str], config_name: str = "slurm") -> Any:
    """The Hydra config of `config_name` under conf/ with these overrides (and its `hydra` node)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from messplus_core.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(repo_root() / "conf"), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)


def benchmark_selection(overrides: Sequence[str]) -> str:
    """The `benchmark=` override exactly as given (forwarded unchanged to capture and aggregate)."""
    values = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == "benchmark"]
    if not values:
        raise ConfigError("pass benchmark=<name>, benchmark=[a,b] or benchmark=all.")
    return values[-1]


def make_plan(overrides: Sequence[str], extra_capture: Sequence[str] = (), extra_evaluate: Sequence[str] = (),
              environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[SlurmPlan, dict[str, Any]]:
    """Compose conf/slurm.yaml with `overrides` and build the plan; also returns the resolved config as plain
    containers. Relative folders resolve against `cwd`; `extra_capture`/`extra_evaluate` and any
    hydra.searchpath override reach every task of that stage. ConfigError for an invalid selection."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError

    environ = os.environ if environ is None else environ
    cfg = compose(overrides)
    # Group choices as Hydra made them (sweep is a config group of the evaluate stage).
    choices = dict(cfg.hydra.runtime.choices)
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra")
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
    except InterpolationResolutionError as err:  # e.g. oc.decode of an empty MESSPLUS_SLURM_*_CPUS
        key = getattr(err, "full_key", None) or "a value"
        raise ConfigError(f"slurm: conf/slurm.yaml's {key} could not be read from the environment "
                          f"({str(err).splitlines()[0]}); set its MESSPLUS_SLURM_* variable to a value or unset it.") from None
    plain["sweep"] = choices.get("sweep") or "default"
    # Config search paths given to submit.sh (e.g. a zoo of the user's own) must reach every stage too.
    search = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") == "hydra.searchpath"]
    plain.setdefault("capture", {})["args"] = list(plain["capture"].get("args") or []) + search + list(extra_capture)
    plain.setdefault("evaluate", {})["args"] = list(plain["evaluate"].get("args") or []) + search + list(extra_evaluate)
    zoo = ModelZoo.from_mapping(plain["model_zoo"])
    benchmarks = list((plain.get("benchmarks") or {}).keys())
    base = (cwd or Path.cwd()).resolve()

    def path(key: str) -> Path:
        p = Path(str(plain[key])).expanduser()
        return p if p.is_absolute() else (base / p)

    plan = build_plan(
        zoo=zoo, benchmarks=benchmarks, selection=benchmark_selection(overrides), cfg=plain,
        out_dir=path("out_dir"), capture_dir=path("capture_dir"), evaluate_dir=path("evaluate_dir"),
        log_dir=path("log_dir"), environ=environ,
        zoo_order=[str(m.get("category")) for m in plain["model_zoo"].get("models") or []],
    )
    return plan, plain


def test_only(plan: SlurmPlan, python: str, out=sys.stdout) -> bool:
    """`sbatch --test-only` for every job (without dependencies, whose ids do not exist yet)."""
    ok = True
    env = dict(os.environ, MESSPLUS_PYTHON=python)
    print("sbatch --test-only (Slurm's answer per job; nothing is queued):", file=out)
    for job in plan.jobs:
        cmd = [c for c in sbatch_command(job, plan, {}, test_only=True)
               if not c.startswith(("--dependency=", "--kill-on-invalid-dep"))]
        try:
            proc = subprocess.run(cmd, cwd=repo_root(), env=env, capture_output=True, text=True, timeout=60)
            answer = (proc.stderr.strip() or proc.stdout.strip()).replace("\n", " | ")
            accepted = proc.returncode == 0
        except FileNotFoundError:
            answer, accepted = "sbatch not found (not on a Slurm cluster?)", False
        ok &= accepted
        print(f"  {job.key}: {'ok' if accepted else 'REJECTED'}: {answer}", file=out)
    return ok


def submit(plan: SlurmPlan, python: str, environ: Mapping[str, str]) -> dict[str, str]:
    """sbatch every job in order; returns job key -> Slurm job id."""
    plan.log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(environ)
    # Jobs inherit the submitting environment (sbatch's default --export=ALL):
    # this is how every task finds the same interpreter.
    env["MESSPLUS_PYTHON"] = python
    ids: dict[str, str] = {}
    for job in plan.jobs:
        cmd = sbatch_command(job, plan, ids)
        proc = subprocess.run(cmd, cwd=repo_root(), env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            done = ", ".join(f"{k}={v}" for k, v in ids.items()) or "none"
            raise RuntimeError(
                f"sbatch failed for {job.key} (exit {proc.returncode}): {proc.stderr.strip()}\n"
                f"command: {shlex.join(cmd)}\nalready submitted: {done} (scancel them if needed)"
            )
        m = re.match(r"^(\d+)", proc.stdout.strip())
        if not m:
            raise RuntimeError(f"sbatch for {job.key} printed no job id: {proc.stdout!r}")
        ids[job.key] = m.group(1)
    return ids


def main(argv: Sequence[str] | None = None) -> int:
    """`slurm/submit.sh`: plan, then print (--dry-run, --test-only) or submit, optionally --wait. Returns the
    exit status: 0 done, 2 config error (one line), 1 sbatch failure or a task that did not complete."""
    ap = argparse.ArgumentParser(
        prog="slurm/submit.sh",
        description="Submit capture (array + merge) and evaluate (array + aggregate) as Slurm jobs with dependencies.",
    )
    ap.add_argument("--dry-run", dest="dry_run", action="store_true",
                    help="print the job/array structure and sbatch commands; submit nothing")
    ap.add_argument("--test-only", dest="test_only", action="store_true",
                    help="as --dry-run, and ask Slurm (sbatch --test-only) whether each job's resources "
                         "could be scheduled on this cluster (dependencies left out); submits nothing")
    ap.add_argument("--capture-args", action="append", default=[], metavar="'k=v ...'",
                    help="overrides for capture/run.py in every capture and merge task (repeatable)")
    ap.add_argument("--evaluate-args", action="append", default=[], metavar="'k=v ...'",
                    help="overrides for evaluate/run.py in every evaluate and aggregate task (repeatable)")
    ap.add_argument("--json", action="store_true", help="print the plan (and job ids) as JSON instead of text")
    ap.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                    help="after submitting, wait (at most SECONDS) for every job; exit 1 unless all completed")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of conf/slurm.yaml (model_zoo=..., benchmark=..., ...)")
    args = ap.parse_args(argv)

    extra_c = [a for s in args.capture_args for a in shlex.split(s)]
    extra_e = [a for s in args.evaluate_args for a in shlex.split(s)]
    try:
        plan, plain = make_plan(args.overrides, extra_c, extra_e)
        validate_plan(plan, repo_root(), capture_exists="capture" not in {j.stage for j in plan.jobs})
    except ConfigError as e:
        print(f"submit: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # Hydra composition errors (unknown zoo, missing group...)
        print(f"submit: cannot compose conf/slurm.yaml with {list(args.overrides)}: {e}", file=sys.stderr)
        return 2
    python = plain.get("python") or sys.executable

    if args.dry_run or args.test_only:
        if args.json:
            print(json.dumps(plan_as_dict(plan), indent=2))
        else:
            print("DRY RUN: nothing submitted.")
            print(format_plan(plan))
            print("sbatch commands (<key> = id of that earlier job):")
            for job in plan.jobs:
                print("  " + shlex.join(sbatch_command(job, plan, {})))
        if args.test_only:
            return 0 if test_only(plan, python) else 1
        return 0

    try:
        ids = submit(plan, python, os.environ)
    except (RuntimeError, FileNotFoundError) as e:
        print(f"submit: {e}", file=sys.stderr)
        return 1
    record = plan_as_dict(plan, ids) | {"python": python}
    first = next(iter(ids.values()))
    for name in (f"submission-{first}.json", "latest.json"):
        (plan.log_dir / name).write_text(json.dumps(record, indent=2) + "\n")
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(format_plan(plan, ids))
        print(f"submitted: {' '.join(f'{k}={v}' for k, v in ids.items())}")
        print(f"record: {plan.log_dir / 'latest.json'}   watch: squeue -j {','.join(ids.values())}")
    if args.wait is not None:
        try:
            states = wait_for_jobs(list(ids.values()), args.wait)
        except TimeoutError as e:
            print(f"submit: {e}", file=sys.stderr)
            return 1
        bad = {k: v for k, v in states.items() if v[0] != "COMPLETED"}
        for k, (state, code) in sorted(states.items()):
            print(f"  {k}: {state} (exit {code})")
        if bad:
            print(f"submit: {len(bad)} task(s) did not complete; logs in {plan.log_dir}", file=sys.stderr)
            return 1
        print(f"all {len(states)} task(s) completed; capture: {plan.capture_dir}, evaluate: {plan.evaluate_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
