"""The GPU check's checks: each takes a `Context` and returns a `Result` (PASS, FAIL or SKIP, and figures).

Each runs in its own process (see `__main__`), so a hung or crashed check
costs only itself and every check starts with the GPU's memory free.
Captures run through the real CLI (`capture/run.py`) on the tiny zoo and
the shipped `demo` benchmark, into folders under the report's work folder.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import compare

if TYPE_CHECKING:
    from ..capture.energy import EnergySettings

BENCHMARK = "demo"
CATEGORIES = ("small", "medium", "large")
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class Context:
    """What every check needs: where to work, how big to run, and whether a GPU is there."""

    repo: Path
    work: Path
    gpu: bool
    limit: int
    kill_limit: int
    overhead_docs: int
    vllm_ll_tol: float
    capture_timeout_s: float

    @property
    def device(self) -> str:
        """`cuda` with a GPU, else `cpu`."""
        return "cuda" if self.gpu else "cpu"


@dataclass
class Result:
    """One check's outcome: PASS, FAIL or SKIP, a one-line summary and the measured figures."""

    status: str
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as report.json stores it."""
        return {"status": self.status, "summary": self.summary, "figures": self.figures}


class CheckError(RuntimeError):
    """A step of a check could not run (a capture exited non-zero, a file is missing)."""


# --- helpers -----------------------------------------------------------------------------------


def tiny_models() -> dict[str, Any]:
    """conf/model_zoo/tiny.yaml's models by category (paths resolved with MESSPLUS_TINY_DIR)."""
    from omegaconf import OmegaConf

    from messplus_core.specs import ModelZoo

    raw = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "model_zoo" / "tiny.yaml")
    zoo = ModelZoo.from_mapping(OmegaConf.to_container(raw, resolve=True))
    return {m.category: m for m in zoo.models}


def capture_energy(ctx: Context) -> EnergySettings:
    """The `energy` settings a capture of the tiny zoo on the demo benchmark runs with: conf/capture.yaml composed
    and parsed as capture/run.py does (that file holds their defaults), for the checks that open windows themselves."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from messplus_core.capture.settings import parse_settings
    from messplus_core.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ctx.repo / "conf"), version_base=None):
        cfg = compose(config_name="capture", overrides=["model_zoo=tiny", f"benchmark={BENCHMARK}"])
    return parse_settings(OmegaConf.to_container(cfg, resolve=True), ctx.repo).energy


def capture_cmd(ctx: Context, out_dir: Path, *overrides: str, limit: int | None = None, zoo: str = "tiny") -> list[str]:
    """The capture CLI on the demo benchmark; a `zoo` written by `write_zoo` is found through hydra.searchpath."""
    search = [f"hydra.searchpath=[file://{ctx.work / 'conf'}]"] if zoo != "tiny" else []
    return [
        sys.executable, str(ctx.repo / "capture" / "run.py"), f"model_zoo={zoo}", f"benchmark={BENCHMARK}",
        f"limit={limit or ctx.limit}", f"out_dir={out_dir}", *search, *overrides,
    ]


def write_zoo(ctx: Context, name: str, models: list[dict[str, Any]]) -> Path:
    """A model_zoo config `name` under <work>/conf/model_zoo/ (YAML is a superset of JSON), for capture_cmd(zoo=name)."""
    path = ctx.work / "conf" / "model_zoo" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "models": models}, indent=1))
    return path


def run_cli(cmd: list[str], what: str, timeout_s: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a capture command to its end; raises CheckError naming `what` on a non-zero exit or timeout."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise CheckError(f"{what}: timed out after {timeout_s:.0f} s") from err
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise CheckError(f"{what}: exit {proc.returncode}: {' | '.join(tail)}")
    return proc, time.perf_counter() - started


def capture(ctx: Context, out_dir: Path, *overrides: str, limit: int | None = None) -> float:
    """One capture of tiny x demo through the CLI; its wall time (s)."""
    _, seconds = run_cli(capture_cmd(ctx, out_dir, *overrides, limit=limit), f"capture {' '.join(overrides)}", ctx.capture_timeout_s)
    return seconds


def energy_summary(out_dir: Path, categories: tuple[str, ...] = CATEGORIES) -> dict[str, Any]:
    """Energy problems (first 10 and count), per-category totals and medians (J, s) and the manifest's sources."""
    import pandas as pd

    frame = pd.read_csv(out_dir / f"{BENCHMARK}.csv")
    problems = compare.energy_problems(out_dir, BENCHMARK, categories)
    return {
        "energy_problems": problems[:10],
        "energy_problem_count": len(problems),
        "energy_j_total": {c: float(frame[f"energy_consumption_{c}"].sum()) for c in categories},
        "energy_j_median_per_doc": {c: float(frame[f"energy_consumption_{c}"].median()) for c in categories},
        "inference_time_s_median_per_doc": {c: float(frame[f"inference_time_{c}"].median()) for c in categories},
        "energy_sources": compare.energy_sources(out_dir, BENCHMARK),
    }


