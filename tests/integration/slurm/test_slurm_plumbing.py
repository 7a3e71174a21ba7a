"""slurm/ on a real one-node Slurm with stand-in stages: ordering, arguments, failure propagation.

Fast (seconds) and independent of the two stages: a copy of conf/ and slurm/
with stub `capture/run.py` and `evaluate/run.py` that record what each task
was asked to do and check that what it depends on already exists. The real
pipeline is tested in test_slurm_e2e.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import pytest

from helpers import slurm as ss

from messplus_core.slurm.watch import wait_for_jobs

CAPTURE_STUB = r'''
import json, os, sys, time
from pathlib import Path
args = dict(a.split("=", 1) for a in sys.argv[1:])
out = Path(args["out_dir"]); (out / "units").mkdir(parents=True, exist_ok=True)
env = {k: os.environ.get(k) for k in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NAME")}
if args.get("merge_only") == "true":
    units = sorted(int(p.stem) for p in (out / "units").glob("*.json"))
    (out / f"{args['benchmark']}.csv").write_text(json.dumps({"args": args, "units_seen": units, "env": env}))
else:
    unit = int(args["unit"])
    if os.environ.get("STUB_FAIL_UNIT") == str(unit):
        sys.exit(3)
    time.sleep(0.5)
    (out / "units" / f"{unit}.json").write_text(json.dumps({"args": args, "env": env}))
'''

EVALUATE_STUB = r'''
import json, os, sys
from pathlib import Path
args = dict(a.split("=", 1) for a in sys.argv[1:])
out = Path(args["hydra.run.dir"]); (out / "runs").mkdir(parents=True, exist_ok=True)
if args.get("report_only") == "true":
    runs = {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.jsonl"))}
    (out / "results.csv").write_text(json.dumps({"args": args, "runs": runs}))
else:
    data = Path(args["data_dir"]) / f"{args['benchmark']}.csv"
    merged = json.loads(data.read_text())  # fails if the merge of this benchmark has not run
    (out / "runs" / f"{args['benchmark']}.jsonl").write_text(json.dumps({"args": args, "merged": merged["args"]}))
'''


@pytest.fixture
def stub_repo(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ss.REPO / "conf", repo / "conf")
    shutil.copytree(ss.REPO / "slurm", repo / "slurm")
    for stage, code in (("capture", CAPTURE_STUB), ("evaluate", EVALUATE_STUB)):
        (repo / stage).mkdir()
        (repo / stage / "run.py").write_text(textwrap.dedent(code))
    return repo


def submit_stub(cluster, repo, out, *extra, env_extra=None):
    env = dict(cluster, MESSPLUS_REPO=str(repo), **(env_extra or {}))
    # 8 CPUs / 64G per capture task would not fit this node: the resources
    # come from the environment and the command line, not from script edits.
    env.update(MESSPLUS_SLURM_CAPTURE_CPUS="1", MESSPLUS_SLURM_EVALUATE_CPUS="1", MESSPLUS_SLURM_AGGREGATE_CPUS="1")
    proc = ss.submit(env, "model_zoo=llama3", "benchmark=[boolq,piqa]", f"out_dir={out}",
                     "capture.mem=100M", "merge.mem=100M", "evaluate.mem=100M", "aggregate.mem=100M",
                     "capture.time=00:05:00", *extra)
    return json.loads(proc.stdout)


def test_dependencies_and_arguments(cluster, stub_repo, tmp_path):
    out = tmp_path / "exp"
    # One capture task at a time leaves a CPU free all along: a merge or
    # evaluate task not held back by its dependency would start on it, early,
    # and its stub would fail or see missing units.
    record = submit_stub(cluster, stub_repo, out, "capture.max_parallel=1", "--evaluate-args", "logger=none cost=time")
    ids = [j["job_id"] for j in record["jobs"]]
    states = wait_for_jobs(ids, timeout_s=120)
    assert all(s == "COMPLETED" for s, _ in states.values()), (states, ss.log_tail(out / "logs"))
    assert len(states) == 6 + 2 + 2 + 1  # 2 benchmarks x 3 models, 2 merges, 2 evaluations, 1 aggregate

    cap = out / "capture"
    for unit in range(6):
        seen = json.loads((cap / "units" / f"{unit}.json").read_text())
        assert seen["args"]["unit"] == str(unit) and seen["args"]["benchmark"] == "[boolq,piqa]"
        assert seen["args"]["model_zoo"] == "llama3" and seen["args"]["out_dir"] == str(cap)
        assert seen["env"]["SLURM_ARRAY_TASK_ID"] == str(unit)
    for b in ("boolq", "piqa"):
        merged = json.loads((cap / f"{b}.csv").read_text())
        assert merged["units_seen"] == list(range(6)), "merge ran before every capture task finished"
        assert merged["args"]["merge_only"] == "true" and merged["args"]["benchmark"] == b
    agg = json.loads((out / "evaluate" / "results.csv").read_text())
    assert agg["args"]["report_only"] == "true" and agg["args"]["benchmark"] == "[boolq,piqa]"
    assert sorted(agg["runs"]) == ["boolq", "piqa"]
    for b, run in agg["runs"].items():
        assert run["args"]["report"] == "false" and run["args"]["benchmark"] == b
        assert run["args"]["sweep"] == "default" and run["args"]["cost"] == "time"
        assert run["args"]["data_dir"] == str(cap) and run["merged"]["benchmark"] == b
    assert len(list((out / "logs").glob("messplus_capture_*.out"))) == 6
    assert (out / "logs" / "latest.json").exists()


def test_failed_capture_task_cancels_its_dependents(cluster, stub_repo, tmp_path):
    out = tmp_path / "exp"
    record = submit_stub(cluster, stub_repo, out, env_extra={"STUB_FAIL_UNIT": "4"})
    jobs = {j["stage"]: j["job_id"] for j in record["jobs"]}
    states = wait_for_jobs(list(jobs.values()), timeout_s=120)  # must not pend forever
    cap = jobs["capture"]
    assert states[f"{cap}_4"][0] == "FAILED", states
    assert all(states[f"{cap}_{u}"][0] == "COMPLETED" for u in (0, 1, 2, 3, 5)), states
    for stage in ("merge", "evaluate", "aggregate"):
        mine = [s for k, (s, _) in states.items() if k.split("_")[0] == jobs[stage]]
        assert mine and set(mine) == {"CANCELLED"}, (stage, states)
    assert not (out / "evaluate" / "results.csv").exists()


def test_test_only_asks_slurm_and_queues_nothing(cluster, tmp_path):
    """--test-only: Slurm judges every job's request (the zoo's GPU on this GPU-less node is refused)."""
    submit_sh = [str(ss.REPO / "slurm" / "submit.sh"), "--test-only", "model_zoo=llama3", "benchmark=boolq",
                 f"out_dir={tmp_path}", "capture.cpus_per_task=1", "evaluate.cpus_per_task=1", "aggregate.cpus_per_task=1",
                 "capture.mem=100M", "merge.mem=100M", "evaluate.mem=100M", "aggregate.mem=100M"]
    gpu_env = {k: v for k, v in cluster.items() if k not in ss.NO_GPU_ENV}
    before = subprocess_out(["squeue", "-h", "-o", "%i"], cluster)
    refused = subprocess.run(submit_sh, env=gpu_env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "messplus_capture: REJECTED" in refused.stdout and "messplus_merge: ok" in refused.stdout
    accepted = subprocess.run(submit_sh, env=cluster, capture_output=True, text=True, timeout=120)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout.count(": ok: ") == 4
    assert subprocess_out(["squeue", "-h", "-o", "%i"], cluster) == before
    assert not (tmp_path / "logs").exists()


def subprocess_out(cmd, env):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
