"""The built-in `parquet` and `csv` data sources of stored bars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from runner.definitions import DataSourceDef, NoParams
from runner.hookspecs import hookimpl

if TYPE_CHECKING:
    from runner.data.load import LoadedBars


class CsvOptions(BaseModel):
    """Options of the csv source, given beside `path` in the `data:` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    separator: Annotated[str, Field(min_length=1, max_length=1)] = ","
    has_header: bool = True
    time_format: str | None = Field(
        default=None, description="strftime format of the time column, when not ISO 8601"
    )
    comment_prefix: str | None = None


def read_parquet(path_template: str, symbol: str, **kwargs: Any) -> LoadedBars:
    """`runner.data.load_bars` with `source="parquet"` (imported here: polars stays
    unimported until bars are actually read, so `runner validate` never loads it)."""
    from runner.data.load import load_bars

    return load_bars(path_template, symbol, source="parquet", **kwargs)


def read_csv(path_template: str, symbol: str, **kwargs: Any) -> LoadedBars:
    """`runner.data.load_bars` with `source="csv"` (see `read_parquet`)."""
    from runner.data.load import load_bars

    return load_bars(path_template, symbol, source="csv", **kwargs)


PARQUET = DataSourceDef(
    "parquet",
    NoParams,
    "parquet files, one per symbol ({symbol} in path)",
    reader=read_parquet,
)
CSV = DataSourceDef(
    "csv",
    CsvOptions,
    "CSV files, one per symbol ({symbol} in path)",
    reader=read_csv,
)


@hookimpl
def register_data_sources() -> Sequence[DataSourceDef]:
    return (PARQUET, CSV)
