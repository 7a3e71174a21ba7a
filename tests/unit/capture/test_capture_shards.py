"""Shard files: torn last lines are dropped, corruption and foreign shards are refused, one writer at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from messplus_core.capture.shards import DocRecord, ShardIdentity, ShardWriter, read_shard
from messplus_core.errors import ConfigError

IDENT = ShardIdentity(zoo="tiny", benchmark="demo", task="demo", category="small", model="m", backend="hf", device="cpu")


def _record(doc_id: int) -> DocRecord:
    return DocRecord(doc_id=doc_id, request_hash="h", input_text=f"q{doc_id}", loglikelihoods=[(-1.0, False), (-2.0, True)],
                     time_s=0.01, energy_j=None)


def _write(path: Path, n: int, identity: ShardIdentity = IDENT) -> None:
    writer = ShardWriter(path, identity, fsync_every=2)
    for d in range(n):
        writer.append(_record(d))
    writer.close()


def test_records_round_trip_with_missing_energy(tmp_path: Path) -> None:
    path = tmp_path / "s.shard.jsonl"
    _write(path, 3)
    contents = read_shard(path)
    assert contents.header["category"] == "small" and not contents.torn_tail
    assert contents.records[2] == _record(2)
    assert contents.records[0].energy_j is None


def test_torn_last_line_is_dropped_and_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.shard.jsonl"
    _write(path, 3)
    intact = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(b'{"doc_id": 3, "request_hash": "h", "inp')  # a write cut short by SIGKILL
    contents = read_shard(path)
    assert contents.torn_tail and sorted(contents.records) == [0, 1, 2]
    writer = ShardWriter(path, IDENT, fsync_every=1)
    assert writer.dropped_torn_line
    writer.append(_record(3))
    writer.close()
    assert path.read_bytes().startswith(intact)
    assert sorted(read_shard(path).records) == [0, 1, 2, 3]


def test_corrupt_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.shard.jsonl"
    _write(path, 3)
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigError, match="line 3 is corrupt"):
        read_shard(path)


def test_shard_of_another_zoo_or_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.shard.jsonl"
    _write(path, 1)
    other = ShardIdentity(**{**IDENT.to_dict(), "zoo": "llama3", "model": "other"})
    with pytest.raises(ConfigError, match="different capture.*zoo: file has 'tiny', this run 'llama3'"):
        ShardWriter(path, other, fsync_every=1)


def test_a_document_is_never_written_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.shard.jsonl"
    writer = ShardWriter(path, IDENT, fsync_every=1)
    writer.append(_record(0))
    with pytest.raises(ValueError, match="already"):
        writer.append(_record(0))
    with pytest.raises(ConfigError, match="another running capture"):
        ShardWriter(path, IDENT, fsync_every=1)
    writer.close()
    with open(path, "ab") as fh:  # what two unlocked writers would have produced
        fh.write(path.read_bytes().split(b"\n")[1] + b"\n")
    with pytest.raises(ConfigError, match="doc_id 0 appears twice"):
        read_shard(path)


def test_an_empty_done_record_or_manifest_is_named(tmp_path: Path) -> None:
    from messplus_core.capture.manifest import update_manifest
    from messplus_core.capture.shards import read_done

    done = tmp_path / "small.done.json"
    done.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"small.done.json is empty or corrupt"):
        read_done(done)
    (tmp_path / "manifest.json").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"manifest.json is empty or corrupt.*merge_only=true"):
        update_manifest(tmp_path, "tiny", "demo", {})
