"""Weights & Biases logging: one W&B run per evaluate invocation that writes a report, logged after the grid.

`results.csv` is the source of truth; W&B is a view of it. One W&B run holds
- `results`: a table with one row per grid run (every results.csv column, seeds as rows);
- `history`: a table of the running metrics per (scenario, benchmark, router, split, alpha, V, c,
  feedback rate), averaged over seeds at up to HISTORY_POINTS steps;
- the summary (scalar) of each MESS+ router's mean satisfaction and cost per request per stream.

Why one run, after the grid, from the main process: a W&B run costs about a
second to start and more to write, so the former one-run-per-grid-run design
(513 offline runs, 99 MB) made `router=compare scenario=all` on the published
capture take 186 s instead of 17 s. Logging runs in a forked process while
the report is written. A logging failure (no API key, no network, a broken
service) is reported once; it never fails the evaluation. WANDB_MODE
(online/offline/disabled) is honoured; files go to `<out>/wandb/`.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

HISTORY_POINTS = 25
GROUP_KEYS = ("scenario", "benchmark", "router", "split", "alpha", "V", "c", "feedback_rate")
HISTORY_KEYS = ("satisfaction", "energy_per_request", "Q", "explorations")


class WandbLogger:
    """Logs a finished grid to one W&B run from a forked child process (its own interpreter: no GIL shared with
    the report being drawn meanwhile); `wait` collects where the run went, or the error."""

    def __init__(self, project: str, entity: str | None, group: str | None, out_dir: Path, name: str | None = None) -> None:
        self.project, self.entity, self.group, self.out_dir = project, entity, group, Path(out_dir)
        self.name = name or self.out_dir.name
        self.run_dir: Path | None = None
        self.mode: str | None = None
        self.error: str | None = None
        self.logged = 0
        self.seconds = 0.0  # the logging process's duration
        self.waited = 0.0  # wall time `wait` blocked: what W&B added beyond the report
        self._child: Any = None
        self._reply: Any = None

    def start(self, records: Sequence[dict[str, Any]], config: dict[str, Any]) -> None:
        """Log `records` in a forked process (a thread where fork is unavailable); join with `wait`."""
        if "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            self._reply, send = ctx.Pipe(duplex=False)
            self._child = ctx.Process(target=self._log, args=(list(records), config, send), name="wandb-log")
        else:
            self._reply, send = multiprocessing.Pipe(duplex=False)
            self._child = threading.Thread(target=self._log, args=(list(records), config, send), name="wandb-log")
        self._child.start()

    def wait(self) -> None:
        """Block until the logging process ends; then `run_dir`, `mode` and `error` say where the run went or
        why it failed (never raises: a logging failure must not fail the evaluation). No-op if not started."""
        if self._child is not None:
            started = time.perf_counter()
            try:
                outcome = self._reply.recv()
            except EOFError:  # the child died without a word (killed, crashed in C)
                outcome = {"error": "the W&B logging process ended without reporting"}
            self._child.join()
            self.waited = time.perf_counter() - started
            self._child = None
            self.run_dir = Path(outcome["run_dir"]) if outcome.get("run_dir") else None
            self.mode, self.error = outcome.get("mode"), outcome.get("error")
            self.logged, self.seconds = outcome.get("logged", 0), outcome.get("seconds", 0.0)
            log.info("W&B: logged %d runs in %.1f s in the background; the report then waited %.1f s for it",
                     self.logged, self.seconds, self.waited)
        if self.error:
            log.warning("W&B logging failed: %s. results.csv is unaffected; set WANDB_MODE=offline (or `wandb login`), "
                        "or logger=none to silence this.", self.error)

    def _log(self, records: list[dict[str, Any]], config: dict[str, Any], reply: Any) -> None:
        started = time.perf_counter()
        outcome: dict[str, Any] = {}
        try:
            import wandb

            self.out_dir.mkdir(parents=True, exist_ok=True)
            run = wandb.init(project=self.project, entity=self.entity, group=self.group, name=self.name, config=config,
                             dir=str(self.out_dir), reinit="create_new", settings=wandb.Settings(silent=True, console="off"))
            rows = [r["row"] for r in records]
            columns = list(dict.fromkeys(k for row in rows for k in row))
            run.log({"results": wandb.Table(columns=columns, data=[[_plain(row.get(k)) for k in columns] for row in rows]),
                     "history": wandb.Table(columns=[*GROUP_KEYS, "seeds", "t", *HISTORY_KEYS], data=history_rows(records))})
            run.summary.update(summary_scalars(rows))
            outcome["mode"] = str(getattr(run.settings, "mode", "") or "")
            outcome["run_dir"] = str(Path(run.dir).parent) if getattr(run, "dir", None) else None
            run.finish()
            outcome["logged"] = len(records)
        except Exception as err:  # noqa: BLE001 - any W&B failure must not stop the evaluation
            outcome["error"] = f"{type(err).__name__}: {err}"
        outcome["seconds"] = time.perf_counter() - started
        reply.send(outcome)
        reply.close()

    def describe(self) -> str | None:
        """Where the run went and, for an offline run, the command that uploads it."""
        if self.run_dir is None:
            return None
        if "offline" in (self.mode or "") or self.run_dir.name.startswith("offline-run"):
            return f"W&B offline run: {self.run_dir}\n         upload with: wandb sync {self.run_dir}"
        return f"W&B run: {self.run_dir}"


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value


def history_rows(records: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Running metrics averaged over the seeds of each group, at up to HISTORY_POINTS of the stored steps."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        groups[tuple(_plain(rec["row"].get(k)) for k in GROUP_KEYS)].append(rec["history"])
    out = []
    for key, hists in groups.items():
        t = hists[0]["t"]
        same = [h for h in hists if h["t"] == t]
        pick = np.unique(np.linspace(0, len(t) - 1, min(len(t), HISTORY_POINTS)).astype(int))
        means = {k: np.nanmean([np.asarray(h[k], dtype=float) for h in same], axis=0) if all(k in h for h in same) else None
                 for k in HISTORY_KEYS}
        for i in pick:
            out.append([*key, len(same), int(t[i]), *(None if means[k] is None else _plain(float(means[k][i])) for k in HISTORY_KEYS)])
    return out


def summary_scalars(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """`<scenario>/<benchmark>/<router>/a<alpha>/<split>/{satisfaction,energy_j_per_request}`: means over seeds and (V, c)."""
    acc: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        base = f"{row['scenario']}/{row['benchmark']}/{row['router']}/a{row['alpha']:g}/{row['split']}"
        for k in ("satisfaction", "energy_j_per_request", "time_s_per_request"):
            if row.get(k) is not None and np.isfinite(row[k]):
                acc[f"{base}/{k}"].append(float(row[k]))
    return {k: float(np.mean(v)) for k, v in acc.items()}
