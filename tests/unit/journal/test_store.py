"""The state journal: round trips, one strategy per file, `--fresh`, and `kill -9` at
random moments never leaving a torn event or a gap."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.journal import Journal, JournalError

FP = "a" * 64
WRITER = """
import sys
from runner.journal import Journal
path, start = sys.argv[1], int(sys.argv[2])
journal = Journal.open(path, fingerprint="a" * 64)
print("ready", flush=True)
i = start
while True:
    journal.record("order", {"i": i, "note": "x" * (i % 50)}, event_ms=i)
    print(i, flush=True)  # only after record returned: the writer may act on it now
    i += 1
"""


def test_events_read_back_as_written(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "state.sqlite", fingerprint=FP) as journal:
        a = journal.record("signal", {"name": "enter", "value": True}, event_ms=10,
                           receipt_ms=11)
        b = journal.record("order", {"id": "X-0-1", "qty": 0.1, "tags": [1, 2]},
                           event_ms=12)
        assert (a, b) == (1, 2)
    with Journal.open(tmp_path / "state.sqlite", fingerprint=FP) as journal:
        events = list(journal.events())
        assert [(e.seq, e.kind, e.event_ms) for e in events] == [(1, "signal", 10),
                                                                 (2, "order", 12)]
        assert events[0].receipt_ms == 11 and events[1].receipt_ms > 0
        assert events[1].payload == {"id": "X-0-1", "qty": 0.1, "tags": [1, 2]}
        assert [e.seq for e in journal.events("order")] == [2]
        assert next(iter(journal.events(after=1))).seq == 2
        last = journal.last("signal")
        assert last is not None and last.payload["value"] is True
        assert journal.last("fill") is None and journal.count() == 2


def test_a_non_finite_payload_is_refused(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "s.sqlite", fingerprint=FP) as journal:
        with pytest.raises(ValueError, match="nan"):
            journal.record("fill", {"price": float("nan")}, event_ms=1)
        assert journal.count() == 0


def test_another_strategy_cannot_resume_it_and_fresh_keeps_the_old_one(
        tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Journal.open(path, fingerprint=FP) as journal:
        journal.record("order", {"i": 1}, event_ms=1)
    with pytest.raises(JournalError, match="--fresh"):
        Journal.open(path, fingerprint="b" * 64)
    with Journal.open(path, fingerprint="b" * 64, fresh=True) as journal:
        assert journal.count() == 0
    backups = list(tmp_path.glob("state.sqlite.*.bak"))
    assert len(backups) == 1
    with Journal.open(backups[0], fingerprint=FP) as old:
        assert old.count() == 1


def test_kill_9_at_twenty_random_moments_loses_nothing_committed(tmp_path: Path) -> None:
    """A writer appends events as fast as it can and is SIGKILLed at a random moment,
    twenty times over, each time resuming the same journal where it stopped: the
    journal is always a gap-free prefix of whole events and passes SQLite's check."""
    path = tmp_path / "state.sqlite"
    rng = random.Random(20241121)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    expected = 0
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(expected)],
                                 stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.15))
        child.send_signal(signal.SIGKILL)
        acknowledged = [int(line) for line in child.stdout.read().split(b"\n")
                        if line.strip().isdigit()]
        child.wait()
        with Journal.open(path, fingerprint=FP) as journal:
            numbers = [e.payload["i"] for e in journal.events()]
        assert numbers == list(range(len(numbers)))  # whole events, no gap, in order
        committed = acknowledged[-1] + 1 if acknowledged else expected
        assert len(numbers) >= committed  # every event record() returned for survived
        expected = len(numbers)
        check = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()
        assert check == ("ok",)
    assert expected > 20  # the writers did write
