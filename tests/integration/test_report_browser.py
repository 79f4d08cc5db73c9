"""report.html in a real browser: headless Chromium (Debian's `chromium`, which `make
test` installs when apt is available), network disabled, page loaded from disk. No
console errors, every chart drawn, an entry and an exit marker per trade, and a
screenshot saved next to the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.report.browser import find_chromium, load_in_chromium

pytest.importorskip("websockets", reason="the browser test drives Chromium through "
                    "the DevTools protocol with the `websockets` package")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sma_cross.yaml"
DATA = str(ROOT / "examples" / "data" / "{symbol}-1m.parquet")
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (`apt-get install chromium`; "
    "`make test` installs it when apt-get is available and it runs as root)")


def test_the_report_draws_offline_without_errors(cli_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(EXAMPLE), "--mode", "backtest", "--data",
                                      DATA, "--out", str(out)])
    assert result.exit_code == 0, result.output
    trades = json.loads((out / "summary.json").read_text())["trades"]
    assert trades > 0
    shot = tmp_path / "report.png"
    page = load_in_chromium(out / "report.html", screenshot=shot, chromium=CHROMIUM)
    assert page.errors == []
    assert page.figures == 3  # equity and drawdown, monthly returns, the price chart
    assert page.drawn_svgs >= 3  # each chart drew paths into its SVG
    assert page.markers == 2 * trades
    assert page.table_rows == min(trades, 100)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    b = tmp_path / "b"
    result = CliRunner().invoke(app, ["run", str(EXAMPLE), "--data", DATA, "--out", str(b),
                                      "--no-report", "--set", "params.stop_atr=2"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["report", str(out), str(b), "--out",
                                      str(tmp_path / "compare.html")])
    assert result.exit_code == 0, result.output
    compare = load_in_chromium(tmp_path / "compare.html", chromium=CHROMIUM,
                               screenshot=tmp_path / "compare.png")
    assert compare.errors == [] and compare.figures == 1 and compare.drawn_svgs >= 1
    assert compare.table_rows > 0