def gpu_memory_used_mib(index: int = 0) -> float:
    """Memory in use on GPU `index` as NVML reports it (MiB), whichever process holds it."""
    import pynvml

    pynvml.nvmlInit()
    try:
        return pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index)).used / 2**20
    finally:
        pynvml.nvmlShutdown()


def needs_gpu(ctx: Context) -> Result | None:
    """A SKIP result when there is no GPU, else None (the check goes on)."""
    return None if ctx.gpu else Result(SKIP, "no CUDA GPU on this machine")


# --- the checks --------------------------------------------------------------------------------


def check_build(ctx: Context) -> Result:
    """Build the tiny zoo (or confirm it is built) before anything loads it."""
    from ..capture.tiny_zoo import TinySpec, ensure_built

    started = time.perf_counter()
    records = {cat: ensure_built(Path(m.model), TinySpec(**m.build)) for cat, m in tiny_models().items()}
    figures = {
        "seconds": round(time.perf_counter() - started, 2),
        "parameters": {cat: r["parameters"] for cat, r in records.items()},
        "weights_sha256": {cat: r["weights_sha256"][:16] for cat, r in records.items()},
    }
    return Result(PASS, f"tiny zoo ready in {os.environ.get('MESSPLUS_TINY_DIR')}", figures)


def check_capture(ctx: Context) -> Result:
    """1: capture on CPU (labels = a plain lm-eval run's acc) and, with a GPU, on CUDA (labels = CPU's, energy > 0, NVML)."""
    from lm_eval import simple_evaluate

    from ..capture.backends import cpu_threads
    from ..capture.lm_eval_runner import task_manager

    cpu_dir, cuda_dir = ctx.work / "capture_cpu", ctx.work / "capture_cuda"
    figures: dict[str, Any] = {"limit": ctx.limit, "cpu_capture_s": round(capture(ctx, cpu_dir, "device=cpu"), 2)}
    problems: list[str] = []
    plain: dict[str, list[int]] = {}
    for cat, model in tiny_models().items():
        with cpu_threads(1):  # tiny models: one thread is fastest, and spares a shared machine's cores
            res = simple_evaluate(
                model="hf", model_args={"pretrained": model.model}, device="cpu", batch_size=16, tasks=[BENCHMARK],
                limit=ctx.limit, task_manager=task_manager(False), bootstrap_iters=0, log_samples=True,
            )
        theirs = {int(s["doc_id"]): float(s["acc"]) for s in res["samples"][BENCHMARK]}
        plain[cat] = compare.label_mismatches(compare.labels(cpu_dir, BENCHMARK, cat), theirs)
    figures["cpu_vs_plain_lm_eval_mismatched_doc_ids"] = plain
    if any(plain.values()):
        problems.append(f"CPU capture labels differ from plain lm-eval acc: {plain}")
    if not ctx.gpu:
        status = FAIL if problems else PASS
        return Result(status, "; ".join(problems) or f"device=cpu: {ctx.limit} docs x 3 models, labels = lm-eval's own acc", figures)

    figures["cuda_capture_s"] = round(capture(ctx, cuda_dir, "device=cuda"), 2)
    cmp = compare.compare_captures(cpu_dir, cuda_dir, BENCHMARK, CATEGORIES)
    figures["cuda_vs_cpu"] = cmp
    energy = energy_summary(cuda_dir)
    figures["cuda_energy"] = energy
    if cmp["label_diffs"] or cmp["missing"]:
        problems.append(f"{len(cmp['label_diffs'])} label(s) differ CPU vs CUDA (margins in the report): {cmp['label_diffs'][:5]}")
    if energy["energy_problem_count"]:
        problems.append(f"{energy['energy_problem_count']} row(s) without finite energy > 0: {energy['energy_problems'][:3]}")
    not_nvml = {c: s for c, s in energy["energy_sources"].items() if "NVML" not in s}
    if not_nvml:
        problems.append(f"manifest energy source is not NVML: {not_nvml}")
    summary = "; ".join(problems) or (
        f"labels equal CPU doc for doc ({cmp['docs']} docs x 3, max |d ll| {cmp['max_abs_ll_diff']:.2e}), "
        f"energy > 0 on every row, NVML"
    )
    return Result(FAIL if problems else PASS, summary, figures)


