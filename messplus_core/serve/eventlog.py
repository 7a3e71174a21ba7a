"""The gateway's append-only event log: stdlib sqlite3 in WAL mode, one writer (the gateway process).

Every routing decision, measured cost and feedback is appended here before it
changes the router or is acknowledged to a client; every `snapshot_every`
events the router's `state_dict()` is stored beside the log. A restart loads the
last snapshot and re-applies the later events (`service.RouterService.recover`),
so a SIGKILL loses nothing a client saw acknowledged.

Tables:
- meta(key, value): what the log was written for (zoo, alpha, seed, settings); a restart with another
  configuration is refused instead of silently mixing two routers' histories.
- events(seq, kind, request_id, payload, ts): kind in {decision, costs, feedback, outputs}; payload JSON;
  ts the wall-clock time (s since the epoch) when it was appended.
- snapshots(seq, state): the router state after applying event `seq` (JSON).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, request_id TEXT NOT NULL,
                                   payload TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_request ON events (request_id, kind);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state TEXT NOT NULL);
"""


class EventLog:
    """Append-only event log in `<path>` (sqlite3, WAL). Not thread-safe: one writer, called from one event loop.

    synchronous: sqlite's PRAGMA synchronous (conf/serve.yaml's `synchronous`). NORMAL survives a killed process
    (the WAL is in the OS page cache once a commit returns); FULL also survives a power cut, at one fsync per event.
    """

    def __init__(self, path: str | Path, synchronous: str) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}.")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.executescript(SCHEMA)
        self.last_seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    # -- meta ---------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """The meta table as a dict (values decoded from JSON); empty for a new log."""
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        """Insert or replace meta keys, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()])

    # -- events -------------------------------------------------------------------------------------

    def append(self, kind: str, request_id: str, payload: dict[str, Any]) -> tuple[int, float]:
        """Append one event and commit it; returns (seq, ts). Durable (see `synchronous`) when this returns."""
        ts = time.time()
        cur = self.db.execute("INSERT INTO events (kind, request_id, payload, ts) VALUES (?, ?, ?, ?)",
                              (kind, request_id, json.dumps(payload, sort_keys=True), ts))
        self.last_seq = int(cur.lastrowid)
        return self.last_seq, ts

    def events(self, after: int = 0, kinds: tuple[str, ...] | None = None) -> Iterator[tuple[int, str, str, dict[str, Any], float]]:
        """(seq, kind, request_id, payload, ts) of every event with seq > `after`, in log order."""
        query = "SELECT seq, kind, request_id, payload, ts FROM events WHERE seq > ?"
        args: list[Any] = [after]
        if kinds:
            query += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        for seq, kind, rid, payload, ts in self.db.execute(query + " ORDER BY seq", args):
            yield seq, kind, rid, json.loads(payload), ts

    def request_events(self, request_id: str) -> list[tuple[int, str, dict[str, Any], float]]:
        """(seq, kind, payload, ts) of one request's events, in log order."""
        rows = self.db.execute("SELECT seq, kind, payload, ts FROM events WHERE request_id = ? ORDER BY seq", (request_id,))
        return [(seq, kind, json.loads(payload), ts) for seq, kind, payload, ts in rows]

    # -- snapshots ----------------------------------------------------------------------------------

    def snapshot(self, seq: int, state: dict[str, Any]) -> None:
        """Store the router state after event `seq` (JSON; replaces an earlier snapshot at the same seq)."""
        self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (seq, json.dumps(state, sort_keys=True)))

    def last_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """(seq, state) of the latest snapshot, or None when there is none."""
        row = self.db.execute("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))
