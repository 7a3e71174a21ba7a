"""cost=energy in the gateway: Zeus windows per backend attributed to requests by tokens (messplus_core/serve/energy.py).

A fake monitor stands in for ZeusMonitor (same begin_window/end_window; end_window returns a Measurement-like object
with gpu_energy), so the arithmetic and the pre-first-window behaviour run on CPU; the startup check with real Zeus is in tests/integration/serve/test_serve_api.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from messplus_core.errors import ConfigError
from messplus_core.serve.energy import BackendMeter, EnergyMeters, energy_meters


class FakeMonitor:
    """begin_window/end_window like ZeusMonitor; each end_window returns the next of `joules` ({GPU index: J})."""

    def __init__(self, *joules: dict[int, float]) -> None:
        self.joules, self.open = list(joules), set()

    def begin_window(self, key: str) -> None:
        assert key not in self.open, "a window opened twice"
        self.open.add(key)

    def end_window(self, key: str) -> SimpleNamespace:
        self.open.remove(key)
        return SimpleNamespace(time=1.0, gpu_energy=self.joules.pop(0), cpu_energy=None)


def test_tokens_times_steady_state_joules_per_token() -> None:
    meter = BackendMeter("large", [2, 3], FakeMonitor({2: 25.0, 3: 15.0, 0: 999.0}, {2: 0.0, 3: 0.0}, {2: 30.0, 3: 30.0}))
    assert meter.count(100) is None and meter.count(300) is None  # no window closed yet: pending, not 0
    window = meter.close()
    assert (window.joules, window.tokens) == (40.0, 400)  # only the backend's GPUs (2, 3), not GPU 0
    assert meter.j_per_token == pytest.approx(0.1)
    assert [t * meter.j_per_token for t in (100, 300)] == pytest.approx([10.0, 30.0])
    meter.close()  # an idle window (no tokens): its draw is no request's, the estimate is unchanged
    assert meter.j_per_token == pytest.approx(0.1) and meter.closed == 2
    assert meter.count(200) == pytest.approx(0.1)  # charged at the current estimate right away
    meter.close()  # 60 J for 200 tokens: ratio of sums over both kept windows = 100 J / 600 tokens
    assert meter.j_per_token == pytest.approx(100.0 / 600.0)


def test_rolling_estimate_keeps_the_last_windows() -> None:
    meter = BackendMeter("small", [0], FakeMonitor({0: 10.0}, {0: 90.0}), keep=1)
    meter.count(100)
    meter.close()
    meter.count(100)
    meter.close()
    assert meter.j_per_token == pytest.approx(0.9)


def test_before_the_first_window_the_charge_waits_for_it() -> None:
    async def go():
        meter = BackendMeter("small", [0], FakeMonitor({0: 40.0}))
        assert meter.count(100) is None
        waiting = asyncio.create_task(meter.estimate())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the router is not charged anything yet (not 0, not a guess)
        meter.close()
        assert await asyncio.wait_for(waiting, 1) == pytest.approx(0.4)

        never = BackendMeter("medium", [1], FakeMonitor({1: 5.0}))
        meters = EnergyMeters({"medium": never}, window_s=1.0)
        waiting = asyncio.create_task(never.estimate())
        meters.stop()  # shutdown: the last window has no tokens, so the request stays unmeasured
        assert await asyncio.wait_for(waiting, 1) is None
    asyncio.run(go())


def test_config_errors_name_the_fix() -> None:
    fake = lambda gpus: FakeMonitor()  # noqa: E731
    with pytest.raises(ConfigError, match=r"none for \['large'\].*cost=time\|tokens\|reported"):
        energy_meters(("small", "large"), {"small": [0]}, 5.0, 12, fake)
    with pytest.raises(ConfigError, match=r"GPU 0 is in gpus.small and gpus.large"):
        energy_meters(("small", "large"), {"small": [0], "large": [0, 1]}, 5.0, 12, fake)
    with pytest.raises(ConfigError, match="energy_window_s must be > 0"):
        energy_meters(("small",), {"small": [0]}, 0.0, 12, fake)



def test_gateway_round_trip_reports_energy_by_tokens(tmp_path) -> None:
    """Stub backends and fake meters: before the first window the answer's energy is pending (null, with the reason)
    and the router is charged when the window closes; after it, tokens x J/token at once."""
    from helpers.serve import CATS, in_process, synthetic_capture

    data = synthetic_capture(tmp_path / "capture", n=30)[1]
    monitors = {c: FakeMonitor({i: 40.0}, {i: 40.0}) for i, c in enumerate(CATS)}
    meters = energy_meters(CATS, {c: [i] for i, c in enumerate(CATS)}, 5.0, 12, lambda gpus: monitors[CATS[gpus[0]]])

    def ask(doc: int) -> dict:
        return {"model": "messplus", "messages": [{"role": "user", "content": f"doc {doc}"}], "metadata": {"doc_id": str(doc)}}

    async def until_costs(gw, rid: str) -> dict:
        for _ in range(200):
            view = (await gw.client.get(f"/v1/requests/{rid}", headers={"Authorization": "Bearer secret"})).json()
            if view["costs"]:
                return view
            await asyncio.sleep(0.01)
        raise AssertionError(f"no costs logged for {rid}")

    async def go():
        gw = in_process(data, tmp_path / "state", explore_wait="served", cost="energy", energy=meters)
        try:
            first = (await gw.client.post("/v1/chat/completions", json=ask(3))).json()["messplus"]
            assert first["cost_source"] == "energy (Zeus, attributed by tokens)" and first["cost_kind"] == "energy"
            served = first["served_by"]
            assert first["energy_j"] is None and first["cost"] is None  # pending, never 0
            assert "no Zeus window of this backend has closed yet" in first["energy_pending"][served]
            assert first["j_per_token"][served] is None and first["tokens"][served] > 0
            await asyncio.sleep(0.05)
            assert not (await gw.client.get(f"/v1/requests/{first['request_id']}",
                                            headers={"Authorization": "Bearer secret"})).json()["costs"]  # not charged yet
            windows = meters.close_all()  # 40 J per backend over the tokens it returned
            view = await until_costs(gw, first["request_id"])
            for cat in first["queried"]:
                jpt = 40.0 / windows[cat].tokens
                assert view["cost_details"]["j_per_token"][cat] == pytest.approx(jpt)
                assert view["costs"][cat] == pytest.approx(view["cost_details"]["tokens"][cat] * jpt)
            state = (await gw.client.get("/v1/router/state")).json()
            assert state["energy"]["backends"][served]["j_per_token"] == pytest.approx(40.0 / windows[served].tokens)

            second = (await gw.client.post("/v1/chat/completions", json=ask(4))).json()["messplus"]
            cat = second["served_by"]
            assert "energy_pending" not in second and second["j_per_token"][cat] == pytest.approx(40.0 / windows[cat].tokens)
            assert second["energy_j"] == pytest.approx(sum(second["tokens"][c] * second["j_per_token"][c]
                                                           for c in second["cost_per_model"]))
        finally:
            await gw.aclose()
    asyncio.run(go())
