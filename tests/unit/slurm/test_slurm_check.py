"""submit.sh validates every job's stage arguments before it submits anything (no Slurm needed)."""

from __future__ import annotations

import re

import pytest

from helpers.evaluate import config as evaluate_config

from helpers.config import REPO

from messplus_core.slurm.check import SCRIPT_TAILS, job_config, validate_plan
from messplus_core.slurm.submit import main, make_plan


SCRIPTS = {"capture": "capture", "merge": "merge", "evaluate": "evaluate", "scenarios": "scenarios", "aggregate": "aggregate"}


@pytest.mark.parametrize("stage", sorted(SCRIPT_TAILS))
def test_script_tails_are_what_the_sbatch_scripts_append(stage):
    text = (REPO / "slurm" / f"{SCRIPTS[stage]}.sbatch").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("exec "))
    tail = line.split('"$@"', 1)[1].split()
    shell = {"${SLURM_ARRAY_TASK_ID}": "{task}", "$BENCH": "{bench}"}
    normalised = []
    for part in tail:
        part = part.replace('"', "")
        for var, placeholder in shell.items():
            part = part.replace(var, placeholder)
        normalised.append(part)
    assert tuple(normalised) == SCRIPT_TAILS[stage]


@pytest.mark.parametrize("flag, args, message", [
    ("--evaluate-args", "alpha=1.5", r"messplus_evaluate task 0 would fail: .*alpha must lie in \(0, 1\), got 1.5"),
    ("--evaluate-args", "cost=tme", "cost must be energy or time, got 'tme'"),
    ("--evaluate-args", "limt=5", r"cannot compose its config .*Could not override 'limt'"),
    ("--evaluate-args", "seed=abc", "seed must be an integer"),
    ("--capture-args", "limt=5", r"messplus_capture task 0 would fail: .*Could not override 'limt'"),
    ("--capture-args", "backend=tpu", "backend must be one of"),
])
def test_bad_stage_arguments_fail_at_submit_time(tmp_path, monkeypatch, capsys, flag, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("messplus_core.slurm.submit.submit", lambda *a, **k: pytest.fail("submitted"))
    assert main(["--dry-run", "model_zoo=llama3", "benchmark=[boolq,piqa]", flag, args]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "nothing submitted" in err


def test_each_planned_job_composes_the_config_a_local_run_would(tmp_path):
    user = ["cost=time", "alpha=0.6", "logger=none", "feedback_rate=0.5"]
    plan, _ = make_plan(["model_zoo=llama3", "benchmark=[boolq,piqa]", "sweep=paper"], ["limit=5"], user, environ={},
                        cwd=tmp_path)
    validate_plan(plan, REPO, capture_exists=False)
    # set by submit.sh / the scripts for the split of the work; out_dir: the scripts pass the plan's output folder
    # (hydra.run.dir), and the default otherwise composed is a timestamp that differs between two compositions
    owned = {"n_jobs", "report", "report_only", "out_dir"}
    for i, bench in enumerate(["boolq", "piqa"]):
        job = {k: v for k, v in job_config(REPO, plan.job("messplus_evaluate"), i).items() if k not in owned}
        local = {k: v for k, v in evaluate_config(f"data_dir={plan.capture_dir}", "model_zoo=llama3", "sweep=paper",
                                                  *user, f"benchmark={bench}").items() if k not in owned}
        assert job == local
    aggregate = job_config(REPO, plan.job("messplus_aggregate"))
    assert aggregate["cost"] == "time" and aggregate["alpha"] == 0.6 and set(aggregate["benchmarks"]) == {"boolq", "piqa"}

    capture = job_config(REPO, plan.job("messplus_capture"), 2)
    assert capture == capture_config("model_zoo=llama3", f"out_dir={plan.capture_dir}", "limit=5", "benchmark=[boolq,piqa]",
                                     "unit=2")


def capture_config(*overrides: str) -> dict:
    """conf/capture.yaml composed locally, as capture/run.py would."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        return OmegaConf.to_container(compose("capture", overrides=list(overrides)), resolve=True)


def test_a_config_search_path_reaches_every_job(tmp_path, monkeypatch):
    conf = tmp_path / "myconf"
    (conf / "model_zoo").mkdir(parents=True)
    text = (REPO / "conf" / "model_zoo" / "tiny.yaml").read_text().replace("name: tiny", "name: myzoo")
    (conf / "model_zoo" / "myzoo.yaml").write_text(text)
    search = f"hydra.searchpath=[file://{conf}]"
    plan, _ = make_plan([search, "model_zoo=myzoo", "benchmark=demo"], [], ["logger=none"], environ={}, cwd=tmp_path)
    validate_plan(plan, REPO, capture_exists=False)
    for job in plan.jobs:
        assert search in job.args
        assert job_config(REPO, job)["model_zoo"]["name"] == "myzoo"
