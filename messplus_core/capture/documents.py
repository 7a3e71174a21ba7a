"""Which documents a capture unit scored: a fingerprint of the task's evaluation documents.

A unit's done record stores the fingerprint of the documents lm-eval gave it
(the task's evaluation split, its first `limit` documents). Before a done unit
is skipped or merged, the fingerprint is recomputed from the task's current
data; a unit whose documents changed (say the demo benchmark grew from 100 to
600 questions) is refused with the fix, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from messplus_core.errors import ConfigError
from .lm_eval_runner import load_task


@dataclass(frozen=True)
class DocumentSet:
    """The documents of one task at one limit: how many, and the SHA-256 of their per-document hashes in order."""

    count: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """The set as the done record stores it: {"count": int, "sha256": hex str}."""
        return {"count": self.count, "sha256": self.sha256}


def _doc_hash(doc: Any) -> str:
    """One document (a row of lm-eval's evaluation split) as a stable hash; non-JSON values by their str()."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=None)
def _task_doc_hashes(task: str) -> tuple[str, ...]:
    """The hashes of `task`'s evaluation documents in lm-eval's order (ConfigError when its data cannot be loaded)."""
    return tuple(_doc_hash(doc) for doc in load_task(task).eval_docs)


def document_set(task: str, limit: int | None) -> DocumentSet:
    """The documents lm-eval scores for `task` with `limit` (its first `limit` evaluation documents; all when None)."""
    hashes = _task_doc_hashes(task)[:limit]
    return DocumentSet(count=len(hashes), sha256=hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest())


def check_documents(path: Path, record: Mapping[str, Any], task: str) -> None:
    """Raise ConfigError unless the done record at `path` was written for the documents `task` gives now.

    The task's current documents are taken at the record's own `limit`, so a
    unit captured with `limit=40` is checked against the first 40 documents.
    A record without a fingerprint (written before captures recorded one) is
    refused too: what it scored cannot be checked.
    """
    folder = Path(path).parent
    fix = f"Delete the folder {folder} to recapture this benchmark, or pass out_dir=<a new folder>."
    limit = record.get("limit")
    now = document_set(task, limit)
    stored = record.get("documents")
    if stored is None:
        raise ConfigError(
            f"{path} records no fingerprint of the documents it scored (written by an older capture), so it cannot "
            f"be checked against the current data of task {task!r} ({now.count} documents at limit {limit}). {fix} "
            f"If the data is known unchanged, deleting only {Path(path).name} reruns the unit from its shard, "
            "each document checked against the current requests."
        )
    if stored != now.to_dict():
        raise ConfigError(
            f"{path} was captured from other documents of task {task!r} ({stored.get('count')} documents, sha256 "
            f"{str(stored.get('sha256'))[:12]}) than the task gives now ({now.count} documents, sha256 "
            f"{now.sha256[:12]}, at limit {limit}): its data changed since. {fix}"
        )