def check_vllm(ctx: Context) -> Result:
    """2: backend=vllm, one process per unit: labels = hf's on CUDA, log-likelihoods within tolerance, energy > 0."""
    if (skip := needs_gpu(ctx)) is not None:
        return skip
    if importlib.util.find_spec("vllm") is None:
        return Result(SKIP, "vllm is not importable here (make install-gpu); its scoring is pinned on CPU by "
                      "tests/integration/capture/test_vllm_backend.py against a stand-in")
    hf_dir, vllm_dir = ctx.work / "capture_cuda", ctx.work / "capture_vllm"
    figures: dict[str, Any] = {"limit": ctx.limit, "ll_tolerance": ctx.vllm_ll_tol}
    if not (hf_dir / f"{BENCHMARK}.csv").is_file():
        figures["hf_capture_s"] = round(capture(ctx, hf_dir, "device=cuda"), 2)
    figures["vllm_unit_s"] = [
        round(capture(ctx, vllm_dir, "backend=vllm", "device=cuda", f"unit={k}"), 2) for k in range(len(CATEGORIES))
    ]
    cmp = compare.compare_captures(hf_dir, vllm_dir, BENCHMARK, CATEGORIES)
    energy = energy_summary(vllm_dir)
    figures |= {"vllm_vs_hf": cmp, "vllm_energy": energy}
    problems = []
    if cmp["label_diffs"] or cmp["missing"]:
        problems.append(f"{len(cmp['label_diffs'])} label(s) differ vLLM vs hf: {cmp['label_diffs'][:5]}")
    if cmp["max_abs_ll_diff"] > ctx.vllm_ll_tol:
        problems.append(f"max |d ll| {cmp['max_abs_ll_diff']:.3g} > tolerance {ctx.vllm_ll_tol}")
    if energy["energy_problem_count"]:
        problems.append(f"{energy['energy_problem_count']} row(s) without finite energy > 0")
    summary = "; ".join(problems) or (
        f"labels equal hf ({cmp['docs']} docs x 3), max |d ll| {cmp['max_abs_ll_diff']:.2e} <= {ctx.vllm_ll_tol}, energy > 0"
    )
    return Result(FAIL if problems else PASS, summary, figures)


