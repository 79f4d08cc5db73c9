"""`runner run FILE --mode backtest` end to end on the shipped example data."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.engine.outputs import (
    EQUITY_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    SUMMARY_KEYS,
    TRADE_COLUMNS,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sma_cross.yaml"
DATA = str(ROOT / "examples" / "data" / "{symbol}-1m.parquet")
FILES = ("summary.json", "trades.csv", "orders.csv", "fills.csv", "equity.csv")
cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        data = list(reader)
        return list(reader.fieldnames or []), data


@pytest.fixture
def trading_file(tmp_path: Path) -> Path:
    """A copy of the shipped example (whose `max_position` its 1%-risk entries fit
    under, so it trades), run from a temporary folder."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "max_position: 5.0 " in text
    target = tmp_path / "sma_trading.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def run(file: Path, out: Path, *extra: str) -> dict[str, object]:
    code, output = invoke("run", str(file), "--mode", "backtest", "--out", str(out),
                          "--data", DATA, "--json", *extra)
    assert code == 0, output
    summary: dict[str, object] = json.loads((out / "summary.json").read_text())
    assert json.loads(output[output.index("{"):]) == summary
    return summary


def test_shipped_example_writes_five_files(cli_env: dict[str, str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the file's data path is relative to the project
    out = tmp_path / "run"
    code, output = invoke("run", str(EXAMPLE), "--mode", "backtest", "--out", str(out))
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == sorted((*FILES, "report.html",
                                                            "report_data"))
    summary = json.loads((out / "summary.json").read_text())
    assert tuple(summary)[:len(SUMMARY_KEYS)] == SUMMARY_KEYS
    assert summary["name"] == "sma-cross" and summary["mode"] == "backtest"
    for name, columns in (("trades.csv", TRADE_COLUMNS), ("orders.csv", ORDER_COLUMNS),
                          ("fills.csv", FILL_COLUMNS), ("equity.csv", EQUITY_COLUMNS)):
        header, _ = rows(out / name)
        assert tuple(header) == columns, name
    _, equity = rows(out / "equity.csv")
    assert len(equity) == summary["bars"] == 43200
    assert float(equity[-1]["equity"]) == summary["final_equity"]


def test_trades_match_fills_and_equity(cli_env: dict[str, str], tmp_path: Path,
                                       trading_file: Path) -> None:
    out = tmp_path / "run"
    summary = run(trading_file, out, "--to", "2024-01-08")
    _, trades = rows(out / "trades.csv")
    _, fills = rows(out / "fills.csv")
    _, equity = rows(out / "equity.csv")
    _, orders = rows(out / "orders.csv")
    assert trades and summary["trades"] == len(trades)
    assert len(equity) == summary["bars"] == 7 * 24 * 60
    assert equity[0]["time"] == "2024-01-01T00:01:00.000Z"  # a bar's close time
    fill_prices = {(f["time"], float(f["price"])) for f in fills}
    for t in trades:
        assert (t["entry_time"], float(t["entry_price"])) in fill_prices
        assert (t["exit_time"], float(t["exit_price"])) in fill_prices
    order_ids = {o["id"] for o in orders}
    assert all(f["order_id"].split(":")[0] in order_ids for f in fills)
    # final equity = cash + unrealized PnL of what is still open
    position = sum(float(f["quantity"]) * (1 if f["side"] == "buy" else -1) for f in fills)
    last = equity[-1]
    assert float(last["equity"]) == summary["final_equity"]
    initial = float(str(summary["initial_cash"]))
    if abs(position) < 1e-9:
        assert math.isclose(float(last["equity"]), float(last["cash"]))
        assert math.isclose(float(last["cash"]),
                            initial + sum(float(t["pnl"]) for t in trades), rel_tol=1e-9)
    else:
        assert not math.isclose(float(last["equity"]), float(last["cash"]))


def test_runs_are_deterministic(cli_env: dict[str, str], tmp_path: Path,
                                trading_file: Path) -> None:
    run(trading_file, tmp_path / "a", "--to", "2024-01-05")
    run(trading_file, tmp_path / "b", "--to", "2024-01-05")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_invalid_file_exits_1(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("period: fast_len",
                                                               "perod: fast_len"))
    code, output = invoke("run", str(bad), "--mode", "backtest", "--out", str(tmp_path / "o"))
    assert code == 1, output
    assert "error" in output
    assert not (tmp_path / "o").exists()


def test_missing_data_exits_3(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, output = invoke("run", str(EXAMPLE), "--out", str(tmp_path / "o"),
                          "--data", str(tmp_path / "{symbol}.parquet"))
    assert code == 3, output
    assert "not found" in output


def test_live_without_confirmation_is_a_usage_error(cli_env: dict[str, str]) -> None:
    code, output = invoke("run", str(EXAMPLE), "--mode", "live")
    assert code == 2
    assert "--confirm-live" in output and "nothing was sent" in output


def test_per_bar_signal_with_state(cli_env: dict[str, str], tmp_path: Path,
                                   trading_file: Path) -> None:
    """A signal reading `position` goes per bar; with `max_entries: 1` already
    preventing adds, requiring a flat position changes no trade."""
    text = trading_file.read_text(encoding="utf-8")
    old = "  enter_long: crosses_above(fast, slow) and uptrend\n"
    assert old in text
    stateful = tmp_path / "stateful.yaml"
    stateful.write_text(text.replace(old, "  flat: position == 0\n"
                                     "  enter_long: crosses_above(fast, slow) and uptrend"
                                     " and flat\n"), encoding="utf-8")
    run(trading_file, tmp_path / "a", "--to", "2024-01-05")
    run(stateful, tmp_path / "b", "--to", "2024-01-05")
    for name in ("trades.csv", "fills.csv", "equity.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_history_kept_in_a_window_still_sees_every_bar(cli_env: dict[str, str],
                                                       tmp_path: Path,
                                                       trading_file: Path) -> None:
    """`prev(position, 1)` keeps history of run-time state, so the loop must step every
    bar (not only where a rule may fire); the result equals the plain `position == 0`
    form, which needs no history."""
    text = trading_file.read_text(encoding="utf-8")
    old = "  enter_long: crosses_above(fast, slow) and uptrend\n"
    plain, windowed = tmp_path / "plain.yaml", tmp_path / "windowed.yaml"
    plain.write_text(text.replace(old, old.rstrip("\n") + " and position == 0\n"))
    windowed.write_text(text.replace(old, old.rstrip("\n") + " and position == 0"
                                     " and not (prev(position, 1) > 0 and position == 0"
                                     " and false)\n"))
    run(plain, tmp_path / "a", "--to", "2024-01-04")
    run(windowed, tmp_path / "b", "--to", "2024-01-04")
    for name in ("trades.csv", "fills.csv", "equity.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_from_loads_warm_up_before_the_start(cli_env: dict[str, str], tmp_path: Path,
                                             trading_file: Path) -> None:
    """With --from, indicators are warm on the first traded bar: the 1h EMA(20) of
    the example needs 20 closed hours, which exist before 2024-01-03."""
    out = tmp_path / "run"
    summary = run(trading_file, out, "--from", "2024-01-03", "--to", "2024-01-04")
    assert summary["start"] == "2024-01-03T00:00:00.000Z"
    assert summary["bars"] == 24 * 60
    _, equity = rows(out / "equity.csv")
    assert equity[0]["time"] == "2024-01-03T00:01:00.000Z"
    _, orders = rows(out / "orders.csv")
    assert all(o["time"] >= "2024-01-03" for o in orders)


def test_progress_reaches_the_total(tmp_path: Path, trading_file: Path) -> None:
    from runner.config.validate import validate_file
    from runner.engine.backtest import run_backtest
    from runner.plugins import load_registry

    registry = load_registry()
    seen: list[tuple[int, int]] = []
    run_backtest(validate_file(trading_file, registry), registry, out_dir=tmp_path / "r",
                 data_path=DATA, end=datetime(2024, 1, 2),
                 progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (24 * 60, 24 * 60)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_python_m_runner_is_the_cli() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "runner", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip()
