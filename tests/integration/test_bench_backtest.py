"""The backtest benchmark script runs end to end on tiny sizes and writes its JSON
(the real sizes are for `make bench`, not the test suite)."""

from __future__ import annotations

import json
from pathlib import Path

from runner.bench.backtest import main


def test_the_benchmark_writes_every_case(tmp_path: Path) -> None:
    out = tmp_path / "backtest.json"
    code = main(["--sizes", "3000", "--instruments", "3x1000", "--out", str(out),
                 "--data-dir", str(tmp_path / "data"), "--vectorbt-python", "",
                 "--runs", "1"])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    single = result["single"]["3000"]
    assert single["bars"] == 3000 and single["trades"] > 0
    assert single["cold_wall_s"] > 0 and single["peak_rss_gib"] > 0
    assert single["in_process_bars_per_s"] > 0 and single["engine_bars_per_s"] > 0
    assert set(single["phases_s"]) == {"load", "engine", "prepare", "simulate", "write"}
    assert len(single["cold_walls_s"]) == 1
    assert result["multi"]["instruments"] == 3
    assert result["multi"]["ratio_to_single_per_bar"] > 0
    assert result["vectorbt"] == {}
