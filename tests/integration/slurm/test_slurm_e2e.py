"""The whole pipeline as Slurm array jobs on a real one-node Slurm, against a local run.

1. tiny-zoo capture of the demo benchmark (one array task per unit) -> merge ->
   evaluate array -> aggregate, submitted by slurm/submit.sh; every task must
   complete, and the outputs must equal a local, non-Slurm run of the same
   config: the capture CSV has the same rows, texts and labels (times are
   measured, so they differ run to run), and results.csv / summary.md are the
   same for the same seed. Because the routers see measured times
   (cost=time: this machine has no energy counter), two captures route
   differently; so the local evaluate reads the Slurm capture, which makes
   "same results for the same seed" an exact comparison.
2. A capture array task is cancelled (scancel) mid-run, the experiment is
   resubmitted, and the final CSV holds every document exactly once.

GPU requests of the zoo are neutralised by SBATCH_GRES=none etc. (helpers/slurm.py: NO_GPU_ENV).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import slurm as ss

from messplus_core.slurm.watch import wait_for_jobs

LIMIT = 24                       # documents per capture unit (keeps CI short)
WAIT_S = 900                     # bound for one whole pipeline on the 2-core node
# No energy counter on this machine: energy is NaN and routing optimises time,
# as in the demo.
CAPTURE_ARGS = "backend=hf device=cpu"
EVALUATE_ARGS = "logger=none cost=time seed=42 n_jobs=1"
DEMO_JSONL = ss.REPO / "messplus_core" / "capture" / "tasks" / "demo" / "demo.jsonl"


@pytest.fixture(scope="module")
def cluster(cluster, tmp_path_factory):
    """The shared cluster fixture, plus a ready tiny zoo and small per-task requests."""
    for path in ("capture/run.py", "evaluate/run.py", "conf/model_zoo/tiny.yaml", "conf/benchmark/demo.yaml"):
        assert (ss.REPO / path).exists(), f"{path} is missing: the pipeline under test is incomplete"
    env = dict(cluster)
    t0 = time.monotonic()
    # The tiny zoo is built (trained briefly) on first use, which takes minutes
    # on two cores. Build it once, up front, so that both the Slurm and the
    # local pipeline below run with the same ready models and their wall times
    # compare like with like. MESSPLUS_TINY_DIR from the environment is reused.
    # In a full `make test`, the capture tests have already built it into
    # this session's temp folder: reuse that build (same recipe, same seed)
    # rather than spend minutes of CI on an identical copy.
    if not env.get("MESSPLUS_TINY_DIR"):
        built = [d for d in sorted(tmp_path_factory.getbasetemp().glob("tiny_models*"))
                 if all((d / m / "build.json").exists() for m in ("small", "medium", "large"))]
        env["MESSPLUS_TINY_DIR"] = str(built[0] if built else tmp_path_factory.mktemp("tiny_zoo"))
    run_local(env, "capture/run.py", "model_zoo=tiny", "benchmark=demo", "limit=1", *CAPTURE_ARGS.split(),
              f"out_dir={tmp_path_factory.mktemp('warm_up')}", timeout=1500)
    print(f"\ntiny zoo ready in {env['MESSPLUS_TINY_DIR']} ({time.monotonic() - t0:.0f} s)")
    # Small requests that fit the node: from the environment, no script edited.
    for stage in ("CAPTURE", "MERGE", "EVALUATE", "AGGREGATE"):
        env[f"MESSPLUS_SLURM_{stage}_CPUS"] = "1"
        env[f"MESSPLUS_SLURM_{stage}_MEM"] = "3G"
    env["MESSPLUS_SLURM_CAPTURE_TIME"] = "00:20:00"
    yield env


def run_local(env, *cmd, timeout=900):
    proc = subprocess.run([sys.executable, *cmd], cwd=ss.REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def label_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(("label_", "acc_"))]


def all_completed(states, log_dir):
    bad = {k: v for k, v in states.items() if v[0] != "COMPLETED"}
    assert not bad, f"tasks not completed: {bad}\n{ss.log_tail(log_dir)}"


def test_pipeline_on_slurm_equals_local_run(cluster, tmp_path):
    out = tmp_path / "slurm"
    started = time.monotonic()
    record = json.loads(ss.submit(
        cluster, "model_zoo=tiny", "benchmark=demo", "sweep=default", f"out_dir={out}",
        "--capture-args", f"{CAPTURE_ARGS} limit={LIMIT}",
        "--evaluate-args", f"{EVALUATE_ARGS} cache_dir={tmp_path / 'cache_slurm'}",
    ).stdout)
    jobs = {j["stage"]: j for j in record["jobs"]}
    assert list(jobs) == ["capture", "merge", "evaluate", "aggregate"]
    n_units = len(jobs["capture"]["array"])
    assert n_units == len(record["units"]) >= 2
    states = wait_for_jobs([j["job_id"] for j in record["jobs"]], timeout_s=WAIT_S)
    slurm_s = time.monotonic() - started
    all_completed(states, out / "logs")
    assert len(states) == n_units + 1 + 1 + 1, states  # every array task reported, none missing

    # The same config, locally: capture (all units, then the merge it does itself) ...
    local = tmp_path / "local"
    started = time.monotonic()
    run_local(cluster, "capture/run.py", "model_zoo=tiny", "benchmark=demo", *CAPTURE_ARGS.split(),
              f"limit={LIMIT}", f"out_dir={local / 'capture'}")
    # ... and evaluate, on the Slurm capture (see the module docstring), with its own embedding cache.
    run_local(cluster, "evaluate/run.py", f"data_dir={out / 'capture'}", "model_zoo=tiny", "benchmark=demo",
              "sweep=default", *EVALUATE_ARGS.split(), f"cache_dir={tmp_path / 'cache_local'}",
              f"hydra.run.dir={local / 'evaluate'}")
    local_s = time.monotonic() - started
    print(f"\nwall time: Slurm pipeline {slurm_s:.1f} s (submit to aggregate done), local pipeline {local_s:.1f} s")
    (tmp_path / "timings.json").write_text(json.dumps({"slurm_s": slurm_s, "local_s": local_s}))

    s_csv = pd.read_csv(out / "capture" / "demo.csv")
    l_csv = pd.read_csv(local / "capture" / "demo.csv")
    assert len(s_csv) == LIMIT and s_csv["doc_id"].is_unique
    same = ["doc_id", "input_text", "benchmark_name", *label_columns(l_csv)]
    assert len(label_columns(l_csv)) == 2 * n_units  # label_X and acc_X per model
    pd.testing.assert_frame_equal(s_csv.sort_values("doc_id")[same].reset_index(drop=True),
                                  l_csv.sort_values("doc_id")[same].reset_index(drop=True))
    assert sorted(s_csv.columns) == sorted(l_csv.columns)
    times = s_csv[[c for c in s_csv.columns if c.startswith("inference_time_")]]
    assert times.shape[1] == n_units and (times > 0).all().all()
    manifest = json.loads((out / "capture" / "manifest.json").read_text())
    assert "demo" in manifest["benchmarks"]

    n = ss.assert_same_results(out / "evaluate" / "results.csv", local / "evaluate" / "results.csv")
    assert n > 0
    assert (out / "evaluate" / "summary.md").read_text() == (local / "evaluate" / "summary.md").read_text()
    assert sorted(p.name for p in (out / "evaluate" / "plots").glob("*.png")) == \
        sorted(p.name for p in (local / "evaluate" / "plots").glob("*.png"))


def shard_docs(shard: Path) -> int:
    """Documents durably written so far to a capture shard (`<category>.shard.jsonl`: a header line, then one per document)."""
    if not shard.exists():
        return 0
    lines = shard.read_bytes().split(b"\n")[:-1]  # a torn last line does not count
    return max(sum(1 for ln in lines if ln.strip()) - 1, 0)


def test_cancelled_capture_task_resumes_exactly_once(cluster, tmp_path):
    out = tmp_path / "slurm"
    args = ("model_zoo=tiny", "benchmark=demo", "stages=[capture]", f"out_dir={out}",
            "--capture-args", CAPTURE_ARGS)
    record = json.loads(ss.submit(cluster, *args).stdout)
    cap = next(j for j in record["jobs"] if j["stage"] == "capture")
    merge = next(j for j in record["jobs"] if j["stage"] == "merge")
    victim = record["units"][-1]           # the largest model: the slowest unit
    task = f"{cap['job_id']}_{victim['unit']}"
    shard = out / "capture" / victim["benchmark"] / f"{victim['category']}.shard.jsonl"

    # Cancel once the task has written some documents (a tenth of the demo's
    # 100), well before it is done; the assertions below check it was mid-run.
    deadline = time.monotonic() + 600
    written = 0
    while time.monotonic() < deadline and written < 10:
        written = shard_docs(shard)
        time.sleep(0.02)
    assert written > 0, f"unit {victim} wrote nothing in time\n{ss.log_tail(out / 'logs')}"
    subprocess.run(["scancel", task], env=cluster, check=True)
    states = wait_for_jobs([cap["job_id"], merge["job_id"]], timeout_s=300)
    assert states[task][0] == "CANCELLED", states
    at_cancel = shard_docs(shard)
    # The merge job never ran (its afterok parent was cancelled), and the
    # cancelled unit is incomplete, so no CSV exists yet.
    assert set(s for k, (s, _) in states.items() if k.startswith(merge["job_id"])) == {"CANCELLED"}, states
    assert not (out / "capture" / "demo.csv").exists()

    # Resubmit the same experiment: finished units have nothing left to do,
    # the cancelled one resumes from its shard.
    record2 = json.loads(ss.submit(cluster, *args).stdout)
    states = wait_for_jobs([j["job_id"] for j in record2["jobs"]], timeout_s=WAIT_S)
    all_completed(states, out / "logs")
    final = pd.read_csv(out / "capture" / "demo.csv")
    assert final["doc_id"].is_unique, final["doc_id"][final["doc_id"].duplicated()].tolist()
    shipped = sum(1 for line in DEMO_JSONL.read_text().splitlines() if line.strip())
    assert sorted(final["doc_id"]) == list(range(shipped)), "documents missing from the merged CSV"
    assert at_cancel < len(final), f"the task was not cancelled mid-run ({at_cancel} of {len(final)} rows written)"
    # The resumed task reused what the cancelled one had written instead of redoing it.
    new_cap = next(j for j in record2["jobs"] if j["stage"] == "capture")
    log = (out / "logs" / f"{new_cap['key']}_{new_cap['job_id']}_{victim['unit']}.out").read_text()
    m = re.search(r"(\d+) docs measured, (\d+) reused from the shard", log)
    assert m, log[-2000:]
    assert int(m.group(2)) == at_cancel and int(m.group(1)) + at_cancel == shipped, m.group(0)
    labels = final[label_columns(final)]
    assert labels.notna().all().all() and labels.isin([0, 1]).all().all()
    print(f"\nscancel/resume: cancelled {task} after {at_cancel} of {len(final)} documents; "
          f"after resubmission {len(final)} rows, {final['doc_id'].nunique()} unique doc_ids")
