"""W&B logging of the gateway's live series (`logger=wandb`), from a background thread.

The gateway hands one row per router event (a decision, a request's costs, a feedback) to `LiveSeries.record`,
which only puts it on a bounded queue (`put_nowait`): the request path never waits for W&B, whatever W&B does.
A daemon thread owns the W&B run: it starts it, logs the rows in order, and on `close` (the gateway's shutdown)
logs what is still queued and finishes the run. A queue that is full (W&B far behind) drops the newest rows and
counts them (`dropped` in the run's summary, and a warning); a W&B that cannot start (no API key, no network)
is reported once and the gateway serves on. WANDB_MODE (online/offline/disabled) is honoured; files go to
`<state_dir>/wandb/` (offline: upload with `wandb sync <run folder>`).

Row fields (`RouterService.series`): event, t, requests, explorations, Q, n_feedback, running_satisfaction,
cost_per_request (all models), and per model `cost_per_request/<category>` (that model's charged cost over all
requests, cost units), `served/<category>`, `queried/<category>`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class LiveSeries:
    """One W&B run fed from a bounded queue by a daemon thread. `start`, then `record` rows, then `close`."""

    def __init__(self, project: str, entity: str | None, group: str | None, out_dir: Path, name: str,
                 config: dict[str, Any], max_queue: int = 100_000) -> None:
        self.project, self.entity, self.group, self.out_dir, self.name = project, entity, group, Path(out_dir), name
        self.config = config
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.logged = 0
        self.dropped = 0
        self.error: str | None = None
        self.run_dir: Path | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the daemon thread that opens the W&B run and logs queued rows."""
        self._thread = threading.Thread(target=self._run, name="wandb-live", daemon=True)
        self._thread.start()

    def record(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks (a full queue drops the row and counts it)."""
        if self.error is not None:
            return
        try:
            self.queue.put_nowait(row)
        except queue.Full:
            if self.dropped == 0:
                log.warning("W&B live logging is %d rows behind; dropping rows until it catches up (counted in "
                            "the run's summary as `dropped`).", self.queue.maxsize)
            self.dropped += 1

    def close(self, timeout_s: float = 60.0) -> None:
        """Log every queued row, finish the run, and say where it went (called at the gateway's shutdown)."""
        if self._thread is None:
            return
        started = time.perf_counter()
        try:
            self.queue.put(None, timeout=timeout_s)
        except queue.Full:
            pass  # the thread is stuck in W&B: reported below
        self._thread.join(max(0.0, timeout_s - (time.perf_counter() - started)))
        if self._thread.is_alive():
            log.warning("W&B live logging did not finish within %.0f s; %d rows logged, the rest is lost.", timeout_s, self.logged)
        elif self.error:
            log.warning("W&B live logging failed: %s. The gateway's event log is unaffected.", self.error)
        else:
            log.info("W&B: %d live rows logged (%d dropped) to %s; flushing took %.1f s", self.logged, self.dropped,
                     self.run_dir, time.perf_counter() - started)
        self._thread = None

    def _run(self) -> None:
        try:
            import wandb

            self.out_dir.mkdir(parents=True, exist_ok=True)
            run = wandb.init(project=self.project, entity=self.entity, group=self.group, name=self.name, config=self.config,
                             dir=str(self.out_dir), reinit="create_new", settings=wandb.Settings(silent=True, console="off"))
            self.run_dir = Path(run.dir).parent if getattr(run, "dir", None) else None
        except Exception as err:  # noqa: BLE001 - W&B must never stop the gateway
            self.error = f"{type(err).__name__}: {err}"
            log.warning("W&B live logging could not start: %s. Serving continues without it; set WANDB_MODE=offline "
                        "(or `wandb login`), or logger=none.", self.error)
            self._drain()
            return
        try:
            while (row := self.queue.get()) is not None:
                run.log(row)
                self.logged += 1
            run.summary.update({"dropped": self.dropped, "logged": self.logged})
            run.finish()
        except Exception as err:  # noqa: BLE001
            self.error = f"{type(err).__name__}: {err}"
            self._drain()

    def _drain(self) -> None:
        """Empty the queue until the closing None (rows after a failure are discarded, not waited on)."""
        while self.queue.get() is not None:
            pass
