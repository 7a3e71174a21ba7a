"""Finished runs on disk: one JSON line per run in `<out>/runs/<benchmark>.jsonl`.

Appending one durable line per finished run makes a sweep resumable (a rerun
skips run_ids already present) and lets Slurm array tasks, one per
benchmark, write into the same output folder without touching each other.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

from messplus_core.errors import ConfigError
from messplus_core.util.io import CorruptLine, append_jsonl, read_jsonl


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
    """The finished runs of one output folder: `<out_dir>/runs/<benchmark>.jsonl`, one JSON line per run."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir) / "runs"

    def path(self, benchmark: str) -> Path:
        """The JSON-lines file of `benchmark`'s runs."""
        return self.dir / f"{benchmark}.jsonl"

    def append(self, benchmark: str, records: Iterable[dict[str, Any]]) -> None:
        """Append finished runs durably (fsynced); a line torn by an earlier crash is cut off first."""
        self.dir.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path(benchmark), (_clean(r) for r in records))

    def records(self) -> dict[str, dict[str, Any]]:
        """All complete records by run_id. A last line torn by a crash is ignored (that run reruns); a corrupt
        line elsewhere is a ConfigError naming the file (util/io.py's torn-line rule)."""
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("*.jsonl")):
            try:
                rows = read_jsonl(path).rows
            except CorruptLine as err:
                raise ConfigError(f"{err}. Delete {path} to recompute that benchmark's runs, or use another "
                                  "out_dir.") from None
            for record in rows:
                found[record["run_id"]] = record
        return found
