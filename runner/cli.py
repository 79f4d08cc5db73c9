"""The `runner` command line: parse arguments, call the library, map errors to exit codes.

Exit codes (DESIGN §5): 0 ok; 1 invalid strategy; 2 usage error; 3 runtime failure;
4 stopped by a risk halt. No traceback reaches the user unless `--debug`.

Imports of heavy modules happen inside commands so that `runner validate` starts fast
and never imports polars.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from runner.config.diagnostics import Diagnostic
    from runner.config.validate import Validated
    from runner.errors import RunnerError
    from runner.plugins import Registry

from runner._version import __version__

app = typer.Typer(
    name="runner",
    help="A declarative strategy runner: validate, compile and run one YAML strategy file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_RUNTIME, EXIT_HALT = 0, 1, 2, 3, 4


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


class _State:
    debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"runner {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of failures.")] = False,
) -> None:
    _State.debug = debug


def _registry() -> Registry:
    from runner.plugins import load_registry

    registry = load_registry()
    for problem in registry.problems:
        typer.echo(f"runner: warning: {problem}", err=True)
    return registry


@app.command()
def validate(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Strategy files or folders (searched for *.yaml, *.yml).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="text, json or github "
                                              "(workflow annotations).")] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    check_env: Annotated[bool, typer.Option(
        "--check-env", help="Also require every ${VAR} to be set.")] = False,
) -> None:
    """Check strategy files against the language and the installed plugins."""
    from runner.config.diagnostics import Severity, render_json
    from runner.config.validate import expand_paths, validate_paths

    targets = paths or ["strategies.d/"]
    files, missing = expand_paths(targets)
    if missing:
        typer.echo(f"runner: error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not files:
        typer.echo(f"runner: error: no strategy files (*.yaml, *.yml) in {', '.join(targets)}",
                   err=True)
        raise typer.Exit(EXIT_USAGE)
    results = validate_paths(files, _registry(), check_env=check_env)
    diagnostics = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    if fmt is OutputFormat.json:
        typer.echo(render_json(diagnostics, len(results)))
    else:
        for result in results:
            lines = result.text.splitlines()
            for d in result.diagnostics:
                typer.echo(d.render_github() if fmt is OutputFormat.github
                           else d.render_text(lines))
        typer.echo(_tally(len(results), errors, warnings))
    if errors or (strict and warnings):
        raise typer.Exit(EXIT_INVALID)


@app.command()
def schema(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path("schemas"),
) -> None:
    """Write strategy.schema.json, including every installed plugin's params."""
    from runner.config.schema import SCHEMA_FILENAME, render_schema

    try:
        out.mkdir(parents=True, exist_ok=True)
        target = out / SCHEMA_FILENAME
        target.write_text(render_schema(_registry()), encoding="utf-8")
    except OSError as exc:
        typer.echo(f"runner: error: cannot write the schema to {out}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_RUNTIME) from None
    typer.echo(str(target))


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List installed plugins with versions and what each registers."""
    registry = _registry()
    if as_json:
        typer.echo(json.dumps([
            {"name": p.name, "version": p.version, "source": p.source,
             "registers": p.registers, "error": p.error} for p in registry.plugins], indent=2))
        return
    for p in registry.plugins:
        typer.echo(f"{p.name} {p.version}  ({p.source})")
        if p.error:
            typer.echo(f"    error: {p.error}")
        for kind, names in p.registers.items():
            typer.echo(f"    {kind.replace('_', ' ')}: {', '.join(sorted(names))}")


@app.command()
def indicators(
    name: Annotated[str | None, typer.Argument(help="Show one indicator in detail.")] = None,
) -> None:
    """The indicator catalogue, or one indicator's params and outputs."""
    from runner.indicators.describe import describe_indicator, list_indicators

    registry = _registry()
    if name is None:
        typer.echo(list_indicators(registry))
        return
    text = describe_indicator(registry, name)
    if text is None:
        from runner.expr.suggest import suggest

        hint = suggest(name, list(registry.indicators))
        typer.echo(f'runner: error: unknown indicator "{name}"' + (f" ({hint})" if hint else ""),
                   err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(text)


def _tally(files: int, errors: int, warnings: int) -> str:
    """The last line of a validation report: `1 file, 2 errors, 0 warnings`."""
    return (f"{files} file{'s' if files != 1 else ''}, "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}")


def _exit_invalid(result: Validated,
                  render: Callable[[Diagnostic, Sequence[str]], str] | None = None) -> NoReturn:
    """Print one invalid file's diagnostics and its tally as `validate` does, and exit 1
    (`graph` and `run` refuse a file the same way)."""
    lines = result.text.splitlines()
    for d in result.diagnostics:
        typer.echo(render(d, lines) if render is not None else d.render_text(lines))
    errors = len(result.errors)
    typer.echo(_tally(1, errors, len(result.diagnostics) - errors))
    raise typer.Exit(EXIT_INVALID)


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="The strategy file to compile.")],
    fmt: Annotated[GraphFormat, typer.Option("--format", help="text, or mermaid (a "
                                             "flowchart).")] = GraphFormat.text,
) -> None:
    """Print the compiled pipeline graph of one strategy file."""
    from runner.compile import compile, render_mermaid, render_text
    from runner.config.validate import validate_file

    if not file.is_file():
        typer.echo(f"runner: error: no such file: {file}", err=True)
        raise typer.Exit(EXIT_USAGE)
    registry = _registry()
    result = validate_file(file, registry)
    if not result.ok:
        _exit_invalid(result)
    compiled = compile(result, registry)
    typer.echo(render_mermaid(compiled) if fmt is GraphFormat.mermaid else render_text(compiled))


