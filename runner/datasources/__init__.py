"""The built-in `parquet` and `csv` data sources of stored bars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from runner.definitions import DataSourceDef, NoParams
from runner.hookspecs import hookimpl


class CsvOptions(BaseModel):
    """Options of the csv source, given beside `path` in the `data:` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    separator: Annotated[str, Field(min_length=1, max_length=1)] = ","
    has_header: bool = True
    time_format: str | None = Field(
        default=None, description="strftime format of the time column, when not ISO 8601"
    )
    comment_prefix: str | None = None


PARQUET = DataSourceDef("parquet", NoParams, "parquet files, one per symbol ({symbol} in path)")
CSV = DataSourceDef("csv", CsvOptions, "CSV files, one per symbol ({symbol} in path)")


@hookimpl
def register_data_sources() -> Sequence[DataSourceDef]:
    return (PARQUET, CSV)
