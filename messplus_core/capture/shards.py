"""Crash-safe per-unit shards and their completion records.

Each (model, benchmark) unit appends one JSON line per document to
`<out_dir>/<benchmark>/<category>.shard.jsonl` as soon as the document has
been scored, flushing every line and fsyncing every `fsync_every` lines. A
process killed mid-write leaves at most one torn last line, which the next
run detects, drops and overwrites. The first line is a header naming the
zoo, model, benchmark and backend; a rerun refuses a shard written for
anything else, so captures never mix.

A shard stores each document's log-likelihoods (or, for a generation task,
its generated text), so a resumed run feeds them back to lm-eval instead of
recomputing them: lm-eval then scores every
document itself. When lm-eval has finished, `<category>.done.json` records
its per-document metrics and a fingerprint of its documents (documents.py);
only then is the unit complete, and only while the task still gives those documents. Shards are JSON
lines, not CSV, so the evaluate stage never mistakes them for capture CSVs.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from messplus_core.errors import ConfigError
from messplus_core.util.io import CorruptLine, LockHeld, file_lock, read_jsonl

SHARD_SUFFIX = ".shard.jsonl"
DONE_SUFFIX = ".done.json"
FORMAT = 1


@dataclass(frozen=True)
class ShardIdentity:
    """What a shard belongs to; a rerun must match it exactly."""

    zoo: str
    benchmark: str
    task: str
    category: str
    model: str
    backend: str
    device: str

    def to_dict(self) -> dict[str, str]:
        """The identity as the shard header's and the done record's fields."""
        return asdict(self)


@dataclass(frozen=True)
class DocRecord:
    """One scored document: its requests' hash and text, time and energy, and what the model produced:
    log-likelihoods (multiple-choice), or the generated text with prompt and generated token counts
    (generation tasks)."""

    doc_id: int
    request_hash: str
    input_text: str
    loglikelihoods: list[tuple[float, bool]]
    time_s: float
    energy_j: float | None
    energy_parts: dict[str, float] = field(default_factory=dict)
    generated: str | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "DocRecord":
        """A record from its shard line (KeyError/ValueError for a malformed one)."""
        def opt_int(key: str) -> int | None:
            return None if raw.get(key) is None else int(raw[key])

        return cls(
            doc_id=int(raw["doc_id"]),
            request_hash=str(raw["request_hash"]),
            input_text=str(raw["input_text"]),
            loglikelihoods=[(float(ll), bool(g)) for ll, g in raw["loglikelihoods"]],
            time_s=float(raw["time_s"]),
            energy_j=None if raw.get("energy_j") is None else float(raw["energy_j"]),
            energy_parts={k: float(v) for k, v in (raw.get("energy_parts") or {}).items()},
            generated=None if raw.get("generated") is None else str(raw["generated"]),
            prompt_tokens=opt_int("prompt_tokens"),
            generated_tokens=opt_int("generated_tokens"),
        )


def shard_path(out_dir: Path, benchmark: str, category: str) -> Path:
    """`<out_dir>/<benchmark>/<category>.shard.jsonl`, the unit's journal of scored documents."""
    return Path(out_dir) / benchmark / f"{category}{SHARD_SUFFIX}"


def done_path(out_dir: Path, benchmark: str, category: str) -> Path:
    """`<out_dir>/<benchmark>/<category>.done.json`, the unit's completion record."""
    return Path(out_dir) / benchmark / f"{category}{DONE_SUFFIX}"


@dataclass
class ShardContents:
    """A parsed shard: its header, its documents by doc_id, and whether a torn last line was dropped."""

    header: dict[str, Any] | None
    records: dict[int, DocRecord]
    intact_bytes: int  # length of the file up to the last complete line
    torn_tail: bool


def read_shard(path: Path) -> ShardContents:
    """Parse a shard under the JSON-lines torn-line rule (`util/io.read_jsonl`: a torn last line is dropped and
    reported); anything else corrupt is an error."""
    try:
        contents = read_jsonl(path)
    except CorruptLine as err:
        raise ConfigError(f"{err}. Delete the shard to recapture this unit.") from None
    parsed, intact, torn = contents.rows, contents.intact_bytes, contents.torn_tail
    header = parsed[0] if parsed else None
    if header is not None and header.get("kind") != "header":
        raise ConfigError(f"{path}: the first line is not a shard header. Delete the file to recapture this unit.")
    records: dict[int, DocRecord] = {}
    for n, raw in enumerate(parsed[1:], start=2):
        rec = DocRecord.from_dict(raw)
        if rec.doc_id in records:
            raise ConfigError(
                f"{path}: doc_id {rec.doc_id} appears twice (line {n}); two runs wrote this shard at once. "
                "Delete it to recapture this unit."
            )
        records[rec.doc_id] = rec
    return ShardContents(header, records, intact, torn)


def check_identity(path: Path, header: Mapping[str, Any] | None, expected: Mapping[str, str]) -> None:
    """Raise if an existing shard (or done record) was written for another zoo, model, task or backend."""
    if header is None:
        return
    diff = {k: (header.get(k), v) for k, v in expected.items() if header.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}: file has {a!r}, this run {b!r}" for k, (a, b) in diff.items())
        raise ConfigError(
            f"{path} was written by a different capture ({listed}). Use another out_dir=..., "
            "or delete that file to recapture this unit."
        )


class ShardWriter:
    """Appends document records to one unit's shard; holds an exclusive lock while open."""

    def __init__(self, path: Path, identity: ShardIdentity, fsync_every: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = ExitStack()
        try:
            self._lock.enter_context(file_lock(path.with_name(path.name + ".lock"), wait=False))
        except LockHeld:
            raise ConfigError(f"{path} is being written by another running capture of the same unit; wait for it or stop it.") from None
        contents = read_shard(path)
        check_identity(path, contents.header, identity.to_dict())
        self.records = contents.records
        self.dropped_torn_line = contents.torn_tail
        self._fsync_every = max(1, int(fsync_every))
        self._pending = 0
        self._fh: BinaryIO = open(path, "r+b" if path.exists() else "w+b")
        self._fh.truncate(contents.intact_bytes)
        self._fh.seek(contents.intact_bytes)
        if contents.header is None:
            self._write_line({"kind": "header", "format": FORMAT, **identity.to_dict()})
            self.sync()

    def _write_line(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
        self._fh.flush()

    def append(self, record: DocRecord) -> None:
        """Write one document's line (flushed; fsynced every `fsync_every` lines). ValueError if already stored."""
        if record.doc_id in self.records:
            raise ValueError(f"doc_id {record.doc_id} is already in {self.path}")
        optional = ("generated", "prompt_tokens", "generated_tokens")  # generation tasks only
        self._write_line({k: v for k, v in asdict(record).items() if not (k in optional and v is None)})
        self.records[record.doc_id] = record
        self._pending += 1
        if self._pending >= self._fsync_every:
            self.sync()

    def sync(self) -> None:
        """fsync the shard: every line written so far survives a crash."""
        os.fsync(self._fh.fileno())
        self._pending = 0

    def close(self) -> None:
        """fsync and close the shard, then release its lock (safe to call twice)."""
        if not self._fh.closed:
            self.sync()
            self._fh.close()
        self._lock.close()


def read_done(path: Path) -> dict[str, Any] | None:
    """A unit's completion record; None when absent. An empty or corrupt one (e.g. a failed copy) is a ConfigError."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is empty or corrupt ({err}); delete it (and its unit's .shard.jsonl if that is "
                          "damaged too) and rerun the unit.") from None
