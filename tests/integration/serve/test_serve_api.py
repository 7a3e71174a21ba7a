"""The gateway's HTTP contract in-process (httpx ASGITransport, stub backends): feedback rules and error codes,
idempotency, request and state views, metrics, pass-through, the official `openai` client, and the startup checks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from helpers.config import REPO

from messplus_core.errors import ConfigError
from messplus_core.serve.app import GatewaySettings, create_app
from messplus_core.serve.backends import backends_from_mapping
from messplus_core.serve.config import settings_from_config
from helpers.serve import CATS, in_process, preset, synthetic_capture

AUTH = {"Authorization": "Bearer secret"}


def ask(doc_id: int, text: str = "", model: str = "messplus") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text or f"doc {doc_id}"}], "metadata": {"doc_id": str(doc_id)}}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    return synthetic_capture(tmp_path_factory.mktemp("capture"), n=60)[1]


async def first_of_each(client: httpx.AsyncClient) -> tuple[dict, dict]:
    """(an exploration's messplus info, an exploitation's): the first 3 requests always explore (forced_explorations)."""
    explored = exploited = None
    for doc in range(40):
        info = (await client.post("/v1/chat/completions", json=ask(doc))).json()["messplus"]
        await client.post("/v1/feedback", json={"request_id": info["request_id"], "satisfied": 1}, headers=AUTH)
        explored = explored or (info if info["explored"] else None)
        exploited = exploited or (info if not info["explored"] else None)
        if explored and exploited:
            return explored, exploited
    raise AssertionError("no exploitation in 40 requests")


def test_response_fields_and_headers(data, tmp_path: Path) -> None:
    async def go():
        gw = in_process(data, tmp_path)
        try:
            resp = await gw.client.post("/v1/chat/completions", json=ask(5))
            body = resp.json()
            info = body["messplus"]
            assert resp.status_code == 200 and info["t"] == 1 and info["explored"] is True
            assert body["model"] == info["served_by"]  # the model that served (the stubs' served name is the category)
            assert body["messplus_doc_id"] == 5 and info["cost_kind"] == "reported"
            assert info["energy_j"] is None and "not measured" in info["energy_note"]  # never 0 for unmeasured energy
            row = list(data.doc_ids).index(5)
            assert info["cost"] == pytest.approx(sum(data.energy[row, data.categories.index(c)] for c in info["queried"]))
            assert resp.headers["X-MessPlus-Request-Id"] == info["request_id"]
            assert resp.headers["X-MessPlus-T"] == "1" and resp.headers["X-MessPlus-Explored"] == "true"
            assert float(resp.headers["X-MessPlus-Q"]) == info["Q"] and resp.headers["X-MessPlus-Cost-Kind"] == "reported"
            text = await gw.client.post("/v1/completions", json={"model": "messplus", "prompt": "x", "metadata": {"doc_id": "6"}})
            assert text.status_code == 200 and text.json()["messplus"]["t"] == 2
            direct = await gw.client.post("/v1/chat/completions", json=ask(7, model="small"))
            assert direct.json()["messplus"]["routed"] is False and direct.json()["model"] == "small"
            assert gw.service.policy.t == 2  # pass-through decides nothing
            assert (await gw.client.post("/v1/chat/completions", json=ask(1, model="gpt-9"))).status_code == 404
            view = (await gw.client.get(f"/v1/requests/{info['request_id']}", headers=AUTH)).json()
            assert set(view["outputs"]) == set(info["queried"])  # an exploration keeps every model's answer
            assert view["feedback_status"] == "open" and set(view["costs"]) == set(info["queried"])
            metrics = (await gw.client.get("/metrics")).text
            assert "messplus_requests_total 2.0" in metrics and "messplus_queue " in metrics
            assert 'messplus_cost_total{model="large"}' in metrics
        finally:
            await gw.aclose()
    asyncio.run(go())


def test_feedback_error_codes_and_idempotency(data, tmp_path: Path) -> None:
    async def go():
        gw = in_process(data, tmp_path, ttl=3600)
        c = gw.client
        try:
            explored, exploited = await first_of_each(c)
            rid = (await c.post("/v1/chat/completions", json=ask(50))).json()["messplus"]["request_id"]
            fb = {"request_id": rid, "satisfied": 1}
            assert (await c.post("/v1/feedback", json=fb)).status_code == 401
            assert (await c.post("/v1/feedback", json=fb, headers={"Authorization": "Bearer wrong"})).status_code == 401
            assert (await c.post("/v1/feedback", json={**fb, "request_id": "mp-nope"}, headers=AUTH)).status_code == 404
            assert (await c.post("/v1/feedback", json={**fb, "satisfied": 2}, headers=AUTH)).status_code == 422
            q0 = gw.service.policy.q
            first = await c.post("/v1/feedback", json=fb, headers={**AUTH, "Idempotency-Key": "k1"})
            assert first.status_code == 200 and first.json()["duplicate"] is False
            q1 = gw.service.policy.q
            assert q1 != q0 or q0 == 0  # feedback moves the queue
            again = await c.post("/v1/feedback", json=fb, headers={**AUTH, "Idempotency-Key": "k1"})
            assert again.status_code == 200 and again.json()["duplicate"] is True and gw.service.policy.q == q1
            other = await c.post("/v1/feedback", json=fb, headers={**AUTH, "Idempotency-Key": "k2"})
            assert other.status_code == 409 and gw.service.policy.q == q1  # a request counts once
            # without a key: request_id + source
            rid2 = (await c.post("/v1/chat/completions", json=ask(51))).json()["messplus"]["request_id"]
            assert (await c.post("/v1/feedback", json={"request_id": rid2, "satisfied": 0, "source": "a"}, headers=AUTH)).json()["duplicate"] is False
            assert (await c.post("/v1/feedback", json={"request_id": rid2, "satisfied": 0, "source": "a"}, headers=AUTH)).json()["duplicate"] is True
            assert (await c.post("/v1/feedback", json={"request_id": rid2, "satisfied": 0, "source": "b"}, headers=AUTH)).status_code == 409
            # labels only for explorations, only for the models queried
            labels = {"request_id": exploited["request_id"], "satisfied": 1, "labels": {"small": 1}, "source": "labels"}
            gw2 = await c.post("/v1/feedback", json=labels, headers=AUTH)
            assert gw2.status_code == 409  # exploited had feedback already, and did not explore
            rid3 = None
            for doc in range(52, 60):
                info = (await c.post("/v1/chat/completions", json=ask(doc))).json()["messplus"]
                if not info["explored"]:
                    rid3 = info["request_id"]
                    break
            resp = await c.post("/v1/feedback", json={"request_id": rid3, "satisfied": 1, "labels": {"small": 1}}, headers=AUTH)
            assert resp.status_code == 409 and "did not explore" in resp.json()["detail"]
            assert (await c.get("/v1/requests/" + rid3)).status_code == 401
            assert (await c.get("/v1/requests/mp-nope", headers=AUTH)).status_code == 404
            view = (await c.get(f"/v1/requests/{rid}", headers=AUTH)).json()
            assert view["feedback"]["satisfied"] == 1 and view["feedback_status"] == "received"
        finally:
            await gw.aclose()
    asyncio.run(go())


def test_labels_for_an_exploration_and_expired_feedback(data, tmp_path: Path) -> None:
    async def go():
        gw = in_process(data, tmp_path, ttl=0.5)
        c = gw.client
        try:
            info = (await c.post("/v1/chat/completions", json=ask(1))).json()["messplus"]  # forced exploration
            bad = {"request_id": info["request_id"], "satisfied": 1, "labels": {"nonexistent": 1}}
            assert (await c.post("/v1/feedback", json=bad, headers=AUTH)).status_code == 422
            good = {"request_id": info["request_id"], "satisfied": 1, "labels": {m: 1 for m in info["queried"]}}
            assert (await c.post("/v1/feedback", json=good, headers=AUTH)).status_code == 200
            assert sum(gw.service.policy.stats.sat_n) == len(info["queried"])
            late = (await c.post("/v1/chat/completions", json=ask(2))).json()["messplus"]
            q, n = gw.service.policy.q, gw.service.policy.n_feedback
            time.sleep(0.6)
            resp = await c.post("/v1/feedback", json={"request_id": late["request_id"], "satisfied": 0}, headers=AUTH)
            assert resp.status_code == 410 and gw.service.policy.q == q and gw.service.policy.n_feedback == n
            view = (await c.get(f"/v1/requests/{late['request_id']}", headers=AUTH)).json()
            assert view["feedback_status"] == "expired"
        finally:
            await gw.aclose()
    asyncio.run(go())


def test_completion_retry_with_idempotency_key_decides_once(data, tmp_path: Path) -> None:
    async def go():
        gw = in_process(data, tmp_path)
        try:
            a = (await gw.client.post("/v1/chat/completions", json=ask(3), headers={"Idempotency-Key": "req-1"})).json()["messplus"]
            b = (await gw.client.post("/v1/chat/completions", json=ask(3), headers={"Idempotency-Key": "req-1"})).json()["messplus"]
            assert a["request_id"] == b["request_id"] and b["retried"] is True and gw.service.policy.t == 1
            assert gw.service.router_state()["queried"] == {c: int(c in a["queried"]) for c in ("small", "medium", "large")}
        finally:
            await gw.aclose()
    asyncio.run(go())


def test_official_openai_client(data, tmp_path: Path) -> None:
    async def go():
        gw = in_process(data, tmp_path)
        try:
            client = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", http_client=gw.client)
            chat = await client.chat.completions.create(model="messplus", messages=[{"role": "user", "content": "hello"}],
                                                        metadata={"doc_id": "4"})
            assert chat.model in ("small", "medium", "large") and "doc 4" in chat.choices[0].message.content
            extra = chat.model_extra["messplus"]
            assert extra["t"] == 1 and extra["served_by"] == chat.model
            raw = await client.chat.completions.with_raw_response.create(model="messplus", messages=[{"role": "user", "content": "x"}],
                                                                         metadata={"doc_id": "8"})
            assert raw.headers["x-messplus-t"] == "2"
            text = await client.completions.create(model="messplus", prompt="hi", extra_body={"metadata": {"doc_id": "9"}})
            assert "doc 9" in text.choices[0].text
            models = await client.models.list()
            assert [m.id for m in models.data][0] == "messplus"
        finally:
            await gw.aclose()
    asyncio.run(go())


def test_stream_from_a_backend_that_does_not_stream(data, tmp_path: Path) -> None:
    """stream=true with the official client: the stub answers JSON, so the gateway cuts its answer into chunks
    (streamed_by_backend false); the text equals the non-streamed answer, the first chunk carries the decision,
    the last the charged cost (the exploration's, with explore_wait=all). Pass-through streams too."""
    async def go():
        gw = in_process(data, tmp_path)
        try:
            client = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", http_client=gw.client)
            chunks = [c async for c in await client.chat.completions.create(
                model="messplus", messages=[{"role": "user", "content": "x"}], metadata={"doc_id": "4"}, stream=True)]
            whole = await client.chat.completions.create(model="medium", messages=[{"role": "user", "content": "x"}],
                                                         metadata={"doc_id": "4"})
            text_chunks = [c async for c in await client.completions.create(
                model="small", prompt="x", extra_body={"metadata": {"doc_id": "4"}}, stream=True,
                stream_options={"include_usage": True})]
            broken = await gw.client.post("/v1/chat/completions", json={**ask(10**6), "stream": True})
            return chunks, whole, text_chunks, broken, gw.service.router_state()
        finally:
            await gw.aclose()

    chunks, whole, text_chunks, broken, state = asyncio.run(go())
    first, last = chunks[0].model_extra["messplus"], chunks[-1].model_extra["messplus"]
    assert first["t"] == 1 and first["explored"] and "cost" not in first
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[large] doc 4: label " + str(int(data.labels[list(data.doc_ids).index(4), 2])) and len(chunks) > 4
    assert whole.choices[0].message.content.startswith("[medium] doc 4")
    row = list(data.doc_ids).index(4)
    assert last["streamed_by_backend"] is False and last["cost_complete"] is True
    assert last["cost"] == pytest.approx(data.energy[row].sum())  # the first request explores all three models
    assert state["cost_total"]["large"] == pytest.approx(data.energy[row, 2])  # logged once the stream ended
    assert "".join(c.choices[0].text for c in text_chunks if c.choices).startswith("[small] doc 4")
    assert text_chunks[-1].usage is not None and text_chunks[-1].model_extra["messplus"]["routed"] is False
    assert broken.status_code == 502 and "no capture row" in broken.json()["error"]["message"]


def base_config(**overrides) -> dict:
    """conf/serve.yaml as the gateway gets it (unreachable backends, an unset token variable), then `overrides`."""
    from helpers.config import compose
    cfg = compose("serve", "token_env=MESSPLUS_TEST_TOKEN_UNSET",
                  *(f"backends.{c}=http://127.0.0.1:1/{c}/v1" for c in ("small", "medium", "large")))
    return cfg | overrides


@pytest.mark.parametrize("overrides, message", [
    ({}, "MESSPLUS_TEST_TOKEN_UNSET is empty"),
    ({"auth": "none", "backends": {"small": "http://x/v1"}}, "no backend URL for ['medium', 'large']"),
    ({"auth": "none", "cost": "joules"}, "cost must be time, tokens, reported or energy, got 'joules'"),
    ({"auth": "none", "cost": "energy"}, "cost=energy needs the GPU indices of every backend; none for ['small', 'medium', 'large']"),
    ({"auth": "none", "cost": "tokens"}, "cost=tokens needs price_per_token.small"),
    # accepted by the settings, refused by the service: thompson (restarts would change decisions), and the
    # paper preset (its head needs request embeddings, which the gateway does not compute)
    ({"auth": "none", "routers": {"mess_plus": {**base_config()["routers"]["mess_plus"], "optimism_kind": "thompson"}}},
     "service: optimism_kind=thompson is not supported online"),
    ({"auth": "none", "router_name": "mess_plus_paper", "routers": {"mess_plus_paper": {**preset("mess_plus_paper"), "predictor": {"name": "mlp_head", "head": {}}}}},
     "service: only estimator=model_mean runs online so far"),
    ({"auth": "none", "routers": {"mess_plus": {**base_config()["routers"]["mess_plus"], "energy_estimate": "known"}}},
     "service: energy_estimate=known routes on each request's own measured cost"),
])
def test_config_errors(overrides: dict, message: str, tmp_path: Path) -> None:
    cfg = base_config(**overrides)
    if message.startswith("service: "):
        from messplus_core.serve.config import open_service
        zoo_, policy, _ = settings_from_config(cfg)
        with pytest.raises(ConfigError, match=message.removeprefix("service: ")):
            open_service({**cfg, "state_dir": str(tmp_path)}, zoo_, policy)
        return
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings_from_config(cfg)
    assert settings_from_config(base_config(auth="none"))[2].token is None


def test_cost_energy_without_gpus_refuses_to_start(tmp_path: Path) -> None:
    """Real Zeus on a node without GPUs: cost=energy is a ConfigError at startup naming the fix, never a fallback
    (settings_from_config, and the CLI: exit 2, one line, no traceback)."""
    from zeus.monitor import ZeusMonitor

    if ZeusMonitor().gpu_indices:
        pytest.skip("Zeus sees GPUs on this node")
    gpus = {"small": [0], "medium": [1], "large": [2, 3]}
    fix = r"cost=time\|tokens\|reported"
    with pytest.raises(ConfigError, match=r"cost=energy for backend small: Zeus cannot monitor GPU\(s\) \[0\].*" + fix):
        settings_from_config(base_config(auth="none", cost="energy", gpus=gpus))
    proc = subprocess.run([sys.executable, "serve/run.py", f"state_dir={tmp_path}", f"hydra.run.dir={tmp_path}/h", "auth=none",
                           "cost=energy", "gpus={small: [0], medium: [1], large: [2, 3]}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    said = proc.stdout + proc.stderr  # Hydra's log goes to stdout
    assert proc.returncode == 2 and "Traceback" not in said
    assert "cost=energy for backend small: Zeus cannot monitor GPU(s) [0]: No GPUs available." in said
    assert "cost=time|tokens|reported" in said


def test_cli_refuses_to_start_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "MESSPLUS_TOKEN"}
    proc = subprocess.run([sys.executable, "serve/run.py", f"state_dir={tmp_path}", f"hydra.run.dir={tmp_path}/h"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr  # Hydra logs to stdout
    assert "MESSPLUS_TOKEN is empty" in out and "Traceback" not in out


def test_backend_down_answers_502_and_moves_nothing(data, tmp_path: Path) -> None:
    """Every backend refuses the connection: 502 naming it; the decision is logged (t advances), no cost is
    invented, no queue update."""
    async def go():
        gw = in_process(data, tmp_path)
        down = backends_from_mapping(CATS, {c: "http://127.0.0.1:9/v1" for c in CATS}, {c: c for c in CATS}, {}, "reported")
        app = create_app(gw.service, GatewaySettings(down, "reported", None, 5.0, "all"))
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                resp = await client.post("/v1/chat/completions", json=ask(1))
            assert resp.status_code == 502 and "backend" in resp.json()["error"]["message"]
            view = gw.service.request_view(resp.headers["X-MessPlus-Request-Id"])
            assert view["costs"] == {} and set(view["cost_details"]["errors"]) == set(CATS)
            assert gw.service.router_state()["queried"] == {c: 0 for c in CATS}
            assert gw.service.policy.t == 1 and gw.service.policy.n_feedback == 0
        finally:
            await gw.aclose()
    asyncio.run(go())
