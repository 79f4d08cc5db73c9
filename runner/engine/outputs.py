"""The run's output files (DESIGN §6): `summary.json` and four CSVs, and the config
fingerprint stored in the summary.

Formats:

- `summary.json`: an object with `SUMMARY_KEYS` (DESIGN §6's keys, then
  `fingerprint`) in that order, then the report's metrics
  (`runner.report.metrics.EXTENDED_KEYS`, nested objects included), UTF-8, indented,
  strict JSON. Datetimes become ISO 8601 UTC strings with `Z`; floats are written by
  `repr` (round-trip exact); non-finite floats, which JSON lacks, are the strings
  `"inf"`, `"-inf"` and `"nan"` (`float()` reads them back) — `profit_factor` is `inf`
  when no trade lost.
- `trades.csv` (`TRADE_COLUMNS`), `orders.csv` (`ORDER_COLUMNS`: `time` placed,
  the fields of `runner.sim.orders.Order` in declaration order, then the final
  `status` and its `reason`), `fills.csv` (`FILL_COLUMNS`: the
  fields of `Fill`), `equity.csv` (`EQUITY_COLUMNS`). Exactly those columns in that
  order: extra columns of the given frames are dropped, a missing one is a
  `ValueError`; `equity.csv`'s `drawdown` is computed (`metrics.drawdown`, peak from
  the first row) when the equity frame lacks it — pass a `drawdown` column made with
  `drawdown(equity, initial_cash)` to match `metrics(..., initial_cash=...)`.
  A header line, comma separated, `""` for null, `true` / `false` for Booleans,
  floats in polars' shortest round-trip form (reading back gives the same bits).
- Times: ISO 8601 in UTC with a `Z` suffix and 3 fraction digits
  (`2024-01-01T00:00:00.000Z`: the runner's times are milliseconds), or 6 / 9 when a
  column (or a summary time) has sub-millisecond parts, so no precision is lost. Naive
  datetimes are taken as UTC; integer times are epoch **milliseconds** (the unit of
  `runner.data.load.TIME_DTYPE`).

Every file is written atomically: to a temporary file in the same folder, flushed and
fsynced, then renamed over the target; on any error the temporary file is removed and
the target is left as it was. `write_run` writes the CSVs first and `summary.json`
last, so a folder with a `summary.json` holds a complete run.

`write_run` stages the four CSVs before it renames any. equity.csv, by far the
largest, is written (and fsynced) on a thread of its own while the run's metrics are
computed and the small CSVs written; each small CSV is handed to a background thread
that fsyncs it while the next one is formatted; long files also ask the disk to
start writing back after every million rows (Linux `sync_file_range`, no wait), so
little is left for the fsync. Only when every CSV is written *and* fsynced are they
renamed into place; then `summary.json` is written, fsynced and renamed, and the
folder itself is fsynced so the renames are durable too. The guarantee is the old
one — a file never appears under its name before its bytes are on disk, and
`summary.json` comes last — and slightly stronger: a run that fails while writing
leaves *all* the previous CSVs (not only those not rewritten yet). Durability is
still paid for (at 10M bars ~0.3 s of disk time for ~800 MB of equity.csv), but in
parallel with formatting rather than after it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

import polars as pl

from runner.engine.metrics import drawdown
from runner.report.metrics import EXTENDED_KEYS
from runner.sim.orders import Fill, Order, Timestamp

SUMMARY_KEYS: tuple[str, ...] = (
    "name", "mode", "start", "end", "bars", "trades", "initial_cash", "final_equity",
    "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate",
    "profit_factor", "exposure", "fees", "fingerprint",
)
TRADE_COLUMNS: tuple[str, ...] = (
    "instrument", "side", "quantity", "entry_time", "entry_price", "exit_time",
    "exit_price", "pnl", "fees", "exit_reason",
)
EQUITY_COLUMNS: tuple[str, ...] = ("time", "equity", "cash", "drawdown")

ORDER_SCHEMA: dict[str, pl.DataType] = {
    "time": pl.Datetime("us", "UTC"), "id": pl.String(), "symbol": pl.String(), "side": pl.String(),
    "quantity": pl.Float64(), "type": pl.String(), "limit_price": pl.Float64(),
    "trigger_price": pl.Float64(), "time_in_force": pl.String(),
    "expire_after": pl.Int64(), "reduce_only": pl.Boolean(), "post_only": pl.Boolean(),
    "stop_loss": pl.Float64(), "take_profit": pl.Float64(),
    "trailing_stop": pl.Float64(), "trail": pl.Float64(), "parent_id": pl.String(),
    "oco_group": pl.String(), "placed_at": pl.Int64(), "status": pl.String(),
    "reason": pl.String(),
}
ORDER_FIELDS: tuple[str, ...] = tuple(k for k in ORDER_SCHEMA
                                      if k not in ("time", "status", "reason"))
"""The `Order` fields written to orders.csv (not `exits`, a pricing callback)."""
FILL_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(), "symbol": pl.String(), "side": pl.String(),
    "time": pl.Datetime("us", "UTC"), "price": pl.Float64(), "quantity": pl.Float64(),
    "fee": pl.Float64(), "liquidity": pl.String(), "bar_index": pl.Int64(),
}
ORDER_COLUMNS: tuple[str, ...] = tuple(ORDER_SCHEMA)
FILL_COLUMNS: tuple[str, ...] = tuple(FILL_SCHEMA)

_TIME_COLUMNS = {"trades": ("entry_time", "exit_time"), "fills": ("time",),
                 "equity": ("time",), "orders": ("time",)}
_FRACTION = {"ms": "%.3f", "us": "%.6f", "ns": "%.9f"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- fingerprint -------------------------------------------------------------------------

def canonical_overrides(overrides: Sequence[str]) -> list[str]:
    """`--set` overrides in canonical order.

    Each `key=value` has the whitespace around its key stripped (the value is kept
    verbatim); of several overrides of the same key only the last is kept (it replaces
    the others); the rest are sorted by key — except that overrides whose keys overlap
    (one equals, or is a dotted prefix of, the other: `risk` and `risk.max_dd`) keep
    their given relative order, since applying them in another order gives another
    config. So reordering independent overrides never changes the result, and two
    lists with different effects never share it.
    """
    parsed: list[tuple[str, str]] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form key=value")
        parsed.append((key, value))
    last = {key: i for i, (key, _) in enumerate(parsed)}
    remaining = [kv for i, kv in enumerate(parsed) if last[kv[0]] == i]

    def overlap(a: str, b: str) -> bool:
        return a == b or a.startswith(b + ".") or b.startswith(a + ".")

    ordered: list[str] = []
    while remaining:
        free = [i for i, (key, _) in enumerate(remaining)
                if not any(overlap(key, other) for other, _ in remaining[:i])]
        pick = min(free, key=lambda i: remaining[i][0])
        key, value = remaining.pop(pick)
        ordered.append(f"{key}={value}")
    return ordered


def config_fingerprint(file_bytes: bytes, overrides: Sequence[str]) -> str:
    """Hex sha256 of a strategy file's bytes plus its `--set` overrides.

    Hashed: the tag `runner-config-fingerprint-v1`, then the file, then each override of
    `canonical_overrides(overrides)` as UTF-8, every part preceded by its length (8
    bytes, big endian) so no two different inputs hash the same byte stream.
    """
    digest = hashlib.sha256()
    for part in [b"runner-config-fingerprint-v1", bytes(file_bytes),
                 *(o.encode() for o in canonical_overrides(overrides))]:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# -- record frames -----------------------------------------------------------------------

def _as_datetime(value: Timestamp) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return _EPOCH + timedelta(milliseconds=value)


def _times(values: Sequence[Timestamp | None]) -> list[datetime | None]:
    """Times as UTC datetimes; the runner's own (already UTC) pass through untouched,
    which keeps a million-row conversion cheap."""
    return [v if isinstance(v, datetime) and v.tzinfo is UTC
            else None if v is None else _as_datetime(v) for v in values]


class OrderRecord(Protocol):
    """What orders.csv records of an order: when it was placed, the order, and its
    final status with the reason (`runner.engine.simulate.OrderRow`)."""

    @property
    def time(self) -> Timestamp | None: ...
    @property
    def order(self) -> Order: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...


def orders_frame(orders: Sequence[OrderRecord]) -> pl.DataFrame:
    """Order records as a frame with the `orders.csv` columns."""
    data: dict[str, list[Any]] = {
        "time": _times([r.time for r in orders])}
    for f in ORDER_FIELDS:
        data[f] = [getattr(r.order, f) for r in orders]
    # an order dropped before it had a size has no quantity: an empty cell, not NaN
    data["quantity"] = [None if q != q else q for q in data["quantity"]]
    data["status"] = [r.status for r in orders]
    data["reason"] = [r.reason or None for r in orders]
    return pl.DataFrame(data, schema=ORDER_SCHEMA)


def fills_frame(fills: Sequence[Fill]) -> pl.DataFrame:
    """`Fill` records as a frame with the `fills.csv` columns (integer times are epoch
    milliseconds)."""
    data = {
        "order_id": [f.order_id for f in fills], "symbol": [f.symbol for f in fills],
        "side": [f.side for f in fills], "time": _times([f.time for f in fills]),
        "price": [f.price for f in fills], "quantity": [f.quantity for f in fills],
        "fee": [f.fee for f in fills], "liquidity": [f.liquidity for f in fills],
        "bar_index": [f.bar_index for f in fills]}
    return pl.DataFrame(data, schema=FILL_SCHEMA)


# -- atomic writing ----------------------------------------------------------------------

def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it to `path`; if
    anything fails the temporary file is removed and `path` is untouched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_and_close(fh: IO[bytes]) -> None:
    try:
        os.fsync(fh.fileno())
    finally:
        fh.close()


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (where a folder can be opened and fsynced:
    POSIX; elsewhere the rename is as durable as the platform makes it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class _Staging:
    """Files written to temporary names in `out`, each fsynced in a background thread
    once written, and renamed over their targets together by `commit` (in the order
    they were added) only when every one is written and fsynced; `abort` removes them
    and touches no target (see the module docstring).

    `write_later` formats a file on a thread of its own while the caller goes on: the
    one long file (equity.csv) is written while the run's metrics are computed. Each
    file has one writer; writing the small CSVs side by side with equity.csv measured
    no faster on two cores (polars formats a CSV on both)."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._staged: list[tuple[str, str]] = []
        self._pending: list[Future[None]] = []
        self._fsync = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runner-fsync")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runner-write")

    def write(self, name: str, write: Callable[[IO[bytes]], object]) -> None:
        """Write `name` now; its fsync runs in the background."""
        fh = self._open(name)
        try:
            write(fh)
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self._pending.append(self._fsync.submit(_fsync_and_close, fh))

    def write_later(self, name: str, write: Callable[[IO[bytes]], object]) -> None:
        """Write (and fsync) `name` on a background thread."""
        fh = self._open(name)

        def run() -> None:
            try:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()
        self._pending.append(self._writer.submit(run))

    def _open(self, name: str) -> IO[bytes]:
        fd, tmp = tempfile.mkstemp(dir=self._out, prefix=f".{name}.", suffix=".tmp")
        self._staged.append((name, tmp))
        return os.fdopen(fd, "wb")

    def commit(self) -> None:
        """Wait for every file, then rename them into place; on any error, `abort`."""
        try:
            for future in self._pending:
                future.result()
        except BaseException:
            self.abort()
            raise
        self._shutdown()
        for name, tmp in self._staged:
            os.replace(tmp, self._out / name)

    def abort(self) -> None:
        """Wait for the threads (the files must be closed before they are removed),
        then remove every temporary file."""
        for future in self._pending:
            with contextlib.suppress(BaseException):
                future.result()
        self._shutdown()
        for _, tmp in self._staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _shutdown(self) -> None:
        self._fsync.shutdown()
        self._writer.shutdown()


