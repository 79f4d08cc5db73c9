"""`runner run FILE --mode paper` end to end: replays in process (the CLI runner of
`test_run_backtest.py`), the `sim` venue's endless random walk as a subprocess
stopped by SIGINT."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from tests.unit.runtime.tiny import RISK_HALT, strategy_text, write_parquet, zigzag

ROOT = Path(__file__).resolve().parents[2]
FILES = ("summary.json", "trades.csv", "orders.csv", "fills.csv", "equity.csv")
cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def replay(tmp_path: Path) -> tuple[Path, str]:
    """The tiny strategy file and a 60-bar replay of it."""
    write_parquet(tmp_path / "AAA.parquet", zigzag(60))
    path = tmp_path / "tiny.yaml"
    data = str(tmp_path / "{symbol}.parquet")
    path.write_text(strategy_text(["AAA"], data), encoding="utf-8")
    return path, data


def test_replay_writes_every_file(cli_env: dict[str, str], tmp_path: Path,
                                  replay: tuple[Path, str]) -> None:
    file, data = replay
    out = tmp_path / "run"
    code, output = invoke("run", str(file), "--mode", "paper", "--replay", data,
                          "--speed", "0", "--out", str(out))
    assert code == 0, output
    assert output.strip().splitlines()[-1] == str(out)
    assert sorted(p.name for p in out.iterdir()) == sorted((*FILES, "state.sqlite"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "paper" and summary["bars"] == 60 and summary["trades"] > 0


def test_replay_json_prints_the_summary(cli_env: dict[str, str], tmp_path: Path,
                                        replay: tuple[Path, str]) -> None:
    file, data = replay
    out = tmp_path / "run"
    code, output = invoke("run", str(file), "--mode", "paper", "--replay", data,
                          "--out", str(out), "--json")
    assert code == 0, output
    printed = json.loads(output[output.index("{"):])
    assert printed == json.loads((out / "summary.json").read_text())
    assert printed["mode"] == "paper"


@pytest.mark.parametrize(("args", "message"), [
    (("--mode", "backtest", "--replay", "x.parquet"),
     "--replay do not apply to --mode backtest"),
    (("--mode", "paper", "--data", "x.parquet"), "--data is for backtests"),
    (("--mode", "paper", "--replay", "x.parquet", "--speed", "-1"),
     "--speed must be 0 or positive"),
    (("--mode", "live",), "add --confirm-live to mean it (nothing was sent)"),
    (("--mode", "paper", "--confirm-live"), "--confirm-live do not apply to --mode paper"),
    (("--mode", "live", "--confirm-live", "--replay", "x.parquet"),
     "--replay do not apply to --mode live"),
], ids=["replay-in-backtest", "data-in-paper", "negative-speed", "live-unconfirmed",
        "confirm-in-paper", "replay-in-live"])
def test_flag_misuse_exits_2(cli_env: dict[str, str], tmp_path: Path,
                             replay: tuple[Path, str], args: tuple[str, ...],
                             message: str) -> None:
    file, _ = replay
    code, output = invoke("run", str(file), "--out", str(tmp_path / "o"), *args)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("runner: error: ") and message in lines[0]
    assert not (tmp_path / "o").exists()


def test_missing_replay_file_exits_2(cli_env: dict[str, str], tmp_path: Path,
                                     replay: tuple[Path, str]) -> None:
    file, _ = replay
    code, output = invoke("run", str(file), "--mode", "paper", "--out", str(tmp_path / "o"),
                          "--replay", str(tmp_path / "nowhere" / "{symbol}.parquet"))
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "nowhere" / "AAA.parquet") in lines[0]


def test_unreadable_replay_file_exits_2(cli_env: dict[str, str], tmp_path: Path,
                                        replay: tuple[Path, str]) -> None:
    file, _ = replay
    bad = tmp_path / "bad" / "AAA.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet")
    code, output = invoke("run", str(file), "--mode", "paper", "--out", str(tmp_path / "o"),
                          "--replay", str(bad.parent / "{symbol}.parquet"))
    assert code == 2, output
    assert "cannot read it" in output and "Traceback" not in output


def test_bars_replay_needs_a_data_section(cli_env: dict[str, str], tmp_path: Path,
                                         replay: tuple[Path, str]) -> None:
    _, data = replay
    file = tmp_path / "no-data.yaml"
    file.write_text(strategy_text(["AAA"], None), encoding="utf-8")
    code, output = invoke("run", str(file), "--mode", "paper", "--out", str(tmp_path / "o"),
                          "--replay", data)
    assert code == 2, output
    assert "data: section" in output and len(output.strip().splitlines()) == 1


def test_risk_halt_exits_4_with_every_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_parquet(tmp_path / "AAA.parquet", zigzag(60))
    file = tmp_path / "halting.yaml"
    data = str(tmp_path / "{symbol}.parquet")
    file.write_text(strategy_text(["AAA"], data, extra=RISK_HALT), encoding="utf-8")
    out = tmp_path / "run"
    code, output = invoke("run", str(file), "--mode", "paper", "--out", str(out),
                          "--replay", data)
    assert code == 4, output
    assert "stopped by a risk halt: max_drawdown" in output
    assert sorted(p.name for p in out.iterdir()) == sorted((*FILES, "state.sqlite"))
    # a replay goes on to the end of its data, like the backtest
    assert json.loads((out / "summary.json").read_text())["bars"] == 60


WALK = """\
version: 1
name: walk
venue: {exchange: sim, params: {trades_per_second: 200, seed: 3}}
instruments: [AAA]
timeframes: [1s]
bars: {grace: 200ms}
signals:
  flat: position == 0
