"""The state journal of paper and live runs: `state.sqlite` (DESIGN §4, §6, §8).

    journal = Journal.open(path, fingerprint=summary_fingerprint)   # resumes if it exists
    seq = journal.record("order", {"id": ..., ...}, event_ms=bar_close_ms)
    ... act on it (submit the order) only after `record` returned ...
    for event in journal.events():                                  # on restart
        ...

An append-only log of events, one row each: a sequence number, a kind (`signal`,
`risk`, `order`, `order_update`, `fill`, ... — the runtime's vocabulary), the time
the event happened (`event_ms`, exchange or bar time) and the time the runner
received it (`receipt_ms`), and a JSON payload.

Decisions:

- **Intent first.** `record` commits before it returns, and the caller acts after: a
  crash between the two leaves the intent in the journal, never an action without one,
  so a restart can tell what was meant and reconcile it with the venue.
- **Crash safety.** SQLite in WAL mode, one transaction per event. A committed event
  survives `kill -9` of the process at any moment (the OS holds the written pages);
  `durable=True` (`synchronous=FULL`) also survives power loss, at an fsync per event.
  An event is either wholly in the journal or not at all; sequence numbers have no
  gaps.
- **One strategy per journal.** The journal stores the config fingerprint it was
  started with; opening it with another fingerprint is an error naming both (a changed
  strategy must not resume an old one's positions) unless `fresh=True`, which moves the
  old file aside as `<name>.<UTC time>.bak` and starts over (`--fresh`).
- Payloads are JSON objects; a non-finite float is refused (JSON has none), so the
  journal reads back exactly what was written.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.errors import UsageError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    event_ms INTEGER NOT NULL,
    receipt_ms INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq);
"""


_CHECKPOINT_EVERY_S = 0.5
_SAFETY_CHECKPOINT_PAGES = 16_384
"""64 MB of WAL: the automatic checkpoint's threshold while a thread checkpoints."""


class JournalError(UsageError):
    """The journal cannot be used as asked (another strategy's, a newer format)."""


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: str
    event_ms: int
    receipt_ms: int
    payload: dict[str, Any]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(payload: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(payload), separators=(",", ":"), sort_keys=True,
                          allow_nan=False)
    except ValueError:  # JSON has no NaN or infinity: refuse, do not corrupt
        raise ValueError(f"a journal payload cannot hold {_non_finite(payload)!r}") from None


