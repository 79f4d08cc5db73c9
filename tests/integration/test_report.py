"""`runner report` and the report a backtest writes, through the CLI: the files, the
terminal table, re-rendering from the run folder alone, comparisons (backtest next
to backtest, and next to a paper replay) and usage errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.engine.outputs import SUMMARY_KEYS
from runner.report.metrics import EXTENDED_KEYS
from tests.conftest import EXAMPLE_PLUGIN, TEST_PLUGINS
from tests.unit.runtime.tiny import strategy_text, write_parquet, zigzag

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sma_cross.yaml"
DATA = str(ROOT / "examples" / "data" / "{symbol}-1m.parquet")
cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNNER_DISABLE_PLUGIN_AUTOLOAD", "1")
        mp.setenv("RUNNER_PLUGINS", f"{TEST_PLUGINS},{EXAMPLE_PLUGIN}")
        yield


@pytest.fixture(scope="module")
def example_run(env: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shipped example backtested with the default report, and what it printed."""
    out = tmp_path_factory.mktemp("example") / "run"
    code, output = invoke("run", str(EXAMPLE), "--mode", "backtest", "--data", DATA,
                          "--out", str(out))
    assert code == 0, output
    return out, output


def payload(page: Path) -> dict[str, Any]:
    """The page's JSON document (figures and tables); NaN is refused."""
    text = page.read_text(encoding="utf-8")
    body = text.split('<script type="application/json" id="report-data">')[1]
    body = body.split("</script>")[0]

    def reject(token: str) -> float:
        if token == "NaN":
            raise AssertionError("NaN in the page's data")
        return float(token)

    value: dict[str, Any] = json.loads(body.replace("<\\/", "</"), parse_constant=reject)
    return value


