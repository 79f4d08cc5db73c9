"""`runner validate`, `schema`, `plugins` through typer's CliRunner, asserting exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests/unit/config/cases"
runner = CliRunner()
LINE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): (error|warning)\[")


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_valid_folders_exit_zero(cli_env: dict[str, str]) -> None:
    code, out = invoke("validate", str(ROOT / "strategies.d"), str(ROOT / "examples"))
    assert code == 0, out
    assert re.search(r"^\d+ files, 0 errors, 0 warnings$", out, re.M)


def test_default_path_is_strategies_d(cli_env: dict[str, str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out = invoke("validate")
    assert code == 0, out


def test_missing_path_is_a_usage_error(cli_env: dict[str, str]) -> None:
    code, _ = invoke("validate", "does/not/exist.yaml")
    assert code == 2


def test_empty_folder_is_a_usage_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, _ = invoke("validate", str(tmp_path))
    assert code == 2


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_printed_diagnostic_names_a_line_and_column(case: Path,
                                                          cli_env: dict[str, str]) -> None:
    code, out = invoke("validate", str(case))
    lines = case.read_text(encoding="utf-8").splitlines() or [""]
    printed = [m for m in map(LINE.match, out.splitlines()) if m]
    assert printed, out
    for m in printed:
        assert m["file"] == str(case)
        line, col = int(m["line"]), int(m["col"])
        assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1, m.group(0)
    errors = [m for m in printed if "error[" in m.group(0)]
    assert code == (1 if errors else 0)


def test_text_format_shows_source_caret_and_hint(cli_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("version: 1\nname: s\ninstruments: [BTCUSDT]\ntimeframes: [1m]\n"
                 "indicators:\n  fast: {type: sma, period: 10}\n"
                 "signals:\n  go: fsat > 1\n", encoding="utf-8")
    code, out = invoke("validate", str(f))
    assert code == 1
    assert f"{f}:8:7: error[unknown-reference]" in out
    assert "   8 |   go: fsat > 1" in out
    assert "     |       ^^^^" in out
    assert 'hint: did you mean "fast"?' in out
    assert "1 file, 1 error, 0 warnings" in out  # no "unused" echoes while errors stand


def test_json_format(cli_env: dict[str, str]) -> None:
    case = sorted(CASES.glob("*.yaml"))[0]
    code, out = invoke("validate", "--format", "json", str(case))
    payload = json.loads(out)
    assert payload["files"] == 1 and payload["errors"] >= 1
    assert {"file", "line", "column", "code", "message", "severity", "hint", "path"} <= set(
        payload["diagnostics"][0])
    assert code == 1


def test_github_format(cli_env: dict[str, str]) -> None:
    case = sorted(CASES.glob("*.yaml"))[0]
    code, out = invoke("validate", "--format", "github", str(case))
    assert code == 1
    assert re.search(r"^::error file=.+,line=\d+,col=\d+,title=[a-z-]+::", out, re.M)


def test_strict_turns_warnings_into_failure(cli_env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("version: 1\nname: w\ninstruments: [BTCUSDT]\ntimeframes: [1m]\n"
                 "indicators:\n  unused_one: {type: sma, period: 10}\n", encoding="utf-8")
    assert invoke("validate", str(f))[0] == 0
    assert invoke("validate", "--strict", str(f))[0] == 1


def test_check_env(cli_env: dict[str, str], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_TEST_UNSET", raising=False)
    f = tmp_path / "e.yaml"
    f.write_text("version: 1\nname: e\ninstruments: [BTCUSDT]\ntimeframes: [1m]\n"
                 "data: {path: '${RUNNER_TEST_UNSET}/x.parquet', timeframe: 1m}\n",
                 encoding="utf-8")
    assert invoke("validate", str(f))[0] == 0
    code, out = invoke("validate", "--check-env", str(f))
    assert code == 1 and "missing-env" in out and f"{f}:5:15:" in out


def test_schema_command_writes_the_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, _ = invoke("schema", "--out", str(tmp_path))
    assert code == 0
    schema = json.loads((tmp_path / "strategy.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    venues = [b["title"] for b in schema["definitions"]["Venue"]["oneOf"]]
    assert "limitedx" in venues and "sim" in venues


def test_plugins_lists_builtins_and_reports_a_broken_plugin(
        cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_PLUGINS", "tests.fixtures.limitedx,tests.fixtures.broken_plugin")
    code, out = invoke("plugins")
    assert code == 0
    assert "runner.indicators" in out
    assert re.search(r"^    indicators: .*\badx\b.*\batr\b.*\bsma\b", out, re.M)
    assert "limitedx" in out
    assert "tests.fixtures.broken_plugin" in out and "broken on purpose" in out
    code, out = invoke("validate", str(ROOT / "strategies.d"))
    assert code == 0
    code, out = invoke("indicators", "sma")
    assert code == 0 and "reference: TA-Lib SMA" in out


def test_version() -> None:
    code, out = invoke("--version")
    assert code == 0 and out.startswith("runner ")


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    exe = shutil.which("runner", path=str(Path(sys.executable).parent))
    assert exe is not None
    f = tmp_path / "bad.yaml"
    f.write_bytes(b"\xff\xfe not utf-8")
    proc = subprocess.run([exe, "validate", str(f)], capture_output=True, text=True,
                          env={"RUNNER_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""}, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_does_not_import_polars(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom runner.cli import main\nsys.argv=['runner','validate',"
        f"{str(ROOT / 'strategies.d')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'polars' not in sys.modules, 'validate imported polars'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"RUNNER_DISABLE_PLUGIN_AUTOLOAD": "1"}, check=False)
    assert proc.returncode == 0, proc.stderr