def check_bitsandbytes(ctx: Context) -> Result:
    """3: `quantization: bitsandbytes` on hf, for a full-precision checkpoint (quantized on load, as the llama3
    zoo's models are) and for the tiny large model saved in 4-bit; both captured in one zoo."""
    if (skip := needs_gpu(ctx)) is not None:
        return skip
    if importlib.util.find_spec("bitsandbytes") is None:
        return Result(SKIP, "bitsandbytes is not installed (make install-gpu, or carry its wheel: scripts/gpu_wheels.sh)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from ..capture.backends import make_lm
    from messplus_core.specs import ZooModel

    source = tiny_models()["large"]
    saved = ctx.work / "bnb4" / "large"
    quantized = AutoModelForCausalLM.from_pretrained(
        source.model,
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16),
        device_map={"": "cuda:0"},
    )
    quantized.save_pretrained(saved)
    AutoTokenizer.from_pretrained(source.model).save_pretrained(saved)
    del quantized
    torch.cuda.empty_cache()
    figures: dict[str, Any] = {
        "saved_quantization_config": json.loads((saved / "config.json").read_text()).get("quantization_config"),
        "saved_bytes": sum(p.stat().st_size for p in saved.glob("*.safetensors")),
        "source_bytes": sum(p.stat().st_size for p in Path(source.model).glob("*.safetensors")),
    }
    args = {"gpus": [0], "quantization": "bitsandbytes", "dtype": "bfloat16", "max_model_len": 256}
    models = {"on_load": source.model, "saved_4bit": str(saved)}
    write_zoo(ctx, "tiny_bnb4", [{"category": c, "model": m, "cost_rank": i, "backend_args": args}
                                 for i, (c, m) in enumerate(models.items(), start=1)])
    figures["linear4bit_layers"], figures["memory_footprint_bytes"] = {}, {}
    for category, path in models.items():
        lm = make_lm(ZooModel(category=category, model=path, cost_rank=1, backend_args=args), path, "hf", "cuda", 16)
        figures["linear4bit_layers"][category] = sum(type(m).__name__ == "Linear4bit" for m in lm.model.modules())
        figures["memory_footprint_bytes"][category] = int(lm.model.get_memory_footprint())
        del lm
        torch.cuda.empty_cache()

    out = ctx.work / "capture_bnb4"
    _, figures["capture_s"] = run_cli(capture_cmd(ctx, out, "device=cuda", zoo="tiny_bnb4"), "capture of the 4-bit zoo", ctx.capture_timeout_s)
    energy = energy_summary(out, tuple(models))
    figures["energy"] = energy
    fp_dir = next((d for d in (ctx.work / "capture_cuda", ctx.work / "capture_cpu") if (d / f"{BENCHMARK}.csv").is_file()), None)
    if fp_dir is not None:  # how often 4-bit agrees with full precision (a figure, not a criterion)
        full = compare.labels(fp_dir, BENCHMARK, "large")
        figures["labels_equal_to_full_precision"] = {
            c: sum(v == full.get(d) for d, v in compare.labels(out, BENCHMARK, c).items()) for c in models
        }
    problems = []
    if not all(figures["linear4bit_layers"].values()):
        problems.append(f"make_lm loaded no bitsandbytes Linear4bit layer: {figures['linear4bit_layers']}")
    if energy["energy_problem_count"]:
        problems.append(f"{energy['energy_problem_count']} row(s) without finite energy > 0")
    summary = "; ".join(problems) or (
        f"Linear4bit layers {figures['linear4bit_layers']}, saved {figures['saved_bytes'] / 2**20:.1f} MiB "
        f"(fp32 {figures['source_bytes'] / 2**20:.1f} MiB); both captured, {ctx.limit} docs, energy > 0"
    )
    return Result(FAIL if problems else PASS, summary, figures)


def nvml_counter_period_ms(seconds: float = 1.5) -> dict[str, float]:
    """How often NVML's total-energy counter of GPU 0 changes (ms between changes), polled for `seconds`."""
    import pynvml

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        changes: list[float] = []
        last = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        end = time.perf_counter() + seconds
        while (now := time.perf_counter()) < end:
            value = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            if value != last:
                changes.append(now)
                last = value
    finally:
        pynvml.nvmlShutdown()
    gaps = [(b - a) * 1e3 for a, b in zip(changes, changes[1:])]
    return {"median_ms": statistics.median(gaps) if gaps else math.inf, "max_ms": max(gaps, default=math.inf), "changes": len(changes)}


