"""Many requests in flight: 8 concurrent clients with random feedback delays (in-process), and SIGKILL of a
real gateway process mid-run (restart = last snapshot + later events; nothing acknowledged is lost)."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from messplus_core.core.stream import make_stream
from messplus_core.serve.loadgen import run_load
from messplus_core.serve.service import RouterService
from helpers.serve import (CATS, SERVE, event_log, in_process, load_settings, open_service, policy_settings, start_gateway,
                           start_stubs, stop, synthetic_capture)

AUTH = {"Authorization": "Bearer secret"}


def reexecute(log_path: Path, alpha: float, seed: int) -> tuple[RouterService, list[float]]:
    """Re-apply every event of the log to a fresh router from t=0 (re-deciding each logged decision; a different
    decision raises LogMismatch); returns the router and Q after every event."""
    log = event_log(log_path)
    service = RouterService(policy_settings(), CATS, alpha, seed, log, SERVE.snapshot_every, SERVE.feedback_ttl_s, SERVE.grader)
    path = []
    for _, kind, rid, payload, _ in log.events():
        service._apply(kind, rid, payload, replaying=True)
        path.append(service.policy.q)
    return service, path


def test_eight_concurrent_clients(tmp_path: Path) -> None:
    _, data = synthetic_capture(tmp_path / "capture", n=200)
    stream = make_stream(data, 43, "energy", 0.5)

    async def go():
        gw = in_process(data, tmp_path / "state", seed=43, explore_wait="served", snapshot_every=25)
        try:
            run = await run_load(gw.client, data, stream, load_settings(gw.url, token="secret", clients=8,
                                                                        feedback_delay_s=0.05, seed=43))
            await asyncio.sleep(0.05)
            return run, gw.service.state_dict()
        finally:
            await gw.aclose()

    run, live_state = asyncio.run(go())
    assert not run.errors and len(run.t) == stream.n
    assert sorted(run.t.values()) == list(range(1, stream.n + 1))  # t dense and unique
    assert min(run.q.values()) >= 0
    assert run.feedback_sent == int(stream.feedback.sum())
    service, q_path = reexecute(tmp_path / "state" / "events.sqlite", 0.5, 43)
    assert min(q_path) >= 0  # the queue never went negative, at any event
    assert service.state_dict() == live_state  # re-executing the log gives the same decisions and state
    # feedback reached the queue in arrival order, not in request order: delays reordered some of it
    order = [rid for _, kind, rid, _, _ in service.log.events(kinds=("feedback",))]
    decided = {rid: p["t"] for _, _, rid, p, _ in service.log.events(kinds=("decision",))}
    assert [decided[r] for r in order] != sorted(decided[r] for r in order)
    # a restart from the snapshots gives the same state as re-executing everything
    recovered = open_service(policy_settings(), 0.5, 43, tmp_path / "state" / "events.sqlite", snapshot_every=25)
    assert recovered.snapshot_seq > 0 and recovered.state_dict() == live_state


class Gateway:
    """A gateway process that can be SIGKILLed and restarted on the same port and state."""

    def __init__(self, urls: dict[str, str], state: Path) -> None:
        self.urls, self.state, self.restarts, self.retried = urls, state, 0, []
        self.overrides = ("explore_wait=all", "snapshot_every=7", "alpha=0.5", "seed=42")
        self.url, self.proc = start_gateway(urls, state, *self.overrides)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def restart(self) -> None:
        self.proc.wait(30)
        self.url, self.proc = start_gateway(self.urls, self.state, *self.overrides, port=self.port)
        self.restarts += 1


def post(gw: Gateway, client: httpx.Client, path: str, body: dict, key: str) -> dict:
    """POST with retries across gateway deaths (same Idempotency-Key: decided / applied once)."""
    for _ in range(5):
        try:
            resp = client.post(gw.url + path, json=body, headers={**AUTH, "Idempotency-Key": key})
            assert resp.status_code == 200, resp.text
            return resp.json()
        except httpx.TransportError:
            gw.retried.append(key)
            gw.restart()
    raise AssertionError(f"{path} {key}: no answer after 5 restarts")


def test_sigkill_mid_run_loses_nothing(tmp_path: Path) -> None:
    data_dir, data = synthetic_capture(tmp_path / "capture", n=160)
    stream = make_stream(data, 42, "energy", 0.5)
    urls, stub = start_stubs(data_dir, delay_s=0.01)
    gw = Gateway(urls, tmp_path / "state")
    done, feeding = [0], [0]  # requests acknowledged; the request whose feedback is being posted
    jitter = np.random.default_rng(0)

    def killer() -> None:
        """SIGKILL the gateway twice on the process then running: a random few ms after the 40th request was
        acknowledged (during the next completion), and as the feedback of request >= 100 goes out."""
        while done[0] < 40:
            time.sleep(0.001)
        time.sleep(jitter.uniform(0, 0.02))
        gw.proc.kill()
        while feeding[0] < 100 or gw.restarts < 1:
            time.sleep(0.0005)
        gw.proc.kill()

    try:
        with httpx.Client(timeout=30) as client:
            thread = threading.Thread(target=killer)
            thread.start()
            for i in range(stream.n):
                row = int(stream.order[i])
                body = {"model": "messplus", "messages": [{"role": "user", "content": data.texts[row]}],
                        "metadata": {"doc_id": str(data.doc_ids[row])}}
                info = post(gw, client, "/chat/completions", body, f"req-{i}")["messplus"]
                assert info["t"] == i + 1
                if stream.feedback[i]:
                    served = CATS.index(info["served_by"])
                    fb = {"request_id": info["request_id"], "satisfied": float(stream.labels[i, served])}
                    if info["explored"]:
                        fb["labels"] = {c: float(stream.labels[i, CATS.index(c)]) for c in info["queried"]}
                    feeding[0] = i
                    post(gw, client, "/feedback", fb, f"fb-{i}")
                done[0] = i + 1
            thread.join()
            live = client.get(gw.url + "/router/state").json()
    finally:
        stop([gw.proc, stub])
    assert gw.restarts == 2
    print(f"SIGKILL x2; calls retried after a kill: {gw.retried}")
    shutil.copy(tmp_path / "state" / "events.sqlite", tmp_path / "copy.sqlite")
    # the uninterrupted run: the same stream in lockstep through an in-process gateway that never died
    from messplus_core.serve.loadgen import run_load

    async def reference():
        ref = in_process(data, tmp_path / "ref", seed=42, alpha=0.5)
        try:
            await run_load(ref.client, data, stream, load_settings(ref.url, token="secret", seed=42))
            return ref.service.state_dict(), ref.service.router_state()
        finally:
            await ref.aclose()

    ref_state, ref_view = asyncio.run(reference())
    for key in ("t", "Q", "n_feedback", "requests", "explorations", "served", "queried", "cost_total", "running_satisfaction"):
        assert live[key] == pytest.approx(ref_view[key], rel=1e-12), key
    recovered = open_service(policy_settings(), 0.5, 42, tmp_path / "state" / "events.sqlite", snapshot_every=7)
    assert recovered.state_dict() == ref_state
    feedback = [rid for _, _, rid, _, _ in recovered.log.events(kinds=("feedback",))]
    assert len(feedback) == len(set(feedback)) == int(stream.feedback.sum())  # none lost, none twice
    assert np.all([p["t"] for _, _, _, p, _ in recovered.log.events(kinds=("decision",))] == np.arange(1, stream.n + 1))


def test_loadgen_cli_writes_the_evaluate_row(tmp_path: Path) -> None:
    """serve/loadgen.py against a real gateway process: one results.csv row in the evaluate stage's columns."""
    import subprocess
    import sys

    import pandas as pd

    from helpers.config import REPO
    from messplus_core.evaluate.experiment import RunSpec, summarize
    from messplus_core.core.engine import Trace

    data_dir, data = synthetic_capture(tmp_path / "capture", n=80)
    urls, stub = start_stubs(data_dir)
    url, proc = start_gateway(urls, tmp_path / "state", "explore_wait=all", "alpha=0.5")
    try:
        out = subprocess.run([sys.executable, "serve/loadgen.py", f"data_dir={data_dir}", "benchmark=arc_challenge", "seed=44",
                              f"url={url}", "feedback_rate=0.5", "clients=2", "feedback_delay_s=0.02", "max_requests=60",
                              f"hydra.run.dir={tmp_path}/lg"], cwd=REPO, env={**__import__("os").environ, "MESSPLUS_TOKEN": "secret"},
                             capture_output=True, text=True, timeout=120)
    finally:
        stop([proc, stub])
    assert out.returncode == 0, out.stdout + out.stderr
    row = pd.read_csv(tmp_path / "lg" / "results.csv").iloc[0]
    spec = RunSpec("arc_challenge", "mess_plus", 0.5, 44, feedback_rate=0.5)
    empty = Trace(*(np.zeros(1, dtype=np.int8),) * 3, *(np.zeros(1),) * 3)
    assert set(summarize(spec, empty, CATS, "energy")) <= set(row.index)  # every evaluate column
    assert row["n_requests"] == 60 and row["scenario"] == "live" and row["live_errors"] == 0 and row["feedback_rate"] == 0.5


