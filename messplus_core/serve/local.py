"""Gateway and stub processes on this machine's loopback: free ports, readiness, start and stop.

Used by `serve/bench.py` and the tests; a deployment starts `serve/run.py` and its backends itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll `url` until it answers (< 500); raises RuntimeError if `proc` exits first, TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def start_stubs(data_dir: Path, benchmark: str, zoo_name: str = "llama3", categories: tuple[str, ...] = ("small", "medium", "large"),
                delay_s: float = 0.0) -> tuple[dict[str, str], subprocess.Popen]:
    """One stub process serving every category at /<category>/v1; returns ({category: base URL}, process)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "messplus_core.serve.stub", "--data-dir", str(data_dir), "--benchmark",
                             benchmark, "--zoo", zoo_name, "--port", str(port), "--delay-s", str(delay_s)],
                            cwd=REPO, stderr=subprocess.PIPE)
    wait_ready(f"http://127.0.0.1:{port}/{categories[0]}/docs", proc)
    return {cat: f"http://127.0.0.1:{port}/{cat}/v1" for cat in categories}, proc


def start_hf_backends(models: dict[str, str], threads: int = 1, timeout: float = 120.0) -> tuple[dict[str, str], subprocess.Popen]:
    """One `hf_server` process serving each {category: model folder} at /<category>/v1 (transformers, CPU);
    returns ({category: base URL}, process). The served names are the folders as given."""
    port = free_port()
    args = [sys.executable, "-m", "messplus_core.serve.hf_server", "--port", str(port), "--threads", str(threads),
            *(a for cat, path in models.items() for a in ("--model", f"{cat}={path}"))]
    proc = subprocess.Popen(args, cwd=REPO, stderr=subprocess.PIPE)
    first = next(iter(models))
    wait_ready(f"http://127.0.0.1:{port}/{first}/health", proc, timeout)
    return {cat: f"http://127.0.0.1:{port}/{cat}/v1" for cat in models}, proc


def start_gateway(urls: dict[str, str], state_dir: Path, *overrides: str, port: int | None = None,
                  token: str | None = "secret") -> tuple[str, subprocess.Popen]:
    """`python serve/run.py` over backends `urls` with Hydra `overrides`; returns (base URL up to /v1, process).
    token None: auth=none."""
    port = port or free_port()
    auth = [] if token else ["auth=none"]
    args = [sys.executable, "serve/run.py", f"port={port}", f"state_dir={state_dir}", f"hydra.run.dir={state_dir}/hydra",
            *(f"backends.{c}={u}" for c, u in urls.items()), *auth, *overrides]
    proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, "MESSPLUS_TOKEN": token or ""}, stderr=subprocess.PIPE)
    wait_ready(f"http://127.0.0.1:{port}/health", proc)
    return f"http://127.0.0.1:{port}/v1", proc


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process, then SIGKILL any still alive after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