def check_zeus_windows(ctx: Context) -> Result:
    """4: a window shorter than NVML's counter period reads > 0; per-document windows sum to within 10% of one unit window."""
    if (skip := needs_gpu(ctx)) is not None:
        return skip
    import torch
    from zeus.monitor import ZeusMonitor

    from ..capture.backends import make_lm
    from ..capture.energy import EnergyMeter
    from .workloads import demo_requests, per_document

    period = nvml_counter_period_ms()
    meter = EnergyMeter((0,), capture_energy(ctx))
    x = torch.randn(256, 256, device="cuda")
    short = []
    for _ in range(20):
        opened = meter.begin()
        for _ in range(5):
            x = torch.tanh(x @ x)
        torch.cuda.synchronize()
        short.append(meter.end(opened))
    short_j = [r.parts.get("gpu0", 0.0) for r in short]  # the GPU's part (a node with RAPL adds CPU/DRAM zones)
    figures: dict[str, Any] = {
        "nvml_counter_period": period,
        "short_window_s_median": statistics.median(r.time_s for r in short),
        "short_window_gpu_j": {"min": min(short_j), "median": statistics.median(short_j), "zero_or_less": sum(j <= 0 for j in short_j)},
    }
    model = tiny_models()["large"]
    lm = make_lm(model, model.model, "hf", "cuda", 16)
    docs = demo_requests(ctx.limit)
    per_document(lm, docs[:5], None)  # warm-up: CUDA kernels, allocator
    outer = ZeusMonitor(gpu_indices=[0], approx_instant_energy=True)
    outer.begin_window("unit")
    loop_s, readings = per_document(lm, docs, meter)
    whole = outer.end_window("unit")
    whole_j = float(sum(whole.gpu_energy.values()))
    docs_j = math.fsum(r.parts.get("gpu0", 0.0) for r in readings)
    ratio = docs_j / whole_j if whole_j > 0 else math.nan
    figures |= {
        "docs": len(docs), "unit_window_gpu_j": whole_j, "unit_window_s": whole.time, "sum_doc_windows_gpu_j": docs_j,
        "sum_doc_windows_s": math.fsum(r.time_s for r in readings), "loop_s": loop_s, "sum_over_unit": ratio,
        "doc_window_s_median": statistics.median(r.time_s for r in readings),
    }
    problems = []
    if not figures["short_window_s_median"] * 1e3 < period["median_ms"]:
        problems.append(f"the short windows ({figures['short_window_s_median'] * 1e3:.1f} ms) are not shorter than NVML's "
                        f"counter period ({period['median_ms']:.1f} ms), so the fallback went untested")
    if figures["short_window_gpu_j"]["zero_or_less"]:
        problems.append(f"{figures['short_window_gpu_j']['zero_or_less']}/20 short windows read <= 0 J")
    if not (abs(ratio - 1) <= 0.10):
        problems.append(f"per-document windows sum to {ratio:.3f} x the unit window (goal within 10%)")
    summary = "; ".join(problems) or (
        f"20/20 windows of {figures['short_window_s_median'] * 1e3:.1f} ms read > 0 (NVML counter period "
        f"{period['median_ms']:.0f} ms); doc windows sum to {ratio:.3f} x the unit window"
    )
    return Result(FAIL if problems else PASS, summary, figures)


def _records_on_disk(shard: Path) -> int:
    return max(0, shard.read_bytes().count(b"\n") - 1) if shard.is_file() else 0


def check_kill_resume(ctx: Context) -> Result:
    """5: units in their own processes free the GPU; SIGKILL mid-unit, rerun: every document once, labels as clean.

    Runs on CPU too (without the memory part), which is how the tests exercise it.
    """
    from ..capture.shards import shard_path

    n = ctx.kill_limit
    device = f"device={ctx.device}"
    clean = ctx.work / "capture_units"
    baseline = gpu_memory_used_mib() if ctx.gpu else None
    units = []
    for k in range(len(CATEGORIES)):
        seconds = capture(ctx, clean, device, f"unit={k}", limit=n)
        units.append({"unit": k, "seconds": round(seconds, 2), "used_mib_after_exit": gpu_memory_used_mib() if ctx.gpu else None})
    figures: dict[str, Any] = {"limit": n, "device": ctx.device, "baseline_used_mib": baseline, "units": units}

    killed = ctx.work / "capture_killed"
    cmd = capture_cmd(ctx, killed, device, "fsync_every=1", limit=n)
    shard = shard_path(killed, BENCHMARK, "large")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + ctx.capture_timeout_s
    try:
        while _records_on_disk(shard) < 1:  # the last unit (large) has begun: two units done, one partial
            if proc.poll() is not None:
                raise CheckError(f"the capture ended (exit {proc.returncode}) before it could be killed; raise --kill-limit")
            if time.monotonic() > deadline:
                raise CheckError("the capture made no progress before the deadline")
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    figures["docs_in_shard_at_kill"] = _records_on_disk(shard)
    rerun, figures["rerun_s"] = run_cli(cmd, "rerun after SIGKILL", ctx.capture_timeout_s)
    figures["rerun_lines"] = [line for line in rerun.stdout.splitlines() if line.startswith("unit ")]
    counts = {c: compare.shard_doc_counts(killed, BENCHMARK, c) for c in CATEGORIES}
    not_once = {c: {d: k for d, k in cnt.items() if k != 1} for c, cnt in counts.items()}
    missing = {c: sorted(set(range(n)) - set(cnt)) for c, cnt in counts.items()}
    label_diffs = {c: compare.label_mismatches(compare.labels(killed, BENCHMARK, c), compare.labels(clean, BENCHMARK, c)) for c in CATEGORIES}
    figures |= {"docs_not_once": not_once, "docs_missing": missing, "label_diffs_vs_clean": label_diffs}
    problems = []
    if not 0 < figures["docs_in_shard_at_kill"] < n:
        problems.append(f"the kill did not land mid-unit ({figures['docs_in_shard_at_kill']} of {n} docs)")
    if any(not_once.values()) or any(missing.values()):
        problems.append(f"documents not exactly once: repeated {not_once}, missing {missing}")
    if any(label_diffs.values()):
        problems.append(f"labels differ from the clean run: {label_diffs}")
    memory = ""
    if ctx.gpu:
        leaked = [u for u in units if u["used_mib_after_exit"] > baseline + 64]
        if leaked:
            problems.append(f"GPU memory not freed after unit process(es) {leaked} (baseline {baseline:.0f} MiB)")
        memory = (f"; GPU memory back to {max(u['used_mib_after_exit'] for u in units):.0f} MiB "
                  f"(baseline {baseline:.0f}) after each unit's process")
    summary = "; ".join(problems) or (
        f"killed at {figures['docs_in_shard_at_kill']}/{n} docs of unit 2, rerun: every doc once, labels as the clean "
        f"per-unit run{memory}"
    )
    return Result(FAIL if problems else PASS, summary, figures)


