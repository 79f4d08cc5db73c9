"""`runner run FILE --set key=value` through the CLI on the shipped example."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sma_cross.yaml"
DATA = str(ROOT / "examples" / "data" / "{symbol}-1m.parquet")
cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def run(out: Path, *extra: str) -> dict[str, object]:
    code, output = invoke("run", str(EXAMPLE), "--mode", "backtest", "--out", str(out),
                          "--data", DATA, "--json", *extra)
    assert code == 0, output
    summary: dict[str, object] = json.loads((out / "summary.json").read_text())
    return summary


def test_an_override_changes_the_run_and_the_fingerprint(cli_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    default = run(tmp_path / "default")
    fast = run(tmp_path / "fast", "--set", "params.fast_len=30")
    assert fast["trades"] != default["trades"]
    assert fast["fingerprint"] != default["fingerprint"]
    # another spelling of the same value is the same config, and the same fingerprint
    same = run(tmp_path / "same", "--set", " params.fast_len = 0x1E ")
    assert same["fingerprint"] == fast["fingerprint"]
    assert same["trades"] == fast["trades"] and same["final_equity"] == fast["final_equity"]


def test_an_invalid_value_exits_1_naming_the_override(cli_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    code, output = invoke("run", str(EXAMPLE), "--out", str(tmp_path / "x"), "--data", DATA,
                          "--set", "params.fast_len=5", "--set", "indicators.fast.period=abc")
    assert code == 1, output
    first = output.splitlines()[0]
    assert first.startswith("--set indicators.fast.period=abc: error[unknown-reference]: ")
    assert "sma_cross.yaml" not in output
    assert output.rstrip().endswith("1 file, 1 error, 0 warnings")
    assert not (tmp_path / "x").exists()


def test_a_malformed_override_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    for bad, problem in (("params.fast_len", "expected key=value"),
                         ("orders.9.side=buy", "index 9 is out of range"),
                         ("risk=1", "risk is a mapping")):
        code, output = invoke("run", str(EXAMPLE), "--out", str(tmp_path / "x"),
                              "--data", DATA, "--set", bad)
        assert code == 2, output
        assert f"runner: error: --set {bad}: " in output and problem in output
        assert "Traceback" not in output
    assert not (tmp_path / "x").exists()