def test_backtest_writes_the_report_and_prints_the_table(example_run: tuple[Path, str],
                                                         ) -> None:
    out, output = example_run
    assert (out / "report.html").is_file()
    assert sorted(p.name for p in (out / "report_data").iterdir()) == [
        "bars.parquet", "meta.json", "strategy.yaml"]
    lines = output.strip().splitlines()
    assert lines[-1] == str(out)  # the run folder stays the last line
    assert lines[0].startswith("sma-cross (backtest): 2024-01-01 00:00:00")
    assert any(line.startswith("Sharpe") for line in lines) and "\x1b" not in output
    summary = json.loads((out / "summary.json").read_text())
    assert tuple(summary) == (*SUMMARY_KEYS, *EXTENDED_KEYS)
    assert summary["calendar"] == "24/7" and summary["bars_per_year"] == 525_600
    page = payload(out / "report.html")
    assert set(page["figures"]) == {"equity", "monthly", "price-0"}
    markers = [t for t in page["figures"]["price-0"]["data"]
               if t["name"] in ("entries", "exits")]
    assert sum(len(t["x"]) for t in markers) == 2 * summary["trades"]
    names = {t["name"] for t in page["figures"]["price-0"]["data"]}
    assert {"fast", "slow", "trend@1h", "atr", "stop", "target"} <= names
    assert len(page["tables"][0]["rows"]) == summary["trades"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert summary["fingerprint"] in html and "take_profit: entry_price" in html


def test_json_prints_only_the_summary_and_no_report_skips_it(env: None, tmp_path: Path,
                                                              ) -> None:
    out = tmp_path / "run"
    code, output = invoke("run", str(EXAMPLE), "--mode", "backtest", "--data", DATA,
                          "--out", str(out), "--json", "--no-report")
    assert code == 0, output
    assert output == (out / "summary.json").read_text(encoding="utf-8")
    assert not (out / "report.html").exists() and not (out / "report_data").exists()


def test_report_rerenders_from_the_run_folder_alone(env: None, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_parquet(data / "AAA.parquet", zigzag(80))
    file = tmp_path / "tiny.yaml"
    file.write_text(strategy_text(["AAA"], str(data / "{symbol}.parquet")), encoding="utf-8")
    out = tmp_path / "run"
    code, output = invoke("run", str(file), "--out", str(out))
    assert code == 0, output
    first = (out / "report.html").read_bytes()
    shutil.rmtree(data)
    file.unlink()
    (out / "report.html").unlink()
    code, output = invoke("report", str(out))
    assert code == 0, output
    assert output.strip() == str(out / "report.html")
    assert (out / "report.html").read_bytes() == first
    code, output = invoke("report", str(out), "--out", str(tmp_path / "elsewhere.html"))
    assert code == 0 and (tmp_path / "elsewhere.html").read_bytes() == first


def test_a_run_without_trades_on_a_flat_market(env: None, tmp_path: Path) -> None:
    write_parquet(tmp_path / "AAA.parquet", [(100.0, 100.5, 99.5, 100.0, 1.0)] * 50)
    file = tmp_path / "flat.yaml"
    file.write_text(strategy_text(["AAA"], str(tmp_path / "{symbol}.parquet")),
                    encoding="utf-8")
    out = tmp_path / "run"
    code, output = invoke("run", str(file), "--out", str(out))
    assert code == 0, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trades"] == 0 and summary["sharpe"] is None
    assert summary["drawdown"]["depth"] == 0.0 and summary["by_instrument"] == {}
    page = payload(out / "report.html")  # no NaN anywhere
    assert page["tables"][0]["rows"] == []
    html = (out / "report.html").read_text(encoding="utf-8")
    metrics = html.split("<h2>Metrics</h2>")[1].split("</section>")[0]
    assert "—" in metrics and "nan" not in metrics.lower()
    assert "Sharpe" in output and "—" in output


def paired_runs(tmp_path: Path) -> tuple[Path, Path, str]:
    write_parquet(tmp_path / "AAA.parquet", zigzag(60))
    data = str(tmp_path / "{symbol}.parquet")
    file = tmp_path / "tiny.yaml"
    file.write_text(strategy_text(["AAA"], data), encoding="utf-8")
    return file, tmp_path / "a", data


def test_compare_two_backtests(env: None, tmp_path: Path) -> None:
    file, a, _ = paired_runs(tmp_path)
    b = tmp_path / "b"
    assert invoke("run", str(file), "--out", str(a), "--no-report")[0] == 0
    assert invoke("run", str(file), "--out", str(b), "--no-report", "--from",
                  "2024-01-01T00:16:00", "--set", "backtest.fees.taker=0.001")[0] == 0
    code, output = invoke("report", str(a), str(b))
    assert code == 0, output
    page = a / "compare-b.html"
    assert output.strip() == str(page)
    doc = payload(page)
    assert len(doc["figures"]["equity"]["data"]) == 4  # two equity, two drawdown lines
    rows = doc["tables"][0]["rows"]
    kinds = {r[1] for r in rows}
    assert kinds == {"only in A", "pnl, fees"}, kinds
    assert {r[0] for r in rows if r[1] == "pnl, fees"} == {"A", "B"}
    html = page.read_text(encoding="utf-8")
    assert "B - A" in html and "(different)" in html


def test_compare_a_backtest_with_its_paper_replay(env: None, tmp_path: Path) -> None:
    file, backtest, data = paired_runs(tmp_path)
    paper = tmp_path / "paper"
    assert invoke("run", str(file), "--out", str(backtest))[0] == 0
    code, output = invoke("run", str(file), "--mode", "paper", "--replay", data,
                          "--out", str(paper))
    assert code == 0, output
    assert not (paper / "report.html").exists()  # paper runs write no report by default
    code, output = invoke("report", str(backtest), str(paper), "--out",
                          str(tmp_path / "cmp.html"))
    assert code == 0, output
    html = (tmp_path / "cmp.html").read_text(encoding="utf-8")
    trades = json.loads((backtest / "summary.json").read_text())["trades"]
    assert trades > 0
    assert (f"{trades} trades in A, {trades} in B: 0 matched pairs differ, 0 only in A, "
            "0 only in B") in html
    assert "(the same strategy and overrides)" in html
    # a paper run has no report_data/: its page has everything but candles and the file
    code, output = invoke("report", str(paper))
    assert code == 0, output
    doc = payload(paper / "report.html")
    kinds = {t["type"] for t in doc["figures"]["price-0"]["data"]}
    assert "candlestick" not in kinds
    assert "this run stored no price data" in (paper / "report.html").read_text()


@pytest.mark.parametrize("case", ["missing", "not-a-run", "three"])
def test_bad_run_folders_are_usage_errors(env: None, tmp_path: Path, case: str) -> None:
    (tmp_path / "empty").mkdir()
    args = {"missing": [str(tmp_path / "nope")], "not-a-run": [str(tmp_path / "empty")],
            "three": [str(tmp_path)] * 3}[case]
    code, output = invoke("report", *args)
    assert code == 2, output
    assert output.startswith("runner: error: ") and "Traceback" not in output
    if case == "not-a-run":
        assert "no summary.json" in output
