"""Helpers for the gateway tests: a synthetic capture, stub backends and the gateway in-process or as processes.

In-process: the gateway and the stubs are ASGI apps joined by httpx's ASGITransport (no socket).
Subprocess: `python serve/run.py` and `python -m messplus_core.serve.stub` on free loopback ports.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from omegaconf import OmegaConf

from helpers.config import REPO, bench, zoo
from helpers.data import CATEGORIES, synthetic_frame, write_capture
from messplus_core.data.capture_csv import CaptureData, load_capture
from messplus_core.routers.mess_plus import MessPlusSettings
from messplus_core.serve.app import GatewaySettings, create_app
from messplus_core.serve.backends import backends_from_mapping
from messplus_core.serve import local
from messplus_core.serve.energy import EnergyMeters
from messplus_core.serve.eventlog import EventLog
from messplus_core.serve.live_log import LiveSeries
from messplus_core.serve.loadgen import LoadSettings
from messplus_core.serve.local import stop  # noqa: F401 - re-exported for the tests
from messplus_core.serve.service import RouterService
from messplus_core.serve.stub import create_stub

CATS = CATEGORIES
#: MESS+ default preset with more exploration than the default c, so explorations and labels are exercised.
V, C = 100.0, 0.3
#: conf/serve.yaml and conf/loadgen.yaml as written (only their plain keys are read): the gateway's and the load
#: generator's defaults, which the library's settings do not repeat.
SERVE = OmegaConf.load(REPO / "conf" / "serve.yaml")
LOADGEN = OmegaConf.load(REPO / "conf" / "loadgen.yaml")


def preset(name: str = "mess_plus") -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "router" / f"{name}.yaml"))


def policy_settings(V: float = V, c: float = C, **overrides: Any) -> MessPlusSettings:
    return MessPlusSettings.from_params({**preset(), "V": V, "c": c, **overrides})


def event_log(path: Path) -> EventLog:
    """The event log at `path` with conf/serve.yaml's `synchronous`."""
    return EventLog(path, SERVE.synchronous)


def open_service(settings: MessPlusSettings, alpha: float, seed: int, path: Path, categories: tuple[str, ...] = CATS,
                 **overrides: Any) -> RouterService:
    """RouterService.open over the event log at `path`, with conf/serve.yaml's snapshot_every, feedback_ttl_s and
    grader unless given in `overrides`."""
    keys = {k: overrides.pop(k, SERVE[k]) for k in ("snapshot_every", "feedback_ttl_s", "grader")}
    assert not overrides, f"unknown RouterService keys {sorted(overrides)}"
    return RouterService.open(settings, categories, alpha, seed, event_log(path), **keys)


def load_settings(url: str, **overrides: Any) -> LoadSettings:
    """The load generator's settings against `url`: conf/loadgen.yaml's values, then `overrides`."""
    keys = ("clients", "feedback_delay_s", "max_requests", "max_seconds", "seed", "endpoint", "send_labels")
    return LoadSettings(url=url, **({k: LOADGEN[k] for k in keys} | overrides))


def synthetic_capture(root: Path, n: int = 150, seed: int = 0) -> tuple[Path, CaptureData]:
    data_dir = write_capture(root, {"arc_challenge": synthetic_frame(n, seed)})
    return data_dir, load_capture(data_dir, bench("arc_challenge"), zoo(), "energy", drop_incomplete=False)


@dataclass
class InProcess:
    service: RouterService
    client: httpx.AsyncClient  # talks to the gateway
    backend_client: httpx.AsyncClient
    url: str = "http://gateway/v1"

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.backend_client.aclose()
        self.service.log.close()


def in_process(data: CaptureData, state: Path, seed: int = 42, alpha: float = 0.5, token: str | None = "secret",
               explore_wait: str = "all", snapshot_every: int = 1000, ttl: float = 86400.0,
               settings: MessPlusSettings | None = None, grader: str = "none", series: LiveSeries | None = None,
               cost: str = "reported", energy: EnergyMeters | None = None) -> InProcess:
    """The gateway over stub backends of `data`, all in this process; cost=reported (the capture's energy) unless
    `cost` (and for cost=energy, `energy`: meters the test closes itself, no window task runs in-process)."""
    mounts = {f"http://{cat}": httpx.ASGITransport(app=create_stub(data, cat, "energy")) for cat in CATS}
    backend_client = httpx.AsyncClient(mounts=mounts)
    backends = backends_from_mapping(CATS, {c: f"http://{c}/v1" for c in CATS}, {c: c for c in CATS}, {}, cost)
    service = open_service(settings or policy_settings(), alpha, seed, state / "events.sqlite",
                           snapshot_every=snapshot_every, feedback_ttl_s=ttl, grader=grader)
    app = create_app(service, GatewaySettings(backends, cost, token, 30.0, explore_wait, energy), backend_client, series)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=30)
    return InProcess(service, client, backend_client)


def start_gateway(urls: dict[str, str], state_dir: Path, *overrides: str, port: int | None = None,
                  token: str = "secret") -> tuple[str, subprocess.Popen]:
    """The gateway process with the tests' V, c and cost=reported (the capture's energy, as the replay charges)."""
    return local.start_gateway(urls, state_dir, f"V={V}", f"c={C}", "cost=reported", *overrides, port=port, token=token)


def start_stubs(data_dir: Path, delay_s: float = 0.0) -> tuple[dict[str, str], subprocess.Popen]:
    return local.start_stubs(data_dir, "arc_challenge", "llama3", CATS, delay_s)
