"""Read stored bars from parquet or CSV into one checked, normalised polars frame.

The result has the columns `time open high low close volume`: `time` is the bar's
OPEN time as `Datetime("ms", "UTC")` whatever the file's stamping convention
(`label`/`closed`, DESIGN.md section 3), prices and volume are `Float64`, rows are
sorted by time. Every irregularity is a decision, never a silent fix:

| finding                                   | decision                                  |
|-------------------------------------------|-------------------------------------------|
| missing file                              | error naming the resolved path            |
| missing column                            | error listing the columns found           |
| no rows (in the requested range)          | error                                     |
| null time                                 | error with count                          |
| rows out of order                         | sorted, warning with count                |
| duplicate timestamps                      | error naming the first duplicates         |
| bars closer than the timeframe            | error (the timeframe is probably wrong)   |
| gaps longer than the timeframe            | warning with count and the largest gap    |
| null or NaN open/high/low/close           | error with count per column and first row |
| high < max(open, close), low > min(...),  | error with count and first row            |
| high < low                                |                                           |
| null volume / zero volume                 | warning with counts (null stays null)     |
| negative volume                           | error with count and first row            |

Errors are gathered and raised together as one `DataLoadError` (a
`runner.errors.FatalExchangeError`, exit code 3: "a data source failed"); warnings
come back in `LoadedBars.issues` and are logged.

`closed` does not move stored timestamps: whichever edge is inclusive, a bar stamped
at its close (`label: close`) opened one timeframe earlier, and one stamped at its
open is already at its open. `closed` is kept on the result for code that assigns
ticks or finer bars to these bars.

The time range `[start, end)` selects bars by OPEN time (start inclusive, end
exclusive) and is pushed into the scan: on integer and naive datetime columns it is a
plain comparison of the raw column, so parquet row-group statistics can skip data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ValidationError

from runner.errors import FatalExchangeError

log = logging.getLogger(__name__)

BAR_COLUMNS = ("time", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")
TIME_ALIASES = ("time", "timestamp", "date", "datetime", "open_time")
TIME_DTYPE = pl.Datetime("ms", "UTC")

Source = Literal["parquet", "csv"]
Severity = Literal["error", "warning"]
EpochUnit = Literal["ms", "us", "ns"]

_GLOB_CHARS = frozenset("*?[")
_SHOWN = 3  # how many offending timestamps a message names


@dataclass(frozen=True)
class DataIssue:
    """One finding about loaded bars; `kind` is a stable machine-readable name."""

    kind: str
    count: int
    message: str
    severity: Severity

    def render(self) -> str:
        return f"{self.severity}: {self.kind}: {self.message}"


class DataLoadError(FatalExchangeError):
    """Stored bars could not be read or failed a check; `issues` holds every error."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        path: Path | None = None,
        issues: Sequence[DataIssue] = (),
    ) -> None:
        super().__init__(source, message)
        self.path = path
        self.issues = tuple(issues)

    def __str__(self) -> str:
        where = f" {self.path}" if self.path is not None else ""
        lines = [f"{self.venue} data{where}: {self.message}"]
        lines += [f"  {issue.render()}" for issue in self.issues]
        return "\n".join(lines)