def _non_finite(value: Any) -> Any:
    """The first non-finite float in `value` (for the error message)."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, Mapping) else (
        value if isinstance(value, list | tuple) else ())
    for item in items:
        found = _non_finite(item)
        if found is not None:
            return found
    return None


class Journal:
    """An open journal; see the module docstring."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._next_seq = int(connection.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM events").fetchone()[0])
        self._pending: list[tuple[str, int, int, str]] = []
        self._closed = False
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        """Deferred events not yet inserted (inserted together, then committed)."""

    @classmethod
    def open(cls, path: str | Path, *, fingerprint: str, fresh: bool = False,
             durable: bool = False, background_checkpoints: bool = False) -> Journal:
        """Open (or create) the journal at `path` for the strategy with `fingerprint`."""
        path = Path(path)
        if fresh and path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{path}{suffix}")
                if old.exists():
                    old.rename(f"{path}.{stamp}.bak{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        db.executescript(_SCHEMA)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema", str(SCHEMA_VERSION)), ("fingerprint", fingerprint),
                    ("created_ms", str(_now_ms()))])
        else:
            if int(meta.get("schema", "0")) > SCHEMA_VERSION:
                db.close()
                raise JournalError(f"{path} was written by a newer runner (journal format "
                                   f"{meta['schema']}, this one reads {SCHEMA_VERSION})")
            if meta.get("fingerprint") != fingerprint:
                db.close()
                raise JournalError(
                    f"{path} belongs to another version of the strategy (fingerprint "
                    f"{meta.get('fingerprint', '?')[:12]}…, this file {fingerprint[:12]}…); "
                    "run with --fresh to start over (the old journal is kept as .bak)")
        journal = cls(db, path)
        if background_checkpoints:
            journal._checkpoint_in_background()
        return journal

    def record(self, kind: str, payload: Mapping[str, Any], *, event_ms: int,
               receipt_ms: int | None = None, defer: bool = False) -> int:
        """Append one event and commit it (with every deferred one before it); return
        its sequence number. Act on the event only after this returns.

        `defer=True` appends without committing, for events that are inputs rather than
        intents (the bars of a fast replay): they are committed by the next `record`
        or `commit`, all at once, so the journal stays a gap-free prefix — a crash
        loses only a tail of deferred inputs, which a restart reads again."""
        text = _dumps(payload)
        row = (kind, int(event_ms), _now_ms() if receipt_ms is None else int(receipt_ms), text)
        if defer:
            self._pending.append(row)
            return self._next_seq + len(self._pending) - 1
        with self._db:  # one transaction: the deferred events, then this one
            self._db.execute("BEGIN")
            self._insert_pending()
            cursor = self._db.execute(
                "INSERT INTO events (kind, event_ms, receipt_ms, payload) VALUES (?, ?, ?, ?)",
                row)
        seq = cursor.lastrowid
        assert seq is not None
        self._next_seq = seq + 1
        return seq

    def _insert_pending(self) -> None:
        if self._pending:
            self._db.executemany(
                "INSERT INTO events (kind, event_ms, receipt_ms, payload) VALUES (?, ?, ?, ?)",
                self._pending)
            self._next_seq += len(self._pending)
            self._pending.clear()

    def commit(self) -> None:
        """Commit the deferred events, if any."""
        if self._pending:
            with self._db:
                self._db.execute("BEGIN")
                self._insert_pending()

    def events(self, *kinds: str, after: int = 0) -> Iterator[Event]:
        """Every event after sequence number `after` (of the given kinds), in order."""
        self.commit()
        if kinds:
            marks = ",".join("?" * len(kinds))
            rows = self._db.execute(
                f"SELECT seq, kind, event_ms, receipt_ms, payload FROM events "
                f"WHERE seq > ? AND kind IN ({marks}) ORDER BY seq", (after, *kinds))
        else:
            rows = self._db.execute("SELECT seq, kind, event_ms, receipt_ms, payload "
                                    "FROM events WHERE seq > ? ORDER BY seq", (after,))
        for seq, kind, event_ms, receipt_ms, payload in rows:
            yield Event(seq, kind, event_ms, receipt_ms, json.loads(payload))

    def last(self, kind: str) -> Event | None:
        """The latest event of `kind`, if any."""
        self.commit()
        row = self._db.execute("SELECT seq, kind, event_ms, receipt_ms, payload FROM events "
                               "WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)).fetchone()
        return None if row is None else Event(row[0], row[1], row[2], row[3],
                                              json.loads(row[4]))

    def count(self) -> int:
        self.commit()
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def _checkpoint_in_background(self) -> None:
        """Copy the WAL into the database from a thread of its own, so a commit never
        pays for it: SQLite's automatic checkpoint runs inside the commit that crosses
        its threshold, a pause of milliseconds on the path from a bar to its order.
        The automatic one stays on at a far higher threshold, should the thread lag."""
        self._db.execute(f"PRAGMA wal_autocheckpoint={_SAFETY_CHECKPOINT_PAGES}")
        self._stop_checkpoints = threading.Event()
        path, stop = self.path, self._stop_checkpoints

        def run() -> None:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                while not stop.wait(_CHECKPOINT_EVERY_S):
                    with contextlib.suppress(sqlite3.Error):  # busy: the next one will
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()

        self._checkpointer = threading.Thread(target=run, name="journal-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        """Commit, checkpoint the WAL into the main file and close (once; later calls
        do nothing)."""
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join()
            self._checkpointer = None
        try:
            self.commit()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["SCHEMA_VERSION", "Event", "Journal", "JournalError"]
