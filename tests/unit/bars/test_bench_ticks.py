"""The tick benchmark runs on a tiny stream and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

from runner.bench.ticks import main


def test_the_tick_benchmark_reports_rate_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "ticks.json"
    assert main(["--trades", "30000", "--instruments", "5", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["trades"] == 30000 and result["trades_per_s"] > 0
    assert result["bars_emitted"] > 0 and "rss_growth_mb" in result
