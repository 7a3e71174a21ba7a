"""lm-eval model backends for capture: `hf` (transformers) and `vllm`.

Both are lm-eval's own model classes, built from a zoo entry's
`backend_args`. vLLM is a GPU-only optional extra; it is imported only when a
unit actually runs with `backend=vllm`, and its absence is reported before
anything is loaded.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from messplus_core.errors import ConfigError
from messplus_core.specs import ZooModel

if TYPE_CHECKING:
    from lm_eval.api.model import LM

BACKENDS = ("hf", "vllm")
DEVICES = ("auto", "cpu", "cuda")


def check_backend_installed(backend: str, models: list[ZooModel]) -> None:
    """The optional GPU packages a backend or quantization needs, with how to install them."""
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "backend=vllm needs the `gpu` extra, which is not installed: run `make install-gpu` "
            "(or `pip install -e '.[gpu]'`) on a machine with an NVIDIA GPU, or use backend=hf."
        )
    for m in models:
        quant = m.backend_args.get("quantization")
        if backend == "hf" and quant not in (None, "bitsandbytes"):
            raise ConfigError(
                f"model '{m.model}' ({m.category}): backend=hf applies quantization 'bitsandbytes' (4-bit) only, "
                f"got {quant!r}; use backend=vllm, or quantization: null for a pre-quantized checkpoint."
            )
        if backend == "hf" and quant == "bitsandbytes" and importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(
                f"model '{m.model}' ({m.category}) asks for bitsandbytes 4-bit quantization, which needs the `gpu` "
                "extra: run `make install-gpu` on a machine with an NVIDIA GPU."
            )


def check_backend_device(backend: str, device: str, models: list[ZooModel]) -> None:
    """Backend/device combinations that cannot work (`device` already resolved to cpu or cuda)."""
    if backend == "vllm":
        if device == "cpu":
            raise ConfigError("backend=vllm runs on GPUs only; use device=cuda (or backend=hf for CPU).")
        for m in models:
            if not m.gpus or list(m.gpus) != list(range(len(m.gpus))):
                raise ConfigError(
                    f"model '{m.model}' ({m.category}): backend=vllm uses the first N visible GPUs, so "
                    f"backend_args.gpus must be [0, ..., N-1], got {list(m.gpus)}. Select physical GPUs "
                    "with CUDA_VISIBLE_DEVICES."
                )
    for m in models:
        threads = m.backend_args.get("cpu_threads")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"model '{m.model}' ({m.category}): backend_args.cpu_threads must be a positive integer or null.")
    if backend == "hf" and device == "cpu":
        for m in models:
            if m.backend_args.get("quantization"):
                raise ConfigError(
                    f"model '{m.model}' ({m.category}): bitsandbytes quantization runs on GPUs only; "
                    "use device=cuda, or quantization: null on CPU."
                )


def make_lm(model: ZooModel, path: str, backend: str, device: str, batch_size: int) -> "LM":
    """Load one zoo model as an lm-eval LM (the expensive step; called once per unit, lazily)."""
    args = model.backend_args
    dtype = args.get("dtype") or "auto"
    if backend == "vllm":
        from lm_eval.models.vllm_causallms import VLLM

        kwargs: dict[str, Any] = {
            "pretrained": path,
            "dtype": dtype,
            "tensor_parallel_size": len(model.gpus),
            "batch_size": batch_size,
            "quantization": args.get("quantization"),
        }
        for key in ("gpu_memory_utilization", "max_model_len"):
            if args.get(key) is not None:
                kwargs[key] = args[key]
        return VLLM(**kwargs)

    from lm_eval.models.huggingface import HFLM

    hf_kwargs: dict[str, Any] = {"batch_size": batch_size}
    if args.get("max_model_len"):
        hf_kwargs["max_length"] = int(args["max_model_len"])
    if args.get("quantization") == "bitsandbytes":
        # HFLM cannot pass a quantization config through; load the 4-bit model and hand it over.
        return HFLM(pretrained=_load_4bit(path, dtype, model.gpus), tokenizer=path, **hf_kwargs)
    hf_kwargs |= {"pretrained": path, "dtype": dtype}
    if device == "cpu":
        hf_kwargs["device"] = "cpu"
    elif len(model.gpus) > 1:
        hf_kwargs["parallelize"] = True  # accelerate spreads the layers over the visible GPUs
    else:
        hf_kwargs["device"] = f"cuda:{model.gpus[0] if model.gpus else 0}"
    return HFLM(**hf_kwargs)


def _load_4bit(path: str, dtype: str, gpus: tuple[int, ...]) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    compute = getattr(torch, dtype) if dtype not in ("auto", None) else torch.bfloat16
    device_map: Any = "auto" if len(gpus) > 1 else {"": f"cuda:{gpus[0] if gpus else 0}"}
    return AutoModelForCausalLM.from_pretrained(
        path,
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=compute),
        dtype=compute,
        device_map=device_map,
    )


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Torch intra-op threads for one CPU unit (`backend_args.cpu_threads`), restored afterwards.

    Small models gain nothing from several threads, and OpenMP threads that
    spin-wait on a busy machine inflate the measured per-document time many
    times over; one thread keeps those times stable.
    """
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def model_revision(lm: "LM") -> str | None:
    """The Hugging Face commit the weights came from, when they came from the hub."""
    config = getattr(lm, "_config", None) or getattr(getattr(lm, "_model", None), "config", None)
    return getattr(config, "_commit_hash", None)
