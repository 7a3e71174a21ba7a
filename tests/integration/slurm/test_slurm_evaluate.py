"""The evaluate half of the sbatch route on a real Slurm, on an existing capture, with a scenario.

`stages=[evaluate] capture_dir=...` (how one evaluates e.g. the authors'
published capture): per-benchmark evaluate array, the scenario job, the
aggregate job; results.csv and summary.md must equal one local run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from helpers import slurm as ss
from helpers.data import write_synthetic_capture

from messplus_core.slurm.watch import wait_for_jobs


def test_evaluate_only_with_scenario_equals_local_run(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", cluster["SLURM_CONF"])
    data = write_synthetic_capture(tmp_path / "capture", {"arc_challenge": 80, "boolq": 60})
    args = "logger=none seed=42 router=[single_model,mess_plus] scenario=sparse_feedback"
    env = dict(cluster, MESSPLUS_SLURM_EVALUATE_CPUS="1", MESSPLUS_SLURM_AGGREGATE_CPUS="1")
    record = json.loads(ss.submit(
        env, "model_zoo=llama3", "benchmark=[arc_challenge,boolq]", "stages=[evaluate]", f"capture_dir={data}",
        f"out_dir={tmp_path / 'slurm'}", "evaluate.mem=2G", "aggregate.mem=2G",
        "--evaluate-args", f"{args} cache_dir={tmp_path / 'cache_slurm'}").stdout)
    assert [j["stage"] for j in record["jobs"]] == ["evaluate", "scenarios", "aggregate"]
    states = wait_for_jobs([j["job_id"] for j in record["jobs"]], timeout_s=600)
    bad = {k: v for k, v in states.items() if v[0] != "COMPLETED"}
    assert not bad and len(states) == 4, f"{states}\n{ss.log_tail(tmp_path / 'slurm' / 'logs')}"

    local = subprocess.run(
        [sys.executable, "evaluate/run.py", f"data_dir={data}", "model_zoo=llama3", "benchmark=[arc_challenge,boolq]",
         "sweep=default", *args.split(), "n_jobs=1", f"cache_dir={tmp_path / 'cache_local'}",
         f"hydra.run.dir={tmp_path / 'local'}"],
        cwd=ss.REPO, env=cluster, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    out = tmp_path / "slurm" / "evaluate"
    assert ss.assert_same_results(out / "results.csv", tmp_path / "local" / "results.csv") > 0
    assert (out / "summary.md").read_text() == (tmp_path / "local" / "summary.md").read_text()
    scenarios = pd.read_csv(out / "results.csv")["scenario"].fillna("none")
    assert set(scenarios) == {"none", "sparse_feedback"}, set(scenarios)