orders:
  - when: flat
    side: buy
    type: market
    size: {quantity: 1}
"""
"""Buys 1 on the first live bar: a position is open from the second bar on."""


def _events(journal: Path, *kinds: str) -> list[tuple[str, dict[str, object]]]:
    if not journal.exists():
        return []
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            marks = ",".join("?" * len(kinds))
            rows = db.execute(f"SELECT kind, payload FROM events WHERE kind IN ({marks}) "
                              "ORDER BY seq", kinds).fetchall()
    except sqlite3.Error:  # created but not yet initialised
        return []
    return [(kind, json.loads(payload)) for kind, payload in rows]


def test_sim_venue_stops_on_sigint(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Two runs on the random walk (one with --flatten-on-exit), each interrupted
    once its entry has filled: exit 0, a `stop` event with `shutdown`, the files;
    the flattened run holds nothing, the other still holds its entry."""
    file = tmp_path / "walk.yaml"
    file.write_text(WALK, encoding="utf-8")
    env = {**os.environ, **cli_env}
    runs = {}
    for flatten in (False, True):
        out = tmp_path / f"run-{flatten}"
        args = [sys.executable, "-m", "runner", "run", str(file), "--mode", "paper",
                "--out", str(out)] + (["--flatten-on-exit"] if flatten else [])
        runs[flatten] = (out, subprocess.Popen(args, cwd=ROOT, env=env,
                                               stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True))
    try:
        waiting = dict(runs)
        deadline = time.monotonic() + 30
        while waiting and time.monotonic() < deadline:
            for flatten, (out, proc) in list(waiting.items()):
                assert proc.poll() is None, proc.communicate()
                if _events(out / "state.sqlite", "fill"):
                    proc.send_signal(signal.SIGINT)
                    del waiting[flatten]
            time.sleep(0.1)
        assert not waiting, "no fill within 30 s"
        for flatten, (out, proc) in runs.items():
            stdout, stderr = proc.communicate(timeout=20)
            assert proc.returncode == 0, stderr
            assert sorted(p.name for p in out.iterdir()
                          if not p.name.endswith(("-wal", "-shm"))) == \
                sorted((*FILES, "state.sqlite"))
            assert stdout.strip() == str(out)
            assert "Traceback" not in stderr
            stops = _events(out / "state.sqlite", "stop")
            assert stops == [("stop", {"shutdown": True, "flatten": flatten, "halted": ""})]
            held = sum(float(str(f["quantity"])) * (1 if f["side"] == "buy" else -1)
                       for _, f in _events(out / "state.sqlite", "fill"))
            assert held == (0.0 if flatten else 1.0)
            fills = (out / "fills.csv").read_text().strip().splitlines()
            assert len(fills) == (3 if flatten else 2)  # header, entry (, exit)
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
