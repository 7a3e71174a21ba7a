"""Checks that run before any model is loaded, so bad input fails in seconds, not after a model load.

Covered: backend/device combinations (vLLM installed, GPUs present and the
zoo's GPU indices visible), model sources (a local folder that exists, a
tiny-zoo recipe, or a hub id that is cached when offline), the lm-eval tasks
and their data, a writable output folder, and existing shards that belong to
another capture. Unknown `model_zoo=`/`benchmark=` names are rejected by Hydra
itself, which lists the available ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from messplus_core.errors import ConfigError
from messplus_core.specs import ZooModel
from .backends import check_backend_device, check_backend_installed
from .documents import check_documents
from .lm_eval_runner import check_task_data, check_tasks
from .settings import CaptureSettings, looks_like_path
from .shards import ShardIdentity, check_identity, done_path, read_done, read_shard, shard_path
from .tiny_zoo import TinySpec, built_record
from .units import CaptureUnit

HUB_TIMEOUT_S = 10.0  # how long a hub model that is not cached may take to answer before the capture refuses it


def resolve_device(settings: CaptureSettings) -> str:
    """`auto` -> cuda when a GPU is visible (always for vLLM), else cpu; `cuda` must have a GPU."""
    import torch

    has_gpu = torch.cuda.is_available()
    device = settings.device
    if device == "auto":
        device = "cuda" if has_gpu or settings.backend == "vllm" else "cpu"
    if device == "cuda":
        models = [u.model for u in settings.selected]
        settings.zoo.check_gpus(torch.cuda.device_count() if has_gpu else 0, models)
        if not has_gpu:  # a zoo without GPU indices still needs one GPU on cuda
            raise ConfigError("device=cuda, but no CUDA GPU is visible on this machine; use device=cpu (backend=hf).")
    return device


def tiny_spec(model: ZooModel) -> TinySpec:
    """The `build:` spec of a tiny zoo model (ConfigError for unknown or missing keys)."""
    return TinySpec.from_mapping(f"model_zoo model '{model.category}' build", model.build)


def check_model_source(settings: CaptureSettings, model: ZooModel) -> None:
    """Raise ConfigError unless the model can load without surprises: a tiny model built from this spec (or
    not built yet), a local folder with config.json, or a hub id in the HF cache or given by the hub (not
    asked with HF_HUB_OFFLINE=1)."""
    ref = settings.model_path(model.model)
    if model.build:
        built_record(Path(ref), tiny_spec(model))  # else built on first use by the unit that needs it
        return
    if Path(ref).is_absolute() or looks_like_path(model.model):
        if not (Path(ref) / "config.json").is_file():
            raise ConfigError(
                f"model '{model.model}' ({model.category}) resolves to the local folder {ref}, which "
                "does not exist or holds no config.json. Fix the path in the model_zoo config."
            )
        return
    from huggingface_hub import HfApi, constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(ref, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ConfigError(
            f"model '{ref}' ({model.category}) is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
            "HF_HUB_OFFLINE=1 forbids downloading it. Download it first (huggingface-cli download), "
            "or give a local folder as `model:`."
        )
    try:
        HfApi().model_info(ref, timeout=HUB_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - unreachable, gated or unknown: the unit could not load it
        reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise ConfigError(
            f"model '{ref}' ({model.category}) is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and the "
            f"hub did not give it ({reason}). Download it where the hub is reachable (huggingface-cli download, with "
            "a token for gated models), or give a local folder as `model:`."
        ) from None


def check_out_dir(out_dir: Path) -> None:
    """Create `out_dir` and write a probe file there; ConfigError if it is not writable."""
    probe = out_dir / f".write-test-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"out_dir {out_dir} is not writable ({err.strerror}); pass out_dir=<a writable folder>.") from err


def identity(settings: CaptureSettings, unit: CaptureUnit, device: str) -> ShardIdentity:
    """What a unit's shard must record: zoo, benchmark, task, category, model, backend and device."""
    return ShardIdentity(
        zoo=settings.zoo.name,
        benchmark=unit.benchmark.name,
        task=unit.benchmark.task,
        category=unit.model.category,
        model=unit.model.model,
        backend=settings.backend,
        device=device,
    )


def check_existing_shards(settings: CaptureSettings, device: str) -> None:
    """Raise ConfigError when a selected unit's shard or done record was written by another capture identity."""
    for unit in settings.selected:
        expected = identity(settings, unit, device).to_dict()
        shard = shard_path(settings.out_dir, unit.benchmark.name, unit.model.category)
        check_identity(shard, read_shard(shard).header, expected)
        done = done_path(settings.out_dir, unit.benchmark.name, unit.model.category)
        record = read_done(done)
        check_identity(done, record and record["identity"], expected)
        if record is not None:
            check_documents(done, record, unit.benchmark.task)


def preflight(settings: CaptureSettings) -> str:
    """Run every check for the selected units; returns the resolved device.

    Every check runs (a check that depends on a failed one is left out), and
    all problems found are raised together as one ConfigError, so a user fixes
    them in one round instead of one per attempt.
    """
    problems: list[str] = []

    def attempt(check: Callable[..., Any], *args: Any) -> bool:
        try:
            check(*args)
            return True
        except ConfigError as err:
            if str(err) not in problems:
                problems.append(str(err))
            return False

    models = list({u.model.category: u.model for u in settings.selected}.values())
    for model in models:
        attempt(check_backend_installed, settings.backend, [model])
    device = ""

    def resolve() -> None:
        nonlocal device
        device = resolve_device(settings)

    if attempt(resolve):
        if device == "cpu" and settings.device == "auto":
            needs_gpu = [m.model for m in models if m.backend_args.get("quantization")]
            if needs_gpu:
                problems.append(f"no CUDA GPU is visible on this machine (device=auto chose cpu), but {needs_gpu} are "
                                "quantized with bitsandbytes, which runs on GPUs only: run on a GPU machine with the `gpu` "
                                "extra (make install-gpu), or pick a zoo for CPUs (model_zoo=tiny).")
        else:
            for model in models:
                attempt(check_backend_device, settings.backend, device, [model])
    for model in models:
        attempt(check_model_source, settings, model)
    tasks = list(dict.fromkeys(u.benchmark.task for u in settings.selected))
    tasks_known = attempt(check_tasks, tasks)
    attempt(check_out_dir, settings.out_dir)
    if tasks_known:
        missing: list[str] = []
        first = ""
        for task in tasks:
            try:
                check_task_data([task])
            except ConfigError as err:
                missing.append(task)
                first = first or str(err)
        if len(missing) == 1:
            problems.append(first)
        elif missing:
            problems.append(f"lm-eval could not load the data of tasks {missing}; the first: {first}")
    if device:
        attempt(check_existing_shards, settings, device)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise ConfigError(f"{len(problems)} problems stop this capture before any model loads:\n{listed}")
    return device
