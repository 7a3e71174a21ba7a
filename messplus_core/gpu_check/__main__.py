"""The GPU check's driver: `python -m messplus_core.gpu_check [options]` (what scripts/gpu_check.sh runs).

Runs each check of `checks.CHECKS` in its own process with a timeout,
prints one `PASS|FAIL|SKIP  <check>: <summary>` line per check, and writes
`<out-dir>/<UTC stamp>/report.json` (versions, GPU, every figure) beside
each check's log. Without a CUDA GPU it says so in one line, runs the CPU
parts (check 1 on device=cpu, check 6 on CPU) and skips 2-5. Exit status:
1 if any check failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .checks import CHECKS, FAIL, PASS, SKIP, CheckError, Context, Result

REPO = Path(__file__).resolve().parents[2]
GPU_ONLY = ("vllm", "bitsandbytes", "zeus", "kill")
PACKAGES = ("torch", "transformers", "accelerate", "lm_eval", "zeus", "nvidia-ml-py", "bitsandbytes", "vllm",
            "datasets", "hydra-core", "omegaconf")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (`--help` lists it); `--child/--work/--gpu` are the parent's way to run one check."""
    p = argparse.ArgumentParser(prog="python -m messplus_core.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=REPO / "outputs" / "gpu_check", help="reports go to OUT_DIR/<UTC stamp>/")
    p.add_argument("--limit", type=int, default=50, help="documents per capture in checks 1-4 (default 50)")
    p.add_argument("--kill-limit", type=int, default=100, help="documents of the captures killed and resumed in check 5")
    p.add_argument("--overhead-docs", type=int, default=None, help="documents timed in check 6 (default 200 on GPU, 40 on CPU)")
    p.add_argument("--vllm-ll-tol", type=float, default=0.02, help="largest |log-likelihood difference| vLLM vs hf, nats")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds each check may run before it is killed and failed")
    p.add_argument("--only", default=None, help="comma-separated checks to run (of %s)" % ", ".join(CHECKS))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--gpu", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def setup_env() -> None:
    """Offline, deterministic child processes that import this tree and share one tiny-zoo folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("MESSPLUS_TINY_DIR", str(REPO / "outputs" / "models" / "tiny"))
    os.environ["MESSPLUS_TINY_DIR"] = str(Path(os.environ["MESSPLUS_TINY_DIR"]).resolve())
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    os.environ["PYTHONUNBUFFERED"] = "1"


def versions() -> dict[str, Any]:
    """Python and each package of PACKAGES by installed version (None: not installed), and torch's CUDA."""
    found: dict[str, Any] = {"python": platform.python_version(), "python_executable": sys.executable}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    import torch

    found["torch_cuda"] = torch.version.cuda
    return found


def gpu_info() -> dict[str, Any]:
    """GPU 0's name, memory and the NVIDIA driver, from NVML."""
    import pynvml

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        return {
            "name": name.decode() if isinstance(name, bytes) else name,
            "count": pynvml.nvmlDeviceGetCount(),
            "memory_total_mib": pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**20,
            "driver": pynvml.nvmlSystemGetDriverVersion(),
            "cuda_driver": pynvml.nvmlSystemGetCudaDriverVersion(),
        }
    finally:
        pynvml.nvmlShutdown()


def context(args: argparse.Namespace, work: Path, gpu: bool) -> Context:
    """The checks' Context from the command line (check 6 times 200 documents on GPU, 40 on CPU by default)."""
    return Context(
        repo=REPO,
        work=work,
        gpu=gpu,
        limit=args.limit,
        kill_limit=args.kill_limit,
        overhead_docs=args.overhead_docs or (200 if gpu else 40),
        vllm_ll_tol=args.vllm_ll_tol,
        capture_timeout_s=args.timeout,
    )


def run_child(args: argparse.Namespace) -> int:
    """One check in this process; its Result goes to <work>/<check>.json."""
    ctx = context(args, args.work, bool(args.gpu))
    try:
        result = CHECKS[args.child][1](ctx)
    except CheckError as err:
        result = Result(FAIL, str(err))
    except Exception as err:  # the report names what broke; the traceback goes to the check's log
        traceback.print_exc()
        result = Result(FAIL, f"{type(err).__name__}: {err}")
    (args.work / f"{args.child}.json").write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return 0


def run_check(name: str, args: argparse.Namespace, work: Path, gpu: bool) -> tuple[dict[str, Any], float]:
    """Run one check in its own process, killed after `--timeout` s; returns its Result as a dict and the
    seconds it took. A timeout or a process that wrote no result is a FAIL naming the log."""
    cmd = [sys.executable, "-m", "messplus_core.gpu_check", "--child", name, "--work", str(work), "--gpu", str(int(gpu)),
           "--limit", str(args.limit), "--kill-limit", str(args.kill_limit), "--vllm-ll-tol", str(args.vllm_ll_tol),
           "--timeout", str(args.timeout)]
    if args.overhead_docs:
        cmd += ["--overhead-docs", str(args.overhead_docs)]
    log = work / f"{name}.log"
    started = time.perf_counter()
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return Result(FAIL, f"timed out after {args.timeout:.0f} s (log: {log})").to_dict(), time.perf_counter() - started
    seconds = time.perf_counter() - started
    out = work / f"{name}.json"
    if not out.is_file():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        return Result(FAIL, f"the check's process exited {proc.returncode} without a result: {tail}").to_dict(), seconds
    return json.loads(out.read_text()), seconds


def main(argv: list[str] | None = None) -> int:
    """Run the selected checks (GPU-only ones SKIP without a GPU), print one PASS/FAIL/SKIP line each and write
    report.json. Exit status: 1 if any check failed, 2 for an unknown check name, else 0."""
    args = parse_args(argv)
    setup_env()
    if args.child:
        return run_child(args)
    import torch

    gpu = torch.cuda.is_available()
    selected = list(CHECKS) if args.only is None else ["build", *(c.strip() for c in args.only.split(",") if c.strip() != "build")]
    unknown = [c for c in selected if c not in CHECKS]
    if unknown:
        print(f"gpu_check: unknown check(s) {unknown}; known: {list(CHECKS)}", file=sys.stderr)
        return 2
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = (args.out_dir / stamp).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if gpu:
        info = gpu_info()
        print(f"gpu_check: {info['name']} (driver {info['driver']}), torch {torch.__version__}, python {sys.executable}")
    else:
        info = {}
        n = args.overhead_docs or 40
        print(f"gpu_check: no CUDA GPU visible to {sys.executable} (torch {torch.__version__}): running the CPU-only "
              f"parts (1 on device=cpu, 6 at {n} documents); 2-5 SKIP")
    report: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "gpu": gpu,
        "gpu_info": info,
        "versions": versions(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("child", "work", "gpu")},
        "checks": {},
    }
    failed_build = False
    for name in selected:
        label = CHECKS[name][0]
        if failed_build:
            result, seconds = Result(SKIP, "the tiny zoo could not be built").to_dict(), 0.0
        elif name in GPU_ONLY and not gpu:
            result, seconds = Result(SKIP, "no CUDA GPU on this machine").to_dict(), 0.0
        else:
            result, seconds = run_check(name, args, work, gpu)
        failed_build = failed_build or (name == "build" and result["status"] == FAIL)
        report["checks"][name] = {"label": label, **result, "seconds": round(seconds, 1)}
        if (work / f"{name}.log").is_file():
            report["checks"][name]["log"] = f"{name}.log"
        print(f"{result['status']:<4}  {label}: {result['summary']} ({seconds:.0f} s)", flush=True)
    path = work / "report.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    failed = [n for n, c in report["checks"].items() if c["status"] == FAIL]
    passed = sum(c["status"] == PASS for c in report["checks"].values())
    print(f"gpu_check: {passed} passed, {len(failed)} failed, "
          f"{sum(c['status'] == SKIP for c in report['checks'].values())} skipped; report {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
