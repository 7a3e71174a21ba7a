"""`manifest.json`: what a capture folder holds and how it was measured.

One manifest per capture folder, with one entry per merged benchmark (models
and revisions, backend, hardware, energy source per model, lm-eval and task
versions, start/end times, row counts). Benchmarks may be merged by
concurrent jobs, so updates take a file lock and replace the file atomically.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from messplus_core.data.schema import MANIFEST
from messplus_core.errors import ConfigError
from messplus_core.util.io import file_lock, write_json_atomic


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second (e.g. 2026-11-30T05:40:00+00:00)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware(device: str, gpus: Sequence[int]) -> dict[str, Any]:
    """The machine a unit ran on, as far as it matters for its costs."""
    import torch

    info: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "device": device,
    }
    if device == "cuda":
        info["gpus"] = [torch.cuda.get_device_name(i) for i in gpus]
        info["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return info


def update_manifest(out_dir: Path, zoo: str, benchmark: str, entry: dict[str, Any]) -> Path:
    """Set one benchmark's entry in `<out_dir>/manifest.json`, under a lock."""
    path = Path(out_dir) / MANIFEST
    with file_lock(path.with_name(MANIFEST + ".lock")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"zoo": zoo, "benchmarks": {}}
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path} is empty or corrupt ({err}); delete it and rerun with merge_only=true to "
                              "rebuild it from the units' records.") from None
        manifest["zoo"] = zoo
        manifest["benchmarks"][benchmark] = entry
        manifest["updated_at"] = now_iso()
        write_json_atomic(path, manifest)
    return path
