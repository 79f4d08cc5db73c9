"""Loading stored bars (the `parquet` and `csv` data sources) into a checked polars frame."""

from runner.data.load import (
    BAR_COLUMNS,
    TIME_ALIASES,
    DataIssue,
    DataLoadError,
    LoadedBars,
    load_bars,
    scan_bars,
)

__all__ = [
    "BAR_COLUMNS",
    "TIME_ALIASES",
    "DataIssue",
    "DataLoadError",
    "LoadedBars",
    "load_bars",
    "scan_bars",
]
