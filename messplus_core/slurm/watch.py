"""Watch submitted Slurm jobs: their states (`scontrol`) and a bounded wait until none is active (`squeue`).

Used by `submit.py --wait` and the Slurm tests.
"""

from __future__ import annotations

import subprocess
import time
from typing import Sequence


ACTIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD",
                 "REQUEUE_FED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING"}


def _scontrol_records(job_id: str) -> list[dict[str, str]]:
    """`scontrol -o show job ID`: one record per job or array task (finished ones for MinJobAge)."""
    proc = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    records = []
    for line in proc.stdout.splitlines():
        rec = {}
        for token in line.split():
            if "=" in token:
                k, v = token.split("=", 1)
                rec.setdefault(k, v)
        if rec:
            records.append(rec)
    return records


def job_states(job_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Task id (`J` or `J_i`) -> (state, exit code) for these jobs.

    Uses `scontrol`, which works without accounting (the local test cluster has
    none) but forgets finished jobs after MinJobAge (300 s on the local one).
    A pending array range shows as one entry such as `12_[3-5]`.
    """
    out: dict[str, tuple[str, str]] = {}
    for jid in job_ids:
        for rec in _scontrol_records(str(jid)):
            task = rec.get("ArrayTaskId")
            key = f"{rec.get('ArrayJobId', jid)}_{task}" if task is not None else rec.get("JobId", str(jid))
            if task is not None and not task.isdigit():
                key = f"{rec.get('ArrayJobId', jid)}_[{task}]"
            out[key] = (rec.get("JobState", "UNKNOWN"), rec.get("ExitCode", "?"))
    return out


def wait_for_jobs(job_ids: Sequence[str], timeout_s: float, poll_s: float = 0.5) -> dict[str, tuple[str, str]]:
    """Block until none of these jobs is pending or running (bounded); returns the final states.

    Polls squeue (faster than `sbatch --wait`, which returns up to ~7 s late).
    Raises TimeoutError with the current states if the bound is reached.
    """
    deadline = time.monotonic() + timeout_s
    ids = ",".join(str(j) for j in job_ids)
    while True:
        proc = subprocess.run(["squeue", "-h", "-j", ids, "-o", "%i %T"], capture_output=True, text=True)
        active = [ln for ln in proc.stdout.splitlines() if ln.split()[-1:] and ln.split()[-1] in ACTIVE_STATES]
        # squeue fails with "Invalid job id" once every job it was asked about
        # has left the controller's memory (MinJobAge): nothing is active then.
        gone = proc.returncode != 0 and "Invalid job id" in proc.stderr
        if (proc.returncode == 0 or gone) and not active:
            return job_states(job_ids)
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs {ids} still active after {timeout_s:.0f} s: {active}")
        time.sleep(poll_s)
