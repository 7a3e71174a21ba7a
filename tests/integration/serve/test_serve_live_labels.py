"""The tiny zoo served for real (transformers on CPU, `messplus_core.serve.hf_server`) behind the gateway: the live
labels of the demo documents equal the capture's, model by model and through MESS+ routing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai
import pandas as pd
import pytest
from omegaconf import OmegaConf

from helpers.capture import LIMIT, tiny_zoo
from helpers.config import REPO
from helpers.serve import open_service

from messplus_core.routers.mess_plus import MessPlusSettings
from messplus_core.serve import local
from messplus_core.serve import multiple_choice as mc
from messplus_core.serve.app import GatewaySettings, create_app
from messplus_core.serve.backends import backends_from_mapping
from messplus_core.serve.service import RouterService

AUTH = {"Authorization": "Bearer secret"}
ALPHA = 0.46  # conf/benchmark/demo.yaml


@pytest.fixture(scope="module")
def served(tiny_dir: Path):
    """One hf_server process serving the tiny zoo at /<category>/v1 (module scope: loaded once)."""
    zoo = tiny_zoo()
    urls, proc = local.start_hf_backends({m.category: m.model for m in zoo.models})
    yield zoo, urls
    local.stop([proc])


def gateway(zoo, urls: dict[str, str], state: Path) -> tuple[httpx.AsyncClient, RouterService]:
    """The gateway in this process (ASGI) over the real backends; c=0.3 so that explorations happen."""
    cats = tuple(zoo.categories)
    preset = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "router" / "mess_plus.yaml"))
    settings = MessPlusSettings.from_params({**preset, "V": 100.0, "c": 0.3})
    backends = backends_from_mapping(cats, urls, {m.category: m.model for m in zoo.models}, {}, "time")
    service = open_service(settings, ALPHA, 42, state / "events.sqlite", cats)
    app = create_app(service, GatewaySettings(backends, "time", "secret", 60.0, "all"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60), service


def captured_loglikelihoods(capture: Path, category: str) -> dict[int, list[list]]:
    lines = (capture / "demo" / f"{category}.shard.jsonl").read_text().splitlines()
    return {r["doc_id"]: r["loglikelihoods"] for r in map(json.loads, lines) if "doc_id" in r}


@pytest.mark.slow
def test_live_labels_equal_the_capture(served, reference_capture: Path, tmp_path: Path) -> None:
    zoo, urls = served
    cats = list(zoo.categories)
    frame = pd.read_csv(reference_capture / "demo.csv").set_index("doc_id")
    shards = {c: captured_loglikelihoods(reference_capture, c) for c in cats}
    task, docs = mc.load_documents("demo", LIMIT)
    assert [d.doc_id for d in docs] == list(frame.index)

    async def go():
        client, service = gateway(zoo, urls, tmp_path)
        direct: dict[tuple[int, str], float] = {}
        routed: list[tuple[int, str, float]] = []  # (doc, model, live label): the served one, and every explored one
        worst = 0.0
        try:
            for doc in docs:
                for cat in cats:  # every model by its category: the gateway passes the request straight through
                    resp = (await client.post("/v1/completions", json=mc.scoring_body(doc, cat))).json()
                    assert resp["model"] == zoo.models[cats.index(cat)].model and resp["messplus"]["routed"] is False
                    lls = mc.loglikelihoods(doc, resp)
                    worst = max(worst, *(abs(a - b) for (a, _), (b, _) in zip(lls, shards[cat][doc.doc_id])))
                    assert [g for _, g in lls] == [g for _, g in shards[cat][doc.doc_id]]
                    direct[doc.doc_id, cat] = mc.label(task, doc, resp, "acc")
                resp = (await client.post("/v1/completions", json=mc.scoring_body(doc, "messplus"))).json()
                info = resp["messplus"]
                served_label = mc.label(task, doc, resp, "acc")
                routed.append((doc.doc_id, info["served_by"], served_label))
                labels = None
                if info["explored"]:  # every queried model's answer is logged: label each as the capture did
                    view = (await client.get(f"/v1/requests/{info['request_id']}", headers=AUTH)).json()
                    assert sorted(view["outputs"]) == sorted(info["queried"])
                    labels = {cat: mc.label(task, doc, body, "acc") for cat, body in view["outputs"].items()}
                    routed.extend((doc.doc_id, cat, v) for cat, v in labels.items())
                fb = await client.post("/v1/feedback", headers=AUTH,
                                       json={"request_id": info["request_id"], "satisfied": served_label, "labels": labels})
                assert fb.status_code == 200
            return direct, routed, worst, service.router_state()
        finally:
            await client.aclose()
            service.log.close()

    direct, routed, worst, state = asyncio.run(go())
    captured = {(d, c): float(frame.loc[d, f"label_{c}"]) for d in frame.index for c in cats}
    assert direct == captured  # 40 documents x 3 models: the live label matrix is the capture's
    assert worst < 1e-4  # and so are the log-likelihoods behind it (float32, another batch shape)
    assert all(v == captured[d, c] for d, c, v in routed)
    assert state["requests"] == LIMIT and state["explorations"] >= 3 and state["n_feedback"] == LIMIT
    assert len({c for _, c, _ in routed}) == 3  # every model served or was explored


def test_openai_client_streams_a_real_model(served, tmp_path: Path) -> None:
    """stream=true through the gateway to a backend that streams (transformers' TextIteratorStreamer): the
    streamed text equals the non-streamed answer; the last chunk carries the charged cost."""
    zoo, urls = served

    async def go():
        client, service = gateway(zoo, urls, tmp_path)
        try:
            api = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", http_client=client)
            ask = {"model": "small", "messages": [{"role": "user", "content": "Question: What color is snow?\nAnswer:"}],
                   "max_tokens": 8}
            whole = await api.chat.completions.create(**ask)
            stream = await api.chat.completions.create(**ask, stream=True)
            chunks = [chunk async for chunk in stream]
            routed = await api.chat.completions.create(**{**ask, "model": "messplus"}, stream=True)
            routed_chunks = [chunk async for chunk in routed]
            return whole, chunks, routed_chunks
        finally:
            await client.aclose()
            service.log.close()

    whole, chunks, routed_chunks = asyncio.run(go())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content and len(chunks) > 2
    assert {c.model for c in chunks} == {zoo.models[0].model}
    assert chunks[-1].model_extra["messplus"]["cost_kind"] == "time" and chunks[-1].model_extra["messplus"]["cost"] > 0
    info = routed_chunks[0].model_extra["messplus"]
    assert info["routed"] and info["t"] == 1 and info["explored"]  # the first requests explore: the served model streams
    assert routed_chunks[-1].model_extra["messplus"]["streamed_by_backend"] is True
