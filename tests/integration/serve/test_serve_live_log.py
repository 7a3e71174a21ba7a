"""W&B logging of the gateway's live series (`logger=wandb`): an offline run read back with wandb's own reader,
a W&B that is slow never slows a request (rows are flushed at shutdown), and one that cannot start is reported."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from messplus_core.serve.live_log import LiveSeries
from helpers.serve import CATS, in_process, synthetic_capture

AUTH = {"Authorization": "Bearer secret"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    return synthetic_capture(tmp_path_factory.mktemp("capture"), n=40)[1]


def serve(data, state: Path, series: LiveSeries, n: int) -> tuple[dict[str, Any], float]:
    """n routed requests, each with feedback, through an in-process gateway; (router state, seconds they took)."""
    async def go():
        gw = in_process(data, state, series=series)
        try:
            started = time.perf_counter()
            for doc in range(n):
                body = {"model": "messplus", "messages": [{"role": "user", "content": "q"}], "metadata": {"doc_id": str(doc)}}
                info = (await gw.client.post("/v1/chat/completions", json=body)).json()["messplus"]
                fb = await gw.client.post("/v1/feedback", json={"request_id": info["request_id"], "satisfied": doc % 2}, headers=AUTH)
                assert fb.status_code == 200
            return gw.service.router_state(), time.perf_counter() - started
        finally:
            await gw.aclose()
    return asyncio.run(go())


def test_offline_run_holds_the_live_series(data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, sub in (("WANDB_DIR", "wandb_dir"), ("WANDB_CACHE_DIR", "wandb_cache"), ("WANDB_CONFIG_DIR", "wandb_config")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    series = LiveSeries("mess-plus", None, "serve", tmp_path / "wandb", "serve-test", {"alpha": 0.5})
    series.start()
    state, _ = serve(data, tmp_path / "state", series, 12)
    series.close()
    assert series.error is None and series.logged == 36 and series.dropped == 0  # decision, costs, feedback per request
    runs = list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and series.run_dir == runs[0]
    shown = subprocess.run([str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--json", str(runs[0])],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    history = [json.loads(line)["history"]["item"] for line in shown.stdout.splitlines() if '"type":"history"' in line]
    assert len(history) == 36 and [h["event"] for h in history[:3]] == ["decision", "costs", "feedback"]
    last = history[-1]
    assert last["Q"] == pytest.approx(state["Q"]) and last["requests"] == 12 and last["n_feedback"] == 12
    assert last["explorations"] == state["explorations"] and last["running_satisfaction"] == pytest.approx(6 / 12)
    for cat in CATS:
        assert last[f"cost_per_request/{cat}"] == pytest.approx(state["cost_total"][cat] / 12)


def test_a_slow_wandb_never_slows_a_request(data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    logged: list[dict[str, Any]] = []

    class SlowRun:
        dir = str(tmp_path / "run" / "files")
        summary: dict[str, Any] = {}

        def log(self, row: dict[str, Any]) -> None:
            time.sleep(0.2)  # a W&B far slower than the gateway
            logged.append(row)

        def finish(self) -> None:
            logged.append({"finished": True})

    monkeypatch.setattr(wandb, "init", lambda **kwargs: SlowRun())
    series = LiveSeries("mess-plus", None, "serve", tmp_path / "wandb", "serve-test", {})
    series.start()
    state, seconds = serve(data, tmp_path / "state", series, 10)
    assert seconds < 3.0 and len(logged) < 30  # 30 rows take 6 s to log: the requests did not wait for them
    series.close()
    assert series.logged == 30 and logged[-1] == {"finished": True}  # shutdown flushed every row, in order
    assert [r["t"] for r in logged[:-1] if r["event"] == "decision"] == list(range(1, 11))
    assert logged[-2]["Q"] == state["Q"] and logged[-2]["n_feedback"] == 10


def test_wandb_that_cannot_start_is_reported_and_serving_goes_on(data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    import wandb

    def refuse(**kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")

    monkeypatch.setattr(wandb, "init", refuse)
    series = LiveSeries("mess-plus", None, "serve", tmp_path / "wandb", "serve-test", {})
    with caplog.at_level(logging.WARNING):
        series.start()
        state, _ = serve(data, tmp_path / "state", series, 3)
        series.close()
    assert state["requests"] == 3 and series.logged == 0
    assert "W&B live logging could not start: UsageError: api_key not configured" in caplog.text