# -- formatting --------------------------------------------------------------------------

def _iso_z(value: datetime) -> str:
    text = _as_datetime(value).isoformat(timespec="milliseconds" if not value.microsecond
                                         or value.microsecond % 1000 == 0
                                         else "microseconds")
    return text.removesuffix("+00:00") + "Z"


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, datetime):
        return _iso_z(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _utc_time(frame: pl.DataFrame, column: str) -> tuple[pl.Expr, str]:
    """A time column as a UTC datetime, and the fraction digits it needs."""
    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype.is_integer():
        return pl.from_epoch(col, time_unit="ms").dt.replace_time_zone("UTC"), "ms"
    if isinstance(dtype, pl.Datetime):
        col = (col.dt.replace_time_zone("UTC") if dtype.time_zone is None
               else col.dt.convert_time_zone("UTC"))
        if dtype.time_unit == "ms":
            return col, "ms"
        nanos = frame[column].dt.nanosecond()
        unit = ("ms" if (nanos % 1_000_000 == 0).all() else
                "us" if (nanos % 1_000 == 0).all() else "ns")
        return col, unit
    if dtype == pl.Null:
        return pl.lit(None, pl.Datetime("ms", "UTC")), "ms"
    raise ValueError(f"time column {column!r} has type {dtype}; expected a datetime "
                     "or an integer epoch in milliseconds")


def _format(unit: str) -> str:
    return f"%Y-%m-%dT%H:%M:%S{_FRACTION[unit]}Z"


_DAY_MS = 86_400_000


_TOD_STEPS = (60_000, 1_000)
"""Time-of-day steps (ms) that `iso_ms_text` formats every value of, once: whole
minutes (1,440 texts) or whole seconds (86,400)."""


def iso_ms_text(times: pl.Series) -> pl.Series:
    """UTC datetimes (millisecond precision) as `YYYY-MM-DDTHH:MM:SS.mmmZ` text.

    Formatting a datetime per row is most of the cost of writing a long equity.csv;
    bar times repeat few days and few times of day, so only those are formatted and
    the text is assembled from them (equal to `dt.strftime`). Bar times on whole
    minutes (or seconds) take the fast way: every day of the range and every minute
    (second) of a day formatted once, then picked by index (`gather`, numpy for the
    arithmetic) and joined; other times (or nulls) go through the distinct values."""
    ms_series = times.dt.epoch("ms")
    if len(ms_series) and not ms_series.null_count():
        ms = ms_series.to_numpy()
        day = ms // _DAY_MS
        tod = ms - day * _DAY_MS
        first_day, last_day = int(day[0]), int(day[-1])
        if not (first_day <= last_day and bool((day[1:] >= day[:-1]).all())):
            first_day, last_day = int(day.min()), int(day.max())
        if last_day - first_day < len(ms) + 1_000:
            for step in _TOD_STEPS:
                if not (tod % step).any():
                    day_text = (pl.int_range(first_day, last_day + 1, eager=True) * _DAY_MS
                                ).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%dT")
                    tod_text = pl.int_range(0, _DAY_MS, step, eager=True).cast(
                        pl.Datetime("ms", "UTC")).dt.strftime("%H:%M:%S%.3fZ")
                    text = (day_text.gather(pl.Series(day - first_day))
                            + tod_text.gather(pl.Series(tod // step)))
                    return text.alias(times.name)
    return _iso_ms_text_distinct(times)


def _iso_ms_text_distinct(times: pl.Series) -> pl.Series:
    """`iso_ms_text` for any times: the distinct days and times of day formatted."""
    ms = times.dt.epoch("ms")
    day = ms // _DAY_MS
    tod = ms - day * _DAY_MS
    days, tods = day.unique().drop_nulls(), tod.unique().drop_nulls()
    if len(tods) > 100_000:  # irregular times: nothing to share
        return times.dt.strftime(_format("ms"))
    day_text = (days * _DAY_MS).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%d")
    tod_text = tods.cast(pl.Datetime("ms", "UTC")).dt.strftime("%H:%M:%S%.3f")
    text = pl.select(pl.concat_str([
        day.replace_strict(days, day_text, return_dtype=pl.String), pl.lit("T"),
        tod.replace_strict(tods, tod_text, return_dtype=pl.String), pl.lit("Z")]))
    return text.to_series().alias(times.name)


@dataclass(frozen=True, slots=True)
class _Table:
    """One CSV's columns, its times converted to UTC, and how they become text:
    `iso_ms` columns are assembled by `iso_ms_text` chunk by chunk as they are
    written; otherwise the CSV writer formats them with `datetime_format` (None: they
    are already text, when a file's time columns need different precisions)."""

    frame: pl.DataFrame
    iso_ms: tuple[str, ...] = ()
    datetime_format: str | None = None


_CHUNK_ROWS = 1_000_000


def _table(frame: pl.DataFrame, columns: Sequence[str], what: str) -> _Table:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing} (has {frame.columns})")
    out = frame.select(columns)
    times = {c: _utc_time(out, c) for c in _TIME_COLUMNS[what]}
    if not times:
        return _Table(out)
    out = out.with_columns(e.alias(c) for c, (e, _) in times.items())
    units = {unit for _, unit in times.values()}
    if units == {"ms"}:
        return _Table(out, iso_ms=tuple(times))
    if len(units) == 1:
        return _Table(out, datetime_format=_format(*units))
    return _Table(out.with_columns(pl.col(c).dt.strftime(_format(u))
                                   for c, (_, u) in times.items()))


@functools.cache
def _writeback() -> Callable[[int], object] | None:
    """Linux's `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`: start writing a
    file's dirty pages back to disk without waiting for it (nor evicting them: the
    report reads the CSVs next); None where there is no such call."""
    try:
        import ctypes

        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return lambda fd: call(fd, 0, 0, 2)


def _csv_writer(table: _Table) -> Callable[[IO[bytes]], object]:
    def write(fh: IO[bytes]) -> None:
        """A million rows at a time, each chunk's times made text just before it is
        written, so a 10M-bar equity.csv never holds all its text at once. After each
        chunk of a long file the disk is asked to start writing it back (`_writeback`),
        so the fsync that follows has little left to wait for."""
        frame = table.frame
        writeback = _writeback() if frame.height > _CHUNK_ROWS else None
        for start in range(0, max(frame.height, 1), _CHUNK_ROWS):
            chunk = frame.slice(start, _CHUNK_ROWS)
            if table.iso_ms:
                chunk = chunk.with_columns(iso_ms_text(chunk[c]) for c in table.iso_ms)
            chunk.write_csv(fh, include_header=start == 0,
                            datetime_format=table.datetime_format)
            if writeback is not None:
                fh.flush()
                with contextlib.suppress(OSError, ValueError):
                    writeback(fh.fileno())

    return write


def _as_frame(records: pl.DataFrame | Sequence[Any], to_frame: Callable[..., pl.DataFrame],
              ) -> pl.DataFrame:
    return records if isinstance(records, pl.DataFrame) else to_frame(records)


def write_run(out_dir: str | os.PathLike[str],
              summary: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
              trades: pl.DataFrame, orders: pl.DataFrame | Sequence[OrderRecord],
              fills: pl.DataFrame | Sequence[Fill], equity: pl.DataFrame) -> None:
    """Write `summary.json`, `trades.csv`, `orders.csv`, `fills.csv` and `equity.csv`
    into `out_dir` (created if missing). `summary` must have every key of
    `SUMMARY_KEYS` and may have any of `runner.report.metrics.EXTENDED_KEYS` (any
    order; written in `SUMMARY_KEYS` order, then `EXTENDED_KEYS` order). `orders` /
    `fills` may be frames or `OrderRecord` / `Fill` records. All checks run before the
    first file is renamed into place.

    `summary` may be a function that computes it: it is then called while equity.csv,
    by far the longest file, is being written on another thread."""
    if not callable(summary):
        _check_summary(summary)
    if "drawdown" not in equity.columns:
        equity = equity.with_columns(drawdown(equity["equity"]))
    tables = {
        "trades.csv": _table(trades, TRADE_COLUMNS, "trades"),
        "orders.csv": _table(_as_frame(orders, orders_frame), ORDER_COLUMNS, "orders"),
        "fills.csv": _table(_as_frame(fills, fills_frame), FILL_COLUMNS, "fills"),
        "equity.csv": _table(equity, EQUITY_COLUMNS, "equity"),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = _Staging(out)
    try:
        staging.write_later("equity.csv", _csv_writer(tables["equity.csv"]))
        if callable(summary):
            summary = summary()
            _check_summary(summary)
        text = json.dumps({k: _json_value(summary[k]) for k in (*SUMMARY_KEYS, *EXTENDED_KEYS)
                           if k in summary}, indent=2,
                          allow_nan=False, ensure_ascii=False) + "\n"
        for name in ("trades.csv", "orders.csv", "fills.csv"):
            staging.write(name, _csv_writer(tables[name]))
    except BaseException:
        staging.abort()
        raise
    staging.commit()
    atomic_write(out / "summary.json", lambda fh: fh.write(text.encode()))
    _fsync_dir(out)


def _check_summary(summary: Mapping[str, Any]) -> None:
    keys = set(summary)
    if not set(SUMMARY_KEYS) <= keys <= set(SUMMARY_KEYS) | set(EXTENDED_KEYS):
        raise ValueError(f"summary keys differ from DESIGN §6: missing "
                         f"{sorted(set(SUMMARY_KEYS) - keys)}, unexpected "
                         f"{sorted(keys - set(SUMMARY_KEYS) - set(EXTENDED_KEYS))}")