@dataclass(frozen=True)
class LoadedBars:
    """Checked bars of one symbol plus the warnings found while loading them."""

    frame: pl.DataFrame
    issues: list[DataIssue] = field(default_factory=list)
    symbol: str = ""
    path: Path | None = None
    timeframe_seconds: int = 0
    closed: Literal["left", "right"] = "left"

    @property
    def warnings(self) -> list[DataIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    def issue(self, kind: str) -> DataIssue | None:
        return next((i for i in self.issues if i.kind == kind), None)


# --------------------------------------------------------------------------- scanning


def resolve_path(path_template: str, symbol: str) -> Path:
    """`{symbol}` in the template replaced; relative paths stay relative to the cwd."""
    return Path(path_template.replace("{symbol}", symbol))


def _options_dict(options: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if isinstance(options, BaseModel):
        return options.model_dump()
    return dict(options)


def _scan(source: Source, path: Path, options: dict[str, Any]) -> tuple[pl.LazyFrame, str | None]:
    """The raw lazy scan and the csv `time_format` (None for parquet)."""
    if source == "parquet":
        if options:
            raise DataLoadError(
                source, f"the parquet source takes no options, got {sorted(options)}", path=path
            )
        return pl.scan_parquet(path), None
    from runner.datasources import CsvOptions  # here: runner.datasources imports this module

    try:
        opts = CsvOptions.model_validate(options)
    except ValidationError as exc:
        raise DataLoadError(source, f"invalid csv options: {exc}", path=path) from None
    lf = pl.scan_csv(
        path,
        separator=opts.separator,
        has_header=opts.has_header,
        comment_prefix=opts.comment_prefix,
        try_parse_dates=False,
    )
    return lf, opts.time_format


def _match(name: str, found: Sequence[str]) -> str | None:
    """An exact, else a unique case-insensitive match of `name` among `found`."""
    if name in found:
        return name
    folded = [c for c in found if c.lower() == name]
    return folded[0] if len(folded) == 1 else None


def _find_column(ours: str, mapped: Mapping[str, str], found: Sequence[str]) -> str | None:
    """The file column for our name: the mapping, else a match of the name (the time
    column also by its aliases, in order)."""
    if ours in mapped:
        return mapped[ours] if mapped[ours] in found else None
    names = TIME_ALIASES if ours == "time" else (ours,)
    return next((m for m in (_match(n, found) for n in names) if m is not None), None)


def _resolve_columns(
    source: str, path: Path, mapped: Mapping[str, str], found: Sequence[str]
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for ours in BAR_COLUMNS:
        col = _find_column(ours, mapped, found)
        if col is None:
            if ours in mapped:
                missing.append(f"{ours!r} (mapped to {mapped[ours]!r})")
            elif ours == "time":
                missing.append("'time' (or one of " + ", ".join(TIME_ALIASES[1:]) + ")")
            else:
                missing.append(repr(ours))
        else:
            resolved[ours] = col
    if missing:
        raise DataLoadError(
            source,
            f"missing column {', '.join(missing)}; the file has columns {list(found)}"
            " (map other names with data.columns)",
            path=path,
        )
    if "time" not in mapped:
        candidates = [m for m in (_match(a, found) for a in TIME_ALIASES) if m is not None]
        if len(candidates) > 1:
            raise DataLoadError(
                source,
                f"several time columns {candidates}; choose one with data.columns.time",
                path=path,
            )
    return resolved


def _epoch_unit(value: int) -> EpochUnit | None:
    """ms, µs or ns told apart by magnitude (None: too small, likely epoch seconds)."""
    magnitude = abs(value)
    if magnitude < 10**11:  # 1973-03-03 in ms
        return None
    if magnitude < 10**14:  # year 5138 in ms
        return "ms"
    if magnitude < 10**17:
        return "us"
    return "ns"


def _int_unit(source: str, path: Path, lf: pl.LazyFrame, col: str) -> EpochUnit | None:
    bounds = _collect(
        source, path, lf.select(pl.col(col).min().alias("lo"), pl.col(col).max().alias("hi"))
    )
    lo, hi = bounds.row(0)
    if lo is None or hi is None:
        return None  # no values: the empty / null-time checks report it
    units = {_epoch_unit(int(lo)), _epoch_unit(int(hi))}
    if None in units:
        raise DataLoadError(
            source,
            f"integer times in column {col!r} (from {lo} to {hi}) are too small for an epoch"
            " in ms, µs or ns (epoch seconds are not accepted)",
            path=path,
        )
    if len(units) > 1:
        raise DataLoadError(
            source,
            f"integer times in column {col!r} mix epoch units ({lo} .. {hi})",
            path=path,
        )
    unit: EpochUnit = units.pop()  # type: ignore[assignment]
    return unit


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _epoch(value: datetime, unit: EpochUnit) -> int:
    delta = _utc(value) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return {"ms": micros // 1000, "us": micros, "ns": micros * 1000}[unit]


def _time_expr(
    source: str, path: Path, lf: pl.LazyFrame, col: str, dtype: pl.DataType, time_format: str | None
) -> tuple[pl.Expr, EpochUnit | None]:
    """The expression giving the stored stamp as Datetime(ms, UTC), and the epoch unit
    of an integer column (for pushing the range down as raw integers)."""
    c = pl.col(col)
    if dtype.is_integer():
        unit = _int_unit(source, path, lf, col)
        if unit is None:
            return c.cast(pl.Int64).cast(TIME_DTYPE), None
        return pl.from_epoch(c, time_unit=unit).dt.replace_time_zone("UTC").cast(TIME_DTYPE), unit
    if dtype == TIME_DTYPE:
        return c, None  # already what we want: no conversion pass over the column
    if isinstance(dtype, pl.Datetime):
        aware = (
            c.dt.replace_time_zone("UTC")
            if dtype.time_zone is None
            else c.dt.convert_time_zone("UTC")
        )
        return aware.cast(TIME_DTYPE), None
    if dtype == pl.Date:
        return c.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"), None
    if dtype == pl.String:
        parsed = c.str.to_datetime(format=time_format, time_unit="ms", time_zone="UTC", strict=True)
        return parsed.cast(TIME_DTYPE), None
    raise DataLoadError(
        source,
        f"time column {col!r} has type {dtype}; expected a datetime, an integer epoch"
        " (ms, µs or ns) or ISO 8601 text",
        path=path,
    )


def _collect(source: str, path: Path, lf: pl.LazyFrame) -> pl.DataFrame:
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataLoadError(source, f"cannot read the file: {first}", path=path) from None


def scan_bars(
    path_template: str,
    symbol: str,
    *,
    source: Source = "parquet",
    options: BaseModel | Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | None = None,
    label: Literal["open", "close"] = "open",
    timeframe_seconds: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[pl.LazyFrame, Path]:
    """The lazy, unchecked frame of `time open high low close volume` (time = bar open)
    with the range filter pushed into the scan, and the resolved path."""
    if source not in ("parquet", "csv"):
        raise DataLoadError(str(source), "unknown source; expected 'parquet' or 'csv'")
    if timeframe_seconds <= 0:
        raise DataLoadError(source, f"timeframe_seconds must be positive, got {timeframe_seconds}")
    path = resolve_path(path_template, symbol)
    if not _GLOB_CHARS & set(str(path)) and not path.exists():
        raise DataLoadError(source, f"file not found: {path.resolve()}", path=path)
    mapped = dict(columns or {})
    unknown = sorted(set(mapped) - set(BAR_COLUMNS))
    if unknown:
        raise DataLoadError(source, f"data.columns has unknown keys {unknown}", path=path)

    try:
        raw, time_format = _scan(source, path, _options_dict(options))
        schema = raw.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataLoadError(source, f"cannot read the file: {first}", path=path) from None
    cols = _resolve_columns(source, path, mapped, schema.names())
    for ours in BAR_COLUMNS[1:]:
        dtype = schema[cols[ours]]
        if not (dtype.is_numeric() or dtype == pl.String or dtype == pl.Null):
            raise DataLoadError(
                source, f"column {cols[ours]!r} ({ours}) has type {dtype}, not numbers", path=path
            )

    tcol = cols["time"]
    stamp, unit = _time_expr(source, path, raw, tcol, schema[tcol], time_format)
    shift = timedelta(seconds=timeframe_seconds if label == "close" else 0)

    tdtype = schema[tcol]

    def bound(value: datetime) -> pl.Expr | int:
        """`value` (an open time) as a stamp comparable with the raw column if it can
        be, so the comparison stays a plain column predicate; else with `stamp`."""
        at = _utc(value + shift)
        if unit is not None:
            return _epoch(at, unit)
        if isinstance(tdtype, pl.Datetime):
            if tdtype.time_zone is None:
                return pl.lit(at.replace(tzinfo=None)).cast(tdtype)
            return pl.lit(at).dt.convert_time_zone(tdtype.time_zone).cast(tdtype)
        return pl.lit(at).cast(TIME_DTYPE)

    compared = pl.col(tcol) if unit is not None or isinstance(tdtype, pl.Datetime) else stamp
    lf = raw
    if start is not None:
        lf = lf.filter(compared >= bound(start))
    if end is not None:
        lf = lf.filter(compared < bound(end))

    opened = stamp - pl.duration(seconds=timeframe_seconds) if label == "close" else stamp
    lf = lf.select(
        opened.alias("time"),
        *(pl.col(cols[c]).cast(pl.Float64, strict=True).alias(c) for c in BAR_COLUMNS[1:]),
    )
    return lf, path


# --------------------------------------------------------------------------- checking


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return _fmt_span(value)
    return repr(value)


def _fmt_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"


def _first_row(df: pl.DataFrame, mask: pl.Series) -> str:
    row = df.filter(mask).row(0, named=True)
    return ", ".join(f"{k}={_fmt(v)}" for k, v in row.items())


def _counts(df: pl.DataFrame, tf: timedelta) -> dict[str, int]:
    """How many rows each check of `check_bars` finds, in one pass over the frame.

    One lazy query of aggregates over the frame and its time steps (computed once, not
    once per check), which polars runs side by side and with its optimizations (an
    eager `select` runs without them: measured 2-3x slower here), keeping nothing
    column-sized: clean data, the common case, costs one scan, and the details of a
    finding are looked up only when there is one."""
    step = pl.col("__step")
    volume = pl.col("volume")
    query = df.lazy().with_columns(pl.col("time").diff().alias("__step")).select(
        pl.col("time").null_count().alias("null_time"),
        (step < timedelta(0)).sum().alias("backwards"),
        (step == timedelta(0)).sum().alias("same"),
        ((step > timedelta(0)) & (step < tf)).sum().alias("short"),
        (step > tf).sum().alias("gap"),
        *((pl.col(c).is_null() | pl.col(c).is_nan()).sum().alias(c) for c in PRICE_COLUMNS),
        _ohlc_violation().sum().alias("ohlc"),
        volume.null_count().alias("null_volume"),
        (volume == 0).sum().alias("zero_volume"),
        (volume < 0).sum().alias("negative_volume"),
    )
    row = query.collect().row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def _ohlc_violation() -> pl.Expr:
    return (
        (pl.col("high") < pl.max_horizontal("open", "close"))
        | (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("high") < pl.col("low"))
    ).fill_null(False)


def check_bars(df: pl.DataFrame, timeframe_seconds: int) -> tuple[pl.DataFrame, list[DataIssue]]:
    """Every check of the module docstring's table; the frame comes back sorted."""
    issues: list[DataIssue] = []

    def add(kind: str, count: int, message: str, severity: Severity) -> None:
        issues.append(DataIssue(kind, count, message, severity))

    tf = timedelta(seconds=timeframe_seconds)
    counts = _counts(df, tf)
    null_times, backwards = counts["null_time"], counts["backwards"]
    if null_times:
        add("null_time", null_times, f"{null_times} rows have no time", "error")
    if backwards:
        add(
            "unsorted",
            backwards,
            f"rows are not in time order ({backwards} steps go backwards); sorted by time",
            "warning",
        )
    if backwards or null_times:
        df = df.sort("time", nulls_last=True, maintain_order=True)
        counts = _counts(df, tf)  # the steps between rows are the sorted frame's
    time = df["time"]

    # sorted: a repeated time equals its neighbour (cheaper than hashing every row)
    if counts["same"]:
        same = (time.diff() == timedelta(0)).fill_null(False)
        dup_mask = same | same.shift(-1, fill_value=False)
        dups = time.filter(dup_mask).unique(maintain_order=True)
        shown = ", ".join(_fmt(t) for t in dups.head(_SHOWN))
        more = f" and {dups.len() - _SHOWN} more" if dups.len() > _SHOWN else ""
        add(
            "duplicate_time",
            dups.len(),
            f"{dups.len()} timestamps occur more than once ({int(dup_mask.sum())} rows): "
            f"{shown}{more}",
            "error",
        )

    if counts["short"] or counts["gap"]:
        steps = df.select(
            pl.col("time").shift(1).alias("prev"), pl.col("time").diff().alias("step")
        ).drop_nulls()
        short = steps.filter((pl.col("step") > timedelta(0)) & (pl.col("step") < tf))
        if short.height:
            smallest = short.sort("step").row(0, named=True)
            add(
                "short_spacing",
                short.height,
                f"{short.height} bars follow the previous one sooner than the timeframe "
                f"{_fmt_span(tf)} (smallest step {_fmt_span(smallest['step'])} after "
                f"{_fmt(smallest['prev'])}); is data.timeframe right?",
                "error",
            )
        gaps = steps.filter(pl.col("step") > tf)
        if gaps.height:
            largest = gaps.sort("step", descending=True, maintain_order=True).row(0, named=True)
            missing = int(sum(s // tf - 1 for s in gaps["step"]))
            add(
                "gap",
                gaps.height,
                f"{gaps.height} gaps ({missing} missing bars); the largest is "
                f"{_fmt_span(largest['step'])} after the bar at {_fmt(largest['prev'])}",
                "warning",
            )

    bad_prices = [f"{c}: {counts[c]}" for c in PRICE_COLUMNS if counts[c]]
    if bad_prices:
        mask = pl.Series([False] * df.height)
        for c in PRICE_COLUMNS:
            mask = mask | (df[c].is_null() | df[c].is_nan()).fill_null(True)
        add(
            "null_price",
            int(mask.sum()),
            f"{int(mask.sum())} rows lack a price ({', '.join(bad_prices)}); "
            f"first: {_first_row(df, mask)}",
            "error",
        )

    n_bad = counts["ohlc"]
    if n_bad:
        violation = df.select(_ohlc_violation().alias("bad"))["bad"]
        add(
            "ohlc",
            n_bad,
            f"{n_bad} bars break high >= max(open, close), low <= min(open, close), "
            f"high >= low; first: {_first_row(df, violation)}",
            "error",
        )

    null_volume, zero_volume = counts["null_volume"], counts["zero_volume"]
    if null_volume or zero_volume:
        add(
            "volume",
            null_volume + zero_volume,
            f"{null_volume} bars have no volume (kept as null), {zero_volume} have zero volume",
            "warning",
        )
    if counts["negative_volume"]:
        negative = (df["volume"] < 0).fill_null(False)
        add(
            "negative_volume",
            counts["negative_volume"],
            f"{counts['negative_volume']} bars have negative volume; "
            f"first: {_first_row(df, negative)}",
            "error",
        )
    return df, issues


def load_bars(
    path_template: str,
    symbol: str,
    *,
    source: Source = "parquet",
    options: BaseModel | Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | None = None,
    label: Literal["open", "close"] = "open",
    closed: Literal["left", "right"] = "left",
    timeframe_seconds: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> LoadedBars:
    """Load, normalise and check the bars of `symbol`; raise `DataLoadError` on errors.

    `start`/`end` select bars whose OPEN time is in `[start, end)`; naive = UTC.
    """
    lf, path = scan_bars(
        path_template,
        symbol,
        source=source,
        options=options,
        columns=columns,
        label=label,
        timeframe_seconds=timeframe_seconds,
        start=start,
        end=end,
    )
    df = _collect(source, path, lf)
    if df.height == 0:
        span = ""
        if start is not None or end is not None:
            span = f" with open time in [{_fmt(start) if start else '...'}, "
            span += f"{_fmt(end) if end else '...'})"
        raise DataLoadError(source, f"no bars for {symbol}{span}", path=path)
    df, issues = check_bars(df, timeframe_seconds)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        noun = "problem" if len(errors) == 1 else "problems"
        raise DataLoadError(
            source, f"{len(errors)} {noun} in the bars of {symbol}", path=path, issues=errors
        )
    # A parquet scan gives one chunk per row group (81 for 10M bars); every later
    # `to_numpy`, kernel input or mixed-layout operation would copy them together
    # again, once per use, so they are made contiguous once, here.
    df = df.rechunk()
    for issue in issues:
        log.warning("%s %s: %s", path, symbol, issue.render())
    return LoadedBars(
        frame=df,
        issues=issues,
        symbol=symbol,
        path=path,
        timeframe_seconds=timeframe_seconds,
        closed=closed,
    )
