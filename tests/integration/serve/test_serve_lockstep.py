"""Lockstep (one request in flight, feedback before the next request): the live gateway makes exactly the
offline replay's decisions, with the same queue path, final router state and results row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from helpers.evaluate import REAL_CAPTURE

from messplus_core.core.engine import replay
from messplus_core.core.stream import make_stream
from messplus_core.data.capture_csv import CaptureData, load_capture
from messplus_core.evaluate.experiment import RunSpec, router_context, summarize
from messplus_core.routers import build_router
from messplus_core.serve.loadgen import results_row, run_load
from helpers.config import bench, zoo
from helpers.serve import C, V, in_process, load_settings, preset, synthetic_capture


def offline(data: CaptureData, seed: int, rate: float, alpha: float):
    stream = make_stream(data, seed, "energy", rate)
    spec = RunSpec(benchmark=data.benchmark, router="mess_plus", alpha=alpha, seed=seed, feedback_rate=rate, V=V, c=C)
    ctx = router_context(data, spec, "energy", None, stream.labels, stream.cost)
    router = build_router("mess_plus", ctx, {**preset(), "V": V, "c": C})
    trace = replay(router, stream)
    return stream, router, trace, summarize(spec, trace, data.categories, "energy")


def live(data: CaptureData, stream, state: Path, seed: int, alpha: float, grader: str = "none"):
    async def go():
        gw = in_process(data, state, seed=seed, alpha=alpha, grader=grader)
        try:
            run = await run_load(gw.client, data, stream, load_settings(gw.url, token="secret", seed=seed,
                                                                        send_labels=grader == "none"))
            state_view = (await gw.client.get("/v1/router/state")).json()
            return run, gw.service.state_dict(), state_view
        finally:
            await gw.aclose()
    return asyncio.run(go())


def assert_lockstep(data: CaptureData, tmp_path: Path, seed: int, rate: float, alpha: float, grader: str = "none") -> None:
    stream, router, trace, row = offline(data, seed, rate, alpha)
    run, live_state, view = live(data, stream, tmp_path / f"s{seed}_r{rate}", seed, alpha, grader)
    assert not run.errors
    steps = range(stream.n)
    assert [run.t[i] for i in steps] == list(range(1, stream.n + 1))
    assert np.array_equal([run.served[i] for i in steps], trace.served)
    assert np.array_equal([run.explored[i] for i in steps], trace.explored)
    assert trace.explored.sum() > 3  # explorations (and their labels) are exercised, not only exploits
    # The queue each live decision saw is the replay's queue after the previous request.
    q_live = np.array([run.q[i] for i in steps])
    assert np.allclose(q_live[1:], router.q_trace[:-1], atol=1e-12)
    assert view["Q"] == pytest.approx(router.q_trace[-1], abs=1e-12)
    offline_state = router.policy.state_dict()
    offline_state.pop("predictor")
    assert live_state["policy"] == offline_state
    assert run.feedback_sent == int(stream.feedback.sum())
    live_row = results_row(run, stream, view, "mess_plus", rate, "energy")
    for key in ("n_requests", "satisfaction", "sla_met", "explore_steps", "energy_j_total", "time_s_total",
                "share_small", "share_medium", "share_large", "final_queue_ideal"):
        assert live_row[key] == pytest.approx(row[key], rel=1e-12), key
    assert live_row["scenario"] == "live" and live_row["router"] == "mess_plus"


@pytest.mark.parametrize("rate", [1.0, 0.2])
@pytest.mark.parametrize("seed", [42, 43, 44])
def test_lockstep_equals_replay_synthetic(tmp_path: Path, seed: int, rate: float) -> None:
    _, data = synthetic_capture(tmp_path / "capture", n=150)
    assert_lockstep(data, tmp_path, seed, rate, alpha=0.7)


def test_lockstep_with_the_gateways_grader(tmp_path: Path) -> None:
    """grader=reported: the client sends only `satisfied`; exploration labels come from the stubs' answers
    (the capture's ground truth), and the run still equals the replay, which reveals every queried label."""
    _, data = synthetic_capture(tmp_path / "capture", n=150)
    assert_lockstep(data, tmp_path, 43, 0.5, alpha=0.7, grader="reported")


@pytest.mark.parametrize("rate", [1.0, 0.2])
def test_lockstep_equals_replay_real_capture(tmp_path: Path, rate: float) -> None:
    if not REAL_CAPTURE.is_dir():
        pytest.skip(f"the authors' published capture is not at {REAL_CAPTURE} (set MESSPLUS_REAL_CAPTURE)")
    data = load_capture(REAL_CAPTURE, bench("arc_challenge"), zoo(), "energy", drop_incomplete=False)
    assert_lockstep(data, tmp_path, 42, rate, alpha=0.5)