def check_overhead(ctx: Context) -> Result:
    """6: the same documents scored per document with and without windows (overhead ratio), and batched (docs/s)."""
    from ..capture.backends import cpu_threads, make_lm
    from ..capture.energy import EnergyMeter
    from .workloads import batched, demo_requests, documents, interleaved_medians, per_document

    model = tiny_models()["large"]
    docs = documents(demo_requests(), ctx.overhead_docs)
    meter = EnergyMeter((0,) if ctx.gpu else (), capture_energy(ctx))
    rounds = 3
    with cpu_threads(None if ctx.gpu else 1):
        lm = make_lm(model, model.model, "hf", ctx.device, 16)
        lm_batched = make_lm(model, model.model, "hf", ctx.device, 64)
        per_document(lm, docs[:10], None)  # warm-up
        batched(lm_batched, docs[:64])
        medians = interleaved_medians(
            {
                "per_document_plain_s": lambda: per_document(lm, docs, None)[0],
                "per_document_windowed_s": lambda: per_document(lm, docs, meter)[0],
                "batched_s": lambda: batched(lm_batched, docs),
            },
            rounds,
        )
    ratio = medians["per_document_windowed_s"] / medians["per_document_plain_s"] - 1
    n = len(docs)
    figures = {
        "device": ctx.device, "model": "large", "docs": n, "rounds": rounds, "energy_source": meter.source, **medians,
        "window_overhead_ratio": ratio,
        "docs_per_s_per_document": n / medians["per_document_plain_s"],
        "docs_per_s_batched": n / medians["batched_s"],
    }
    summary = (
        f"{n} docs on {ctx.device}: windows add {ratio * 100:+.1f}% (goal < 5%); per-document "
        f"{figures['docs_per_s_per_document']:.0f} docs/s vs batched {figures['docs_per_s_batched']:.0f} docs/s"
    )
    if not ctx.gpu:  # a shared CPU's timing noise is not judged; the figures are still reported
        return Result(PASS, summary + " (timing on CPU not judged)", figures)
    return Result(PASS if ratio < 0.05 else FAIL, summary, figures)


CHECKS: dict[str, tuple[str, Callable[[Context], Result]]] = {
    "build": ("tiny zoo built", check_build),
    "capture": ("1 capture hf: CUDA vs CPU vs plain lm-eval", check_capture),
    "vllm": ("2 capture vllm vs hf", check_vllm),
    "bitsandbytes": ("3 4-bit bitsandbytes on hf", check_bitsandbytes),
    "zeus": ("4 Zeus short and per-document windows", check_zeus_windows),
    "kill": ("5 SIGKILL mid-unit and resume; GPU memory between units", check_kill_resume),
    "overhead": ("6 measurement overhead and batched throughput", check_overhead),
}
