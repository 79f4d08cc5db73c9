"""`runner.runtime.session`: journal restore, refusals, and the status line."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.config.validate import Validated
from runner.engine.results import strategy_fingerprint
from runner.journal.store import Journal, JournalError
from runner.plugins import Registry
from runner.runtime.executor import RunStats
from runner.runtime.paper import PaperOptions, run_paper
from runner.runtime.session import Session
from runner.runtime.status import StatusLine
from tests.unit.runtime.tiny import (
    MINUTE,
    RISK_HALT,
    START_MS,
    validated,
    write_parquet,
    zigzag,
)

BARS = zigzag(40)
FILES = ("orders.csv", "fills.csv", "trades.csv", "equity.csv")


def open_journal(v: Validated, path: Path) -> Journal:
    return Journal.open(path, fingerprint=strategy_fingerprint(v, ()))


def step(session: Session, first: int, last: int) -> None:
    for i in range(first, last):
        session.on_bars(START_MS + i * MINUTE, {"AAA": BARS[i]})


def derived(journal_path: Path, v: Validated) -> list[tuple[str, dict[str, object]]]:
    """What the session derived (orders, fills, ...), in journal order."""
    with open_journal(v, journal_path) as journal:
        return [(e.kind, e.payload) for e in journal.events(
            "order", "fill", "dropped", "risk", "signal")]


def uninterrupted(registry: Registry, v: Validated, folder: Path) -> Path:
    folder.mkdir()
    session = Session(v, registry, journal=open_journal(v, folder / "state.sqlite"))
    step(session, 0, len(BARS))
    session.close(folder / "out")
    return folder


@pytest.mark.parametrize("crash", [False, True], ids=["clean-stop", "crash"])
def test_restore_then_continue_equals_one_session(registry: Registry, tmp_path: Path,
                                                  crash: bool) -> None:
    """A session stopped after 23 bars (cleanly, or killed with deferred events not yet
    committed), restored and continued from where its journal ends, writes the same
    orders, fills, trades and equity, and journals the same events, as one session
    over every bar."""
    v = validated(registry, tmp_path)
    whole = uninterrupted(registry, v, tmp_path / "whole")
    assert derived(whole / "state.sqlite", v)  # the case trades

    part = tmp_path / "part"
    part.mkdir()
    journal = open_journal(v, part / "state.sqlite")
    first = Session(v, registry, journal=journal, commit_every_s=3600)
    step(first, 0, 23)
    if crash:
        journal._db.close()  # no commit: the deferred tail is lost, as in `kill -9`
    else:
        first.close(None)

    second = Session(v, registry, journal=open_journal(v, part / "state.sqlite"))
    restored = second.restore()
    assert 0 < restored <= 23
    if not crash:
        assert restored == 23
    assert second.resume_after_ms == START_MS + (restored - 1) * MINUTE
    step(second, restored, len(BARS))  # the feed resumes after the last journaled bar
    second.close(part / "out")

    for name in FILES:
        assert (part / "out" / name).read_text() == (whole / "out" / name).read_text(), name
    assert derived(part / "state.sqlite", v) == derived(whole / "state.sqlite", v)


def test_run_paper_resumes_a_replay(registry: Registry, tmp_path: Path) -> None:
    """`run_paper` stopped at --to, then run again on the same journal, ends with the
    files of one run over the whole replay."""
    write_parquet(tmp_path / "AAA.parquet", BARS)
    v = validated(registry, tmp_path)
    replay = str(tmp_path / "{symbol}.parquet")
    whole = run_paper(v, registry, PaperOptions(out_dir=tmp_path / "whole", replay=replay,
                                                journal_dir=tmp_path / "whole"))
    assert whole.summary is not None and whole.restored == 0
    cut = START_MS + 25 * MINUTE
    state = tmp_path / "resumed"
    first = run_paper(v, registry, PaperOptions(
        out_dir=tmp_path / "first", replay=replay, journal_dir=state,
        end=datetime.fromtimestamp(cut / 1000, UTC)))
    assert first.stats.rows == 25
    second = run_paper(v, registry, PaperOptions(out_dir=state, replay=replay,
                                                 journal_dir=state))
    assert second.restored == 25 and second.stats.rows == len(BARS) - 25
    for name in FILES:
        assert (state / name).read_text() == (tmp_path / "whole" / name).read_text(), name


def _journal_of_40_bars(registry: Registry, tmp_path: Path) -> tuple[Validated, Path]:
    v = validated(registry, tmp_path)
    folder = uninterrupted(registry, v, tmp_path / "j")
    return v, folder / "state.sqlite"


def test_restore_refuses_a_journal_whose_orders_differ(registry: Registry,
                                                       tmp_path: Path) -> None:
    v, path = _journal_of_40_bars(registry, tmp_path)
    with sqlite3.connect(path) as db:
        seq, payload = db.execute("SELECT seq, payload FROM events WHERE kind = 'order' "
                                  "ORDER BY seq LIMIT 1").fetchone()
        db.execute("UPDATE events SET payload = ? WHERE seq = ?",
                   (payload.replace('"id":"AAA-', '"id":"XXX-'), seq))
    session = Session(v, registry, journal=open_journal(v, path))
    with pytest.raises(JournalError, match="--fresh") as info:
        session.restore()
    assert "XXX-" in str(info.value)


def test_restore_refuses_a_journal_with_events_its_bars_do_not_give(
        registry: Registry, tmp_path: Path) -> None:
    v, path = _journal_of_40_bars(registry, tmp_path)
    with sqlite3.connect(path) as db:  # the last bars are gone, their events stay
        last_fill = db.execute("SELECT max(seq) FROM events WHERE kind = 'fill'").fetchone()[0]
        db.execute("DELETE FROM events WHERE kind = 'bar' AND seq > ?",
                   (last_fill - 30,))
    session = Session(v, registry, journal=open_journal(v, path))
    with pytest.raises(JournalError, match="--fresh") as info:
        session.restore()
    assert "do not give again" in str(info.value)


def test_a_journal_of_another_strategy_is_refused(registry: Registry,
                                                  tmp_path: Path) -> None:
    """A changed strategy does not resume the old one's journal unless --fresh, which
    keeps the old file as .bak."""
    write_parquet(tmp_path / "AAA.parquet", BARS)
    replay = str(tmp_path / "{symbol}.parquet")
    state = tmp_path / "state"
    v = validated(registry, tmp_path)
    run_paper(v, registry, PaperOptions(out_dir=state, replay=replay, journal_dir=state))
    other = validated(registry, tmp_path, file="other.yaml", slow=4)
    assert strategy_fingerprint(other, ()) != strategy_fingerprint(v, ())
    with pytest.raises(JournalError, match="another version of the strategy") as info:
        run_paper(other, registry, PaperOptions(out_dir=state, replay=replay,
                                                journal_dir=state))
    assert "--fresh" in str(info.value)
    with pytest.raises(JournalError):
        Journal.open(state / "state.sqlite", fingerprint=strategy_fingerprint(other, ()))
    fresh = run_paper(other, registry, PaperOptions(out_dir=state, replay=replay,
                                                    journal_dir=state, fresh=True))
    assert fresh.restored == 0 and fresh.summary is not None
    assert any(p.name.startswith("state.sqlite.") and ".bak" in p.name
               for p in state.iterdir())


def test_status_line(registry: Registry, tmp_path: Path) -> None:
    session = Session(validated(registry, tmp_path), registry, journal=None)
    stats = RunStats()
    out = io.StringIO()
    line = StatusLine(out, session, stats)
    assert line.text() == "equity 10,000.00 | flat | bars 0"
    i = 0
    while not session.status().positions:
        session.on_bars(START_MS + i * MINUTE, {"AAA": BARS[i]})
        i += 1
    text = line.text()
    when = f"bar 2024-01-01 00:{i:02d}Z"  # the last bar's close time
    assert text.startswith("equity ") and "AAA +1 |" in text and when in text
    assert f"bars {i}" in text and "HALTED" not in text and "dropped" not in text
    stats.dropped, stats.late = 3, 2
    assert "dropped 3 late 2" in line.text()
    line.draw()
    assert out.getvalue().startswith("\r" + line.text())
    line.clear()
    assert out.getvalue().endswith("\r")


def test_status_line_shows_a_halt(registry: Registry, tmp_path: Path) -> None:
    session = Session(validated(registry, tmp_path, extra=RISK_HALT), registry,
                      journal=None)
    line = StatusLine(io.StringIO(), session, RunStats())
    for i, bar in enumerate(BARS):
        session.on_bars(START_MS + i * MINUTE, {"AAA": bar})
        if session.halted:
            break
    assert session.halted
    assert line.text().endswith(" | HALTED")
