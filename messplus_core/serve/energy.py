"""`cost=energy` in the gateway: Zeus windows per backend, attributed to requests by tokens.

Batched serving runs many requests at once on a backend's GPUs, so one request's energy cannot be metered
on its own; it is an attribution. As the ML.ENERGY leaderboard does for batched serving, each backend's
steady-state energy per token is measured and a request is charged its tokens times it:

- every `window_s` seconds (`EnergyMeters.run`, a background task of the gateway) each backend's meter closes
  a Zeus window over that backend's GPUs (`capture.energy.zeus_monitor`, NVML) and opens the next one;
- the window's joules (summed over the backend's GPUs) and the tokens (prompt + completion, from each
  answer's `usage`) the backend returned through the gateway in it make one window; windows without tokens
  (idle: the idle draw is not any request's) or without measured joules are left out;
- the backend's J/token is the ratio of sums over its last `keep` such windows (a token-weighted mean);
- a request's energy on that backend = its tokens x the J/token current when its answer arrived.

Before a backend's first window closes there is no J/token: the answer reports the energy as pending with
the reason (never 0), and the router observes that request's cost when the first window closes, charged at
that window's J/token (`BackendMeter.estimate` waits for it). Refusing to route until an estimate exists
cannot work, since the estimate needs tokens that only routed requests produce.

Assumptions, stated in the answers' notes: each backend has its own GPUs (two backends on one GPU could not
be told apart, so `gpus` must be disjoint; a ConfigError says so), and the backends serve only the gateway's
traffic (tokens served around the gateway would be charged to the gateway's requests).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from messplus_core.errors import ConfigError

log = logging.getLogger(__name__)

COST_SOURCE = "energy (Zeus, attributed by tokens)"
PENDING = ("pending: no Zeus window of this backend has closed yet, so it has no J/token; the router is charged "
           "this request's tokens x the first window's J/token when that window closes (GET /v1/requests/{id})")
UNMEASURED = "not measured: the gateway stopped before any Zeus window of this backend closed with tokens and joules"


class Monitor(Protocol):
    """What the meter needs of `zeus.monitor.ZeusMonitor` (tests pass a fake)."""

    def begin_window(self, key: str) -> None:
        """Open the measurement window named `key`."""

    def end_window(self, key: str) -> Any:
        """Close window `key`; returns a Measurement whose `.gpu_energy` is {GPU index: J} over the window."""


@dataclass(frozen=True)
class Window:
    """One closed window of one backend: joules over its GPUs, tokens it returned in it."""

    joules: float
    tokens: int


class BackendMeter:
    """Rolling steady-state J/token of one backend (its GPUs `gpus`, read through `monitor`).

    keep: how many of the last windows with tokens make the estimate (ratio of sums). The window opens here.
    """

    def __init__(self, category: str, gpus: Sequence[int], monitor: Monitor, keep: int = 12) -> None:
        if keep < 1:
            raise ConfigError(f"serve: energy_windows must be >= 1, got {keep}.")
        self.category, self.gpus, self.monitor = category, tuple(gpus), monitor
        self.key = f"messplus-serve-{category}"
        self.windows: deque[Window] = deque(maxlen=keep)
        self.closed = 0  # windows closed (all, idle ones included)
        self._tokens = 0
        self._ready = asyncio.Event()
        self._stopped = False
        self.monitor.begin_window(self.key)

    @property
    def j_per_token(self) -> float | None:
        """J per token over the kept windows; None before the first window with tokens and joules closed."""
        if not self.windows:
            return None
        return math.fsum(w.joules for w in self.windows) / sum(w.tokens for w in self.windows)

    def count(self, tokens: int) -> float | None:
        """Add an answer's tokens to the open window; returns the J/token to charge it now (None: pending)."""
        self._tokens += int(tokens)
        return self.j_per_token

    def close(self) -> Window:
        """Close the open window (its joules over this backend's GPUs, its tokens) and open the next one."""
        m = self.monitor.end_window(self.key)
        self.monitor.begin_window(self.key)
        energy = m.gpu_energy or {}
        joules = math.fsum(float(energy[i]) for i in self.gpus if i in energy)
        window, self._tokens = Window(joules, self._tokens), 0
        self.closed += 1
        if window.tokens > 0 and window.joules > 0:
            self.windows.append(window)
            self._ready.set()
        return window

    def stop(self) -> None:
        """No more windows: wake every request still waiting for a first estimate (it stays unmeasured)."""
        self._stopped = True
        self._ready.set()

    async def estimate(self) -> float | None:
        """The J/token, waiting for the first window if none has closed; None if the meter stopped without one."""
        if self.j_per_token is None and not self._stopped:
            await self._ready.wait()
        return self.j_per_token

    def view(self) -> dict[str, Any]:
        """This backend's meter for `GET /v1/router/state`: GPUs, J/token (None: no window yet), windows closed and kept."""
        return {"gpus": list(self.gpus), "j_per_token": self.j_per_token, "windows_closed": self.closed,
                "windows_kept": len(self.windows)}


