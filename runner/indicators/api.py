"""The public Python API: `compute` (batch) and `incremental` (per bar).

Params are validated by the same models `runner validate` uses, so a bad value gets
the same message here as in a strategy file (raised as `ConfigError`).

Missing data: a row whose inputs hold a null is a bar the indicator never saw. Its
output is null and the indicator's state goes on from the last complete bar, the way
a data feed with a missing bar would behave (TA-Lib itself has no missing bars: a NaN
poisons its running sums). Both forms follow that rule, so they stay equal.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runner.config.diagnostics import Diagnostic, Severity
from runner.definitions import IndicatorDef
from runner.errors import ConfigError

TIME_ROLE = "time"
"""An indicator that reads the bar time (a session VWAP) names this input role; both
forms receive it as epoch milliseconds, whether the data holds datetimes or integers."""

if TYPE_CHECKING:
    import polars as pl

    from runner.plugins import Registry


@functools.cache
def default_registry() -> Registry:
    """The installed plugins, loaded once per process for API callers that pass none."""
    from runner.plugins import load_registry

    return load_registry()


def _definition(name: str, registry: Registry | None) -> IndicatorDef:
    if registry is None:
        registry = default_registry()
    definition = registry.indicators.get(name)
    if definition is None:
        from runner.expr.suggest import suggest

        hint = suggest(name, list(registry.indicators))
        raise ConfigError([Diagnostic(Severity.ERROR, "unknown-type",
                                      f'unknown indicator type "{name}"', "<api>", 1, 1,
                                      "type", hint)])
    return definition


def validate_params(definition: IndicatorDef, params: Mapping[str, Any]) -> BaseModel:
    from runner.config.loader import SourceMap
    from runner.config.pydantic_errors import to_diagnostics

    try:
        return definition.params.model_validate(dict(params))
    except ValidationError as exc:
        source = SourceMap("<api>", "")
        raise ConfigError(to_diagnostics(exc, dict(params), source, model=definition.params,
                                         owner=f'indicator "{definition.name}"')) from None


def evaluate(frame: pl.DataFrame, exprs: Mapping[str, pl.Expr] | pl.Expr) -> pl.DataFrame:
    """A batch form's result over `frame`: a mapping of output expressions, or one
    struct expression whose fields are the outputs (what a multi-output numba kernel
    returns, so it runs once)."""
    import polars as pl

    if isinstance(exprs, pl.Expr):
        return frame.select(exprs.alias("__outputs")).unnest("__outputs")
    return frame.select(**exprs)


def compute(name: str, frame: pl.DataFrame, *, registry: Registry | None = None,
            **params: Any) -> pl.DataFrame:
    """One column per output (`value` for a single-output indicator), one row per bar."""
    import polars as pl

    from runner.indicators.columns import keep_freed_memory

    keep_freed_memory()  # kernels' column-sized arrays: see its docstring
    definition = _definition(name, registry)
    p = validate_params(definition, params)
    if definition.batch is None:
        raise ConfigError([Diagnostic(Severity.ERROR, "unknown-type",
                                      f'indicator "{name}" has no batch form', "<api>", 1, 1)])
    missing = [c for c in definition.inputs if c not in frame.columns]
    if missing:
        raise ConfigError([Diagnostic(Severity.ERROR, "missing-field",
                                      f"the frame has no column {', '.join(missing)}", "<api>",
                                      1, 1)])
    wrong = [f"{c} ({frame.schema[c]})" for c in definition.inputs
             if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Null
                     or (c == TIME_ROLE and frame.schema[c].is_temporal()))]
    if wrong:
        raise ConfigError([Diagnostic(Severity.ERROR, "invalid-type",
                                      f"indicator inputs must be numeric: {', '.join(wrong)}",
                                      "<api>", 1, 1)])
    inputs = {role: _input_column(role, frame.schema[role]) for role in definition.inputs}
    exprs = definition.batch(inputs, p)
    if not any(frame[c].null_count() for c in definition.inputs):
        return evaluate(frame, exprs)
    complete = pl.all_horizontal([pl.col(c).is_not_null() for c in definition.inputs])
    indexed = frame.select(definition.inputs).with_row_index("__row")
    present = indexed.filter(complete)
    values = evaluate(present, exprs).with_columns(present["__row"])
    return indexed.select("__row").join(values, on="__row", how="left").drop("__row")


def _input_column(role: str, dtype: pl.DataType) -> pl.Expr:
    """Every input arrives as Float64; a `time` input as epoch milliseconds."""
    import polars as pl

    column = pl.col(role)
    if role == TIME_ROLE and dtype.is_temporal():
        column = column.dt.epoch("ms")
    return column.cast(pl.Float64)


def _epoch_ms(value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return float(value.timestamp() * 1000.0)
    return float(value)


class IncrementalIndicator:
    """`update(bar)` with a mapping of input values; returns a mapping of outputs."""

    __slots__ = ("definition", "kernel", "outputs", "roles", "time_at")

    def __init__(self, definition: IndicatorDef, params: BaseModel) -> None:
        if definition.incremental is None:
            raise ConfigError([Diagnostic(Severity.ERROR, "unknown-type",
                                          f'indicator "{definition.name}" has no incremental '
                                          "form", "<api>", 1, 1)])
        self.definition = definition
        self.kernel = definition.incremental(params)
        self.roles = definition.inputs
        self.outputs = definition.outputs
        self.time_at = self.roles.index(TIME_ROLE) if TIME_ROLE in self.roles else None

    def update(self, bar: Mapping[str, Any]) -> dict[str, float | None]:
        values = [bar.get(role) for role in self.roles]
        if any(v is None for v in values):
            return dict.fromkeys(self.outputs)
        if self.time_at is not None:
            values[self.time_at] = _epoch_ms(values[self.time_at])
        return dict(zip(self.outputs, self.kernel.update(*values), strict=True))


def incremental(name: str, *, registry: Registry | None = None,
                **params: Any) -> IncrementalIndicator:
    definition = _definition(name, registry)
    return IncrementalIndicator(definition, validate_params(definition, params))
