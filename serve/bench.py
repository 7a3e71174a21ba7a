"""Gateway overhead: requests/s and p50/p99 latency through the MESS+ gateway vs calling a stub backend directly.

    python serve/bench.py --data-dir DIR --benchmark arc_challenge --requests 400 [--gateway-arg logger=wandb]

Starts one capture stub process (every category) and one gateway process (serve/run.py, auth=none, cost=time,
a fresh state folder) on free loopback ports, then for 1 and 8 concurrent clients sends the same prompts to
(a) the stub's cheapest model directly and (b) the gateway with model=messplus (no feedback), and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from messplus_core.data.capture_csv import load_capture
from messplus_core.serve.local import REPO, start_gateway, start_stubs, stop
from messplus_core.specs import BenchmarkSpec, ModelZoo


async def measure(url: str, bodies: list[dict], clients: int) -> dict:
    latencies: list[float] = []
    queue = iter(bodies)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients + 4)) as client:
        async def worker() -> None:
            for body in queue:
                start = time.perf_counter()
                resp = await client.post(url, json=body)
                latencies.append(time.perf_counter() - start)
                resp.raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "req_per_s": len(lat) / wall, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--benchmark", default="arc_challenge")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--stub-delay-s", type=float, default=0.0)
    parser.add_argument("--gateway-arg", action="append", default=[],
                        help="extra serve/run.py override, e.g. logger=wandb (repeat for several)")
    args = parser.parse_args()
    zoo = ModelZoo.from_mapping(OmegaConf.to_container(OmegaConf.load(REPO / "conf/model_zoo/llama3.yaml"), resolve=True))
    spec = BenchmarkSpec.from_mapping(args.benchmark, OmegaConf.to_container(OmegaConf.load(REPO / f"conf/benchmark/{args.benchmark}.yaml")))
    data = load_capture(args.data_dir, spec, zoo, "time", drop_incomplete=False)
    bodies = [{"model": "messplus", "max_tokens": 16, "messages": [{"role": "user", "content": data.texts[i]}],
               "metadata": {"doc_id": str(data.doc_ids[i])}} for i in range(min(args.requests, data.n))]
    urls, stub = start_stubs(Path(args.data_dir), args.benchmark, delay_s=args.stub_delay_s)
    with tempfile.TemporaryDirectory() as state:
        gateway, gw = start_gateway(urls, Path(state), "cost=time", *args.gateway_arg, token=None)
        try:
            rows = []
            for clients in (1, 8):
                direct = asyncio.run(measure(urls["small"] + "/chat/completions", [b | {"model": "small"} for b in bodies], clients))
                routed = asyncio.run(measure(gateway + "/chat/completions", bodies, clients))
                rows += [{"clients": clients, "target": "stub directly", **direct}, {"clients": clients, "target": "gateway (messplus)", **routed}]
            state_now = httpx.get(gateway + "/router/state").json()
        finally:
            stop([gw, stub])
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"gateway explorations: {state_now['explorations']} of {state_now['requests']} routed requests "
          "(an exploration calls several backends)")


if __name__ == "__main__":
    main()