class EnergyMeters:
    """One BackendMeter per zoo category, closed together every `window_s` seconds by `run`."""

    def __init__(self, meters: dict[str, BackendMeter], window_s: float) -> None:
        if not window_s > 0:
            raise ConfigError(f"serve: energy_window_s must be > 0, got {window_s}.")
        self.meters, self.window_s = meters, float(window_s)

    def __getitem__(self, category: str) -> BackendMeter:
        return self.meters[category]

    def close_all(self) -> dict[str, Window]:
        """Close every backend's open window (and open the next); returns {category: the closed Window}."""
        return {cat: meter.close() for cat, meter in self.meters.items()}

    async def run(self) -> None:
        """Close every backend's window each `window_s` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.window_s)
            self.close_all()

    def stop(self) -> None:
        """Close the last windows (so answers waiting for a first estimate get one if it exists), then stop."""
        self.close_all()
        for meter in self.meters.values():
            meter.stop()

    def view(self) -> dict[str, Any]:
        """The `energy` part of `GET /v1/router/state`: cost source, window length and each backend's meter."""
        return {"cost_source": COST_SOURCE, "window_s": self.window_s, "backends": {c: m.view() for c, m in self.meters.items()}}


def energy_meters(categories: Sequence[str], gpus: dict[str, Any], window_s: float, keep: int,
                  monitor: Callable[[Sequence[int]], Monitor] | None = None) -> EnergyMeters:
    """The meters of `cost=energy`: `gpus` maps each category to the GPU indices its backend runs on.

    monitor: builds a monitor over GPU indices (default `capture.energy.zeus_monitor`, a real ZeusMonitor).
    Raises ConfigError for a category without GPUs, a GPU shared by two backends, or GPUs Zeus cannot see
    (no GPU on this node), naming the fix.
    """
    if monitor is None:
        from messplus_core.capture.energy import zeus_monitor as monitor
    missing = [c for c in categories if not (gpus or {}).get(c)]
    if missing:
        raise ConfigError(f"serve: cost=energy needs the GPU indices of every backend; none for {missing} "
                          "(e.g. gpus='{small: [0], medium: [1], large: [2, 3]}'), or use cost=time|tokens|reported.")
    owner: dict[int, str] = {}
    for cat in categories:
        for g in gpus[cat]:
            if int(g) in owner:
                raise ConfigError(f"serve: GPU {g} is in gpus.{owner[int(g)]} and gpus.{cat}; Zeus cannot split one GPU's "
                                  "energy between two backends. Give each backend its own GPUs, or use cost=time|tokens|reported.")
            owner[int(g)] = cat
    meters = {}
    for cat in categories:
        indices = [int(g) for g in gpus[cat]]
        try:
            meters[cat] = BackendMeter(cat, indices, monitor(indices), keep)
        except ConfigError as err:
            raise ConfigError(f"serve: cost=energy for backend {cat}: {err} Run the gateway on the node whose GPUs "
                              "serve the backends, or use cost=time|tokens|reported.") from err
    return EnergyMeters(meters, window_s)
