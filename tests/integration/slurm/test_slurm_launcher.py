"""`hydra/launcher=slurm`: an evaluate `-m` sweep through hydra-submitit-launcher on a real Slurm.

Each job of the sweep runs as a task of one Slurm array and must give the same
results.csv as the same config run locally.
"""

from __future__ import annotations

import subprocess
import sys


from helpers import slurm as ss
from helpers.data import write_synthetic_capture


def test_multirun_on_slurm_equals_local_runs(cluster, tmp_path):
    data = write_synthetic_capture(tmp_path / "capture", {"arc_challenge": 80, "boolq": 60})
    common = [f"data_dir={data}", "model_zoo=llama3", "logger=none", f"cache_dir={tmp_path / 'cache'}",
              "seed=42", "n_jobs=1", "router=[single_model,mess_plus]"]
    # Resources from the environment, as documented in conf/hydra/launcher/slurm.yaml.
    env = dict(cluster, MESSPLUS_SLURM_LAUNCHER_CPUS="1", MESSPLUS_SLURM_LAUNCHER_TIMEOUT_MIN="10")
    proc = subprocess.run(
        [sys.executable, "evaluate/run.py", "-m", "hydra/launcher=slurm", "benchmark=arc_challenge,boolq",
         *common, f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=ss.REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # submitit really went through Slurm: its per-job folders are named after Slurm array task ids.
    tasks = sorted(p.name for p in (tmp_path / "sweep" / ".submitit").iterdir() if "_" in p.name and p.is_dir())
    assert len(tasks) == 2 and tasks[0].split("_")[0].isdigit(), tasks

    for i, bench in enumerate(("arc_challenge", "boolq")):
        local = subprocess.run(
            [sys.executable, "evaluate/run.py", f"benchmark={bench}", *common, f"hydra.run.dir={tmp_path / 'local' / bench}"],
            cwd=ss.REPO, env=cluster, capture_output=True, text=True, timeout=600)
        assert local.returncode == 0, local.stderr[-3000:]
        rows = ss.assert_same_results(tmp_path / "sweep" / str(i) / "results.csv", tmp_path / "local" / bench / "results.csv")
        assert rows > 0
