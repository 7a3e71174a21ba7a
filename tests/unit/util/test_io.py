"""util/io.py: one torn-line rule for every JSON-lines file, atomic replacement, and the file lock."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from messplus_core.util.io import (CorruptLine, LockHeld, append_jsonl, atomic_path, file_lock, read_jsonl,
                                   write_json_atomic)


def test_torn_last_line_is_dropped_and_reported(tmp_path):
    path = tmp_path / "a.jsonl"
    append_jsonl(path, [{"a": 1}, {"b": 2}])
    path.write_bytes(path.read_bytes() + b'{"c": 3')  # a crash mid-write: no newline
    contents = read_jsonl(path)
    assert contents.rows == [{"a": 1}, {"b": 2}] and contents.torn_tail and contents.intact_bytes == 18


def test_last_line_with_newline_but_not_json_is_torn_too(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": \n')  # the newline reached the disk before the rest of the line
    contents = read_jsonl(path)
    assert contents.rows == [{"a": 1}] and contents.torn_tail and contents.intact_bytes == 9


def test_corrupt_line_before_the_last_is_an_error_naming_it(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(CorruptLine, match=r"a\.jsonl: line 2 is corrupt"):
        read_jsonl(path)


@pytest.mark.parametrize("tail", [b'{"c": 3', b'{"c": \n'])
def test_append_cuts_a_torn_tail_first(tmp_path, tail):
    path = tmp_path / "a.jsonl"
    append_jsonl(path, [{"a": 1}])
    path.write_bytes(path.read_bytes() + tail)
    append_jsonl(path, [{"d": 4}, {"e": "é"}])
    assert path.read_text(encoding="utf-8").splitlines() == ['{"a": 1}', '{"d": 4}', '{"e": "é"}']
    assert not read_jsonl(path).torn_tail


def test_append_to_a_file_whose_only_line_is_torn(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x"\n')
    append_jsonl(path, [{"y": 1}])
    assert path.read_bytes() == b'{"y": 1}\n'


def test_absent_file_reads_empty(tmp_path):
    contents = read_jsonl(tmp_path / "none.jsonl")
    assert contents.rows == [] and contents.intact_bytes == 0 and not contents.torn_tail


def test_atomic_path_replaces_only_on_success(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert json.loads(path.read_text()) == {"v": 1}
    assert tmp.name.startswith(".")  # a leftover temporary is hidden and never read as the file


def _hold(path, ready, release):
    with file_lock(path):
        ready.set()
        release.wait(30)


def test_file_lock_without_wait_refuses_a_held_lock(tmp_path):
    lock = tmp_path / "x.lock"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(lock, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(LockHeld):
            with file_lock(lock, wait=False):
                pass
    finally:
        release.set()
        holder.join(30)
    with file_lock(lock, wait=False):  # free again once the holder is gone
        pass