class RunMode(StrEnum):
    backtest = "backtest"
    paper = "paper"
    live = "live"


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="The strategy file to run.")],
    mode: Annotated[RunMode, typer.Option("--mode", help="backtest, paper (simulated "
                                          "fills on a live feed or a replay) or live (real "
                                          "orders; needs --confirm-live).")
                    ] = RunMode.backtest,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the output files "
                                             "(default runs/<name>/<UTC timestamp>/).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First bar (open time), "
                                              "ISO date or datetime, UTC.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End of the range (exclusive), "
                                            "ISO date or datetime, UTC.")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Data path template, "
                                             "overriding data.path.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json.")] = False,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="Override one scalar of the file, e.g. "
        "params.fast_len=20 or orders.0.size.risk_pct=0.5; repeatable.")] = None,
    replay: Annotated[str | None, typer.Option("--replay", help="paper: replay stored bars "
                                               "or trades from this file ({symbol} "
                                               "template) instead of the venue's feed."
                                               )] = None,
    speed: Annotated[float, typer.Option("--speed", help="paper --replay: 0 as fast as "
                                         "possible, N for N times real time.")] = 0.0,
    fresh: Annotated[bool, typer.Option("--fresh", help="paper/live: start over instead "
                                        "of resuming the journal (kept as .bak).")] = False,
    flatten_on_exit: Annotated[bool, typer.Option("--flatten-on-exit", help="paper/live: "
                                                  "on SIGINT/SIGTERM also close every "
                                                  "position.")] = False,
    confirm_live: Annotated[bool, typer.Option("--confirm-live", help="live: required; "
                                               "without it nothing is sent.")] = False,
    max_bars: Annotated[int | None, typer.Option("--max-bars", min=1, help="live: stop as "
                                                 "on SIGTERM after this many live bars.")
                        ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="backtest: do not write "
                                            "report.html (and report_data/).")] = False,
) -> None:
    """Run one strategy file (a backtest over stored history, or paper trading on a
    feed or a replay) and write the run's files."""
    from datetime import datetime

    if mode is RunMode.live and not confirm_live:
        typer.echo("runner: error: --mode live sends real orders: add --confirm-live to "
                   "mean it (nothing was sent)", err=True)
        raise typer.Exit(EXIT_USAGE)
    misplaced = [flag for flag, used, modes in (
        ("--replay", replay is not None, (RunMode.paper,)),
        ("--speed", speed != 0.0, (RunMode.paper,)),
        ("--fresh", fresh, (RunMode.paper, RunMode.live)),
        ("--flatten-on-exit", flatten_on_exit, (RunMode.paper, RunMode.live)),
        ("--confirm-live", confirm_live, (RunMode.live,)),
        ("--max-bars", max_bars is not None, (RunMode.live,)),
        ("--from", start is not None and mode is RunMode.live, ()),
        ("--to", end is not None and mode is RunMode.live, ())) if used and mode not in modes]
    if misplaced:
        typer.echo(f"runner: error: {', '.join(misplaced)} do not apply to --mode "
                   f"{mode.value}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if mode is RunMode.live and data is not None:
        typer.echo("runner: error: --data is for backtests", err=True)
        raise typer.Exit(EXIT_USAGE)
    if mode is RunMode.paper and data is not None:
        typer.echo("runner: error: --data is for backtests; paper mode replays a file "
                   "with --replay PATH", err=True)
        raise typer.Exit(EXIT_USAGE)
    if speed < 0:
        typer.echo(f"runner: error: --speed must be 0 or positive, got {speed}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not file.is_file():
        typer.echo(f"runner: error: no such file: {file}", err=True)
        raise typer.Exit(EXIT_USAGE)
    bounds: list[datetime | None] = []
    for flag, text in (("--from", start), ("--to", end)):
        try:
            bounds.append(None if text is None else datetime.fromisoformat(text))
        except ValueError:
            typer.echo(f"runner: error: {flag} {text!r} is not an ISO date or datetime",
                       err=True)
            raise typer.Exit(EXIT_USAGE) from None
    from runner.config.overrides import (
        OverrideError,
        parse_overrides,
        render_text,
        validate_with_overrides,
    )

    try:
        parsed = parse_overrides(overrides or [])
        registry = _registry()
        result = validate_with_overrides(file, registry, parsed)
    except OverrideError as exc:
        typer.echo(f"runner: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if not result.ok or result.strategy is None:
        _exit_invalid(result, render_text)
    from runner.engine.backtest import default_out_dir, run_backtest
    from runner.errors import RunnerError
    from runner.progress import progress_bar

    out_dir = out if out is not None else default_out_dir(result.strategy.name)
    if mode is RunMode.live:
        _run_live(result, registry, out_dir, explicit_out=out is not None, fresh=fresh,
                  flatten_on_exit=flatten_on_exit, max_bars=max_bars,
                  overrides=tuple(o.canonical for o in parsed), as_json=as_json)
        return
    if mode is RunMode.paper:
        _run_paper(result, registry, out_dir, explicit_out=out is not None,
                   bounds=bounds, replay=replay, speed=speed, fresh=fresh,
                   flatten_on_exit=flatten_on_exit,
                   overrides=tuple(o.canonical for o in parsed), as_json=as_json)
        return
    log: dict[str, Any] = {}
    try:
        with progress_bar("backtest") as update:
            run_backtest(result, registry, out_dir=out_dir, start=bounds[0], end=bounds[1],
                         data_path=data, overrides=[o.canonical for o in parsed], log=log,
                         progress=update, keep_frame=not no_report)
    except RunnerError as exc:
        _fail(exc)
    for warning in log.get("data_warnings", ()):
        typer.echo(f"runner: warning: data: {warning}", err=True)
    if not no_report:
        _write_report(result, registry, out_dir, bounds=bounds, data=data,
                      overrides=[o.canonical for o in parsed], frame=log.get("bar_frame"))
    summary_text = (out_dir / "summary.json").read_text(encoding="utf-8").rstrip("\n")
    if as_json:
        typer.echo(summary_text)
    else:
        from runner.report.terminal import print_summary

        print_summary(json.loads(summary_text), sys.stdout)
        typer.echo(str(out_dir))
    if log.get("halted"):
        typer.echo(f"runner: stopped by a risk halt: {log['halted']} (the run went on to "
                   "the end of the data with no new entries; every file is written)",
                   err=True)
        raise typer.Exit(EXIT_HALT)


def _write_report(result: Validated, registry: Registry, out_dir: Path, *,
                  bounds: list[datetime | None], data: str | None,
                  overrides: list[str], frame: Any = None) -> None:
    """report.html after a backtest; a failure is a warning (the run's files stand)."""
    from runner.errors import RunnerError
    from runner.report.html import write_backtest_report

    try:
        write_backtest_report(out_dir, result, registry, start=bounds[0], end=bounds[1],
                              data_path=data, overrides=overrides, frame=frame)
    except (RunnerError, OSError, ValueError) as exc:
        if _State.debug:
            raise
        typer.echo(f"runner: warning: report.html not written: {exc}", err=True)


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(
        help="A run folder to render, or two to compare (e.g. a backtest and a paper "
        "run).", metavar="RUN_DIR [RUN_B]")],
    out: Annotated[Path | None, typer.Option("--out", help="The page to write (default "
                                             "RUN_DIR/report.html, or "
                                             "RUN_DIR/compare-<RUN_B>.html).")] = None,
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the web "
                                            "browser.")] = False,
) -> None:
    """Render (or re-render) a run's report.html, or compare two runs."""
    from runner.errors import RunnerError

    if len(runs) > 2:
        typer.echo(f"runner: error: give one run folder, or two to compare (got {len(runs)})",
                   err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        if len(runs) == 1:
            from runner.report.html import render_report

            page = render_report(runs[0], out)
        else:
            from runner.report.compare import render_comparison

            page = render_comparison(runs[0], runs[1], out)
    except (RunnerError, OSError) as exc:
        if _State.debug:
            raise
        code = exc.exit_code if isinstance(exc, RunnerError) else EXIT_RUNTIME
        typer.echo(f"runner: error: {exc}", err=True)
        raise typer.Exit(code) from None
    typer.echo(str(page))
    if open_page:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


def _fail(exc: RunnerError) -> NoReturn:
    """A runner error as one line on stderr and its exit code (the traceback only
    under `--debug`)."""
    if _State.debug:
        raise exc
    message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    typer.echo(f"runner: error: {message or type(exc).__name__}", err=True)
    raise typer.Exit(exc.exit_code) from None


def _streaming_end(written: bool, journal: Path, out_dir: Path, as_json: bool,
                   halted: str) -> None:
    """The end of a paper or live run: the run folder (or summary.json), and exit 4
    after a risk halt."""
    if not written:
        typer.echo("runner: no bar was traded; no files written (the journal is "
                   f"{journal})", err=True)
    elif as_json:
        typer.echo((out_dir / "summary.json").read_text(encoding="utf-8").rstrip("\n"))
    else:
        typer.echo(str(out_dir))
    if halted:
        typer.echo(f"runner: stopped by a risk halt: {halted}", err=True)
        raise typer.Exit(EXIT_HALT)


def _run_paper(result: Validated, registry: Registry, out_dir: Path, *, explicit_out: bool,
               bounds: list[datetime | None], replay: str | None, speed: float, fresh: bool,
               flatten_on_exit: bool, overrides: tuple[str, ...], as_json: bool) -> None:
    from runner.errors import RunnerError
    from runner.runtime.paper import PaperOptions, print_outcome, run_paper

    options = PaperOptions(out_dir=out_dir, replay=replay, speed=speed, start=bounds[0],
                           end=bounds[1], fresh=fresh, flatten_on_exit=flatten_on_exit,
                           overrides=overrides, journal_dir=out_dir if explicit_out else None,
                           status=sys.stderr if sys.stderr.isatty() else None)
    try:
        outcome = run_paper(result, registry, options)
    except RunnerError as exc:
        _fail(exc)
    print_outcome(outcome)
    _streaming_end(outcome.summary is not None, outcome.journal, out_dir, as_json,
                   outcome.halted)
    if outcome.stats.errors and replay is not None:
        # a replay that lost an instrument's data is not the replay that was asked for
        raise typer.Exit(EXIT_RUNTIME)


data_app = typer.Typer(help="Market data: fetch a venue's history into parquet.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def data_fetch(
    exchange: Annotated[str, typer.Argument(help="An exchange plugin's name, e.g. binance.")],
    symbol: Annotated[str, typer.Argument(help="The venue's symbol, e.g. BTCUSDT.")],
    timeframe: Annotated[str, typer.Argument(help="Bar length, e.g. 1m, 1h, 1d.")],
    start: Annotated[str, typer.Option("--from", help="First bar (open time), ISO date or "
                                       "datetime, UTC.")],
    end: Annotated[str, typer.Option("--to", help="End of the range (exclusive), ISO date "
                                     "or datetime, UTC.")],
    out: Annotated[Path | None, typer.Option("--out", help="The parquet file (default "
                                             "data/SYMBOL-TF.parquet).")] = None,
    params: Annotated[list[str] | None, typer.Option(
        "--param", metavar="KEY=VALUE", help="A venue param, as in venue.params "
        "(e.g. market=futures); repeatable.")] = None,
) -> None:
    """Write a venue's closed bars of [--from, --to) to parquet, in the columns the
    `parquet` data source reads (time = bar open, UTC)."""
    from datetime import datetime

    from runner.data.fetch import fetch_history
    from runner.errors import RunnerError
    from runner.progress import progress_bar

    bounds: list[datetime] = []
    for flag, text in (("--from", start), ("--to", end)):
        try:
            bounds.append(datetime.fromisoformat(text))
        except ValueError:
            typer.echo(f"runner: error: {flag} {text!r} is not an ISO date or datetime",
                       err=True)
            raise typer.Exit(EXIT_USAGE) from None
    venue_params: dict[str, Any] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            typer.echo(f"runner: error: --param {item!r} is not KEY=VALUE", err=True)
            raise typer.Exit(EXIT_USAGE)
        venue_params[key.strip()] = value.strip()
    path = out if out is not None else Path("data") / f"{symbol}-{timeframe}.parquet"
    try:
        with progress_bar(f"{exchange} {symbol} {timeframe}") as update:
            count = fetch_history(_registry(), exchange, symbol, timeframe, bounds[0],
                                  bounds[1], path, params=venue_params, progress=update)
    except RunnerError as exc:
        if _State.debug:
            raise
        typer.echo(f"runner: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(f"{path} ({count} bars)")


def _run_live(result: Validated, registry: Registry, out_dir: Path, *, explicit_out: bool,
              fresh: bool, flatten_on_exit: bool, max_bars: int | None,
              overrides: tuple[str, ...], as_json: bool) -> None:
    from runner.errors import RunnerError
    from runner.live.binding import LiveOptions, print_live_outcome, run_live

    options = LiveOptions(out_dir=out_dir, fresh=fresh, flatten_on_exit=flatten_on_exit,
                          overrides=overrides, journal_dir=out_dir if explicit_out else None,
                          status=sys.stderr if sys.stderr.isatty() else None,
                          max_bars=max_bars)
    try:
        outcome = run_live(result, registry, options)
    except RunnerError as exc:
        _fail(exc)
    print_live_outcome(outcome, sys.stderr)
    _streaming_end(outcome.summary is not None, outcome.journal, out_dir, as_json,
                   outcome.halted)


def main() -> None:
    """Console entry point. Typer handles usage errors (exit 2) and `Exit`; anything
    else that escapes a command becomes a one-line message and exit 3 (or the
    `RunnerError`'s own code), with the traceback only under `--debug`."""
    from runner.errors import RunnerError

    try:
        try:
            app()
            code = 0
        except SystemExit as done:
            code = _exit_code(done.code)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if _State.debug:
            raise
        if isinstance(exc, RunnerError):
            typer.echo(f"runner: error: {exc}", err=True)
            code = exc.exit_code
        else:
            typer.echo(f"runner: internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback)", err=True)
            code = EXIT_RUNTIME
    _exit(code)


def _exit_code(code: object) -> int:
    """`sys.exit`'s argument as a process exit code (a message is printed, code 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _exit(code: int) -> NoReturn:
    """End the process with `code`, without the interpreter's final teardown.

    Freeing every module and object of a finished command (pydantic's models, polars,
    numpy, a backtest's columns) took about 0.2 s of a 1 s backtest, and nothing needs
    it: the command has written and fsynced its files. What Python promises at exit
    still happens: every `atexit` handler runs (a plugin's, `logging`'s) and the
    standard streams are flushed; as at any exit, objects still alive are not
    finalized. With another thread still running, Python's own exit joins it first."""
    import atexit
    import contextlib
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
            stream.flush()
    os._exit(code)