def test_a_decision_that_cannot_be_logged_never_happened(tmp_path: Path) -> None:
    """The log is the truth: if appending a decision fails (disk full, ...), the router is as before it."""
    import sqlite3

    service = open_service(policy_settings(), 0.5, 42, tmp_path / "events.sqlite")
    service.decide("mp-1")
    before = service.state_dict()
    append = service.log.append

    def failing(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    service.log.append = failing
    with pytest.raises(sqlite3.OperationalError):
        service.decide("mp-2")
    assert service.state_dict() == before
    service.log.append = append
    assert service.decide("mp-2").t == 2
    reopened = open_service(policy_settings(), 0.5, 42, tmp_path / "events.sqlite")
    assert reopened.state_dict() == service.state_dict()


def test_state_written_with_another_config_is_refused(tmp_path: Path) -> None:
    from messplus_core.errors import ConfigError

    open_service(policy_settings(), 0.5, 42, tmp_path / "events.sqlite").decide("mp-1")
    with pytest.raises(ConfigError, match=r"other \['alpha'\]"):
        open_service(policy_settings(), 0.6, 42, tmp_path / "events.sqlite")
    with pytest.raises(ConfigError, match=r"other \['settings'\]"):
        open_service(policy_settings(V=50.0), 0.5, 42, tmp_path / "events.sqlite")
