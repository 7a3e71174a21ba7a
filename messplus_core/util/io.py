"""Crash-safe file helpers shared by every stage: atomic writes, file locks, and JSON lines with ONE torn-line rule.

The torn-line rule (`read_jsonl`): a JSON-lines file is a sequence of complete lines, each ending in a newline.
A crash can cut only the last one short, so the last line is dropped (and reported as `torn_tail`) when it lacks
its newline or is not valid JSON; a line that is not JSON anywhere else is damage this code never makes, and is a
`CorruptLine` error naming the file and line. `append_jsonl` cuts a torn tail off before appending, so a torn
line never ends up in the middle of a file.

Users: capture shards (`capture/shards.py`), the evaluate run store (`evaluate/store.py`), the manifest and done
records (`write_json_atomic`), capture CSVs, embedding caches and the tiny zoo's build folder (`atomic_path`).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from filelock import FileLock, Timeout

__all__ = ["CorruptLine", "JsonlContents", "LockHeld", "append_jsonl", "atomic_path", "file_lock", "read_jsonl",
           "write_json_atomic"]


class CorruptLine(ValueError):
    """A line other than the last of a JSON-lines file is not JSON (`path`, 1-based `line`)."""

    def __init__(self, path: Path, line: int) -> None:
        super().__init__(f"{path}: line {line} is corrupt (not JSON)")
        self.path, self.line = path, line


class LockHeld(RuntimeError):
    """`file_lock(..., wait=False)` found the lock held by another process."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` (file or folder) to write; on success it replaces `path` in one
    `os.replace`, so readers see the old version or the new one, never a half-written one. On an exception the
    temporary is left for the caller's cleanup rules (a leftover is never read: its name starts with a dot)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    yield tmp
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: Any, indent: int | None = 1) -> None:
    """Write `payload` as JSON (UTF-8, fsynced) through `atomic_path`."""
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=indent, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())


@contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive inter-process lock on `path` (filelock's flock-based lock; the file is created if
    missing). With `wait=False` a lock held elsewhere raises LockHeld at once instead of blocking."""
    lock = FileLock(str(path), timeout=-1 if wait else 0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeld(f"{path} is held by another process") from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class JsonlContents:
    """What `read_jsonl` found: the complete rows, the byte length they span, and whether a torn tail was dropped."""

    rows: list[Any] = field(default_factory=list)
    intact_bytes: int = 0
    torn_tail: bool = False


def read_jsonl(path: Path) -> JsonlContents:
    """Parse a JSON-lines file under the module's torn-line rule; an absent file reads as empty.

    Raises CorruptLine for a line other than the last that is not JSON (or not UTF-8)."""
    path = Path(path)
    if not path.is_file():
        return JsonlContents()
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # after a final b"\n", split() yields b""
    out = JsonlContents(intact_bytes=len(data) - len(tail), torn_tail=bool(tail))
    for n, raw in enumerate(complete, start=1):
        try:
            out.rows.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            if n == len(complete) and not out.torn_tail:  # a last line whose bytes never fully reached the disk
                out.torn_tail, out.intact_bytes = True, out.intact_bytes - len(raw) - 1
                break
            raise CorruptLine(path, n) from None
    return out


def _intact_bytes(fh: BinaryIO, size: int) -> int:
    """Length of `fh` without a torn tail (the rule of `read_jsonl`), reading only the last line(s)."""
    if size == 0:
        return 0
    block, start, data = 1 << 16, size, b""
    while start > 0 and data.count(b"\n") < 2:
        start = max(0, start - block)
        fh.seek(start)
        data = fh.read(size - start)
    last_nl = data.rfind(b"\n")
    if last_nl != len(data) - 1:  # no newline at the end: the tail after the last newline is torn
        return start + last_nl + 1
    line_start = data.rfind(b"\n", 0, last_nl) + 1  # 0 when the block holds the file's first line
    try:
        json.loads(data[line_start:last_nl])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return start + line_start
    return size


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    """Write one JSON line per row (UTF-8, non-ASCII kept) as a new file through `atomic_path`, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def append_jsonl(path: Path, rows: Iterable[Any]) -> None:
    """Append one JSON line per row and fsync; a torn tail left by an earlier crash is cut off first.

    Only the end of the file is read (appends stay O(new rows)). Concurrent appenders to one file must hold a
    lock (`file_lock`); the callers here write a file from one process at a time."""
    path = Path(path)
    with open(path, "r+b" if path.exists() else "w+b") as fh:
        intact = _intact_bytes(fh, os.fstat(fh.fileno()).st_size)
        fh.truncate(intact)
        fh.seek(intact)
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
