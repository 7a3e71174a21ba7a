"""Finished runs on disk: one JSON line per run in `<out>/runs/<benchmark>.jsonl`.

Appending one durable line per finished run makes a sweep resumable (a rerun
skips run_ids already present) and lets Slurm array tasks, one per
benchmark, write into the same output folder without touching each other.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable


def _clean(value: Any) -> Any:
    """JSON has no NaN: store missing numbers as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class RunStore:
    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir) / "runs"

    def path(self, benchmark: str) -> Path:
        return self.dir / f"{benchmark}.jsonl"

    def append(self, benchmark: str, records: Iterable[dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.path(benchmark), "a", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(_clean(record)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> dict[str, dict[str, Any]]:
        """All complete records by run_id (a line torn by a crash is ignored; the run reruns)."""
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                found[record["run_id"]] = record
        return found
