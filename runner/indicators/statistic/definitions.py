"""Definitions of this family: params, inputs, outputs, lookback (no polars import).

Lookbacks are TA-Lib's: a window of `period` bars gives its first value at bar
`period - 1`; FOSC (the previous bar's forecast), BETA (returns need a previous
bar) and PERCENTRANK (ranks against the `period` bars before) one bar later.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from runner.definitions import IndicatorDef
from runner.indicators.params import AnyPeriod, Params, Period, define, period, period_less_one
from runner.indicators.statistic import incremental as inc


def _stat(name: str, params: type[Params], lookback: Any, kernel: Any, description: str,
          **kw: Any) -> IndicatorDef:
    kw.setdefault("group", "statistic")
    return define(name, params, lookback, kernel, description, family="statistic", **kw)


class StddevParams(Params):
    period: Period = 5
    deviations: Annotated[float, Field(gt=0, le=100,
                                       description="multiplier of the deviation "
                                                   "(TA-Lib nbdev)")] = 1.0


class VarParams(Params):
    """TA-Lib's VAR takes an nbdev argument and ignores it, so it is not offered."""

    period: AnyPeriod = 5


class Period14Params(Params):
    period: Period = 14


class Period5Params(Params):
    period: Period = 5


class Period30Params(Params):
    period: Period = 30


LongPeriod = Annotated[int, Field(ge=2, le=10_000, description="bars in the window")]


class PercentileParams(Params):
    period: LongPeriod = 30
    percentile: Annotated[float, Field(ge=0, le=100,
                                       description="percent of the window at or below the "
                                                   "result (nearest rank)")] = 50.0


class PercentRankParams(Params):
    period: LongPeriod = 100


class ZscoreParams(Params):
    period: Period = 20


_INDEX = ("; positions are bar numbers counted from the first bar the indicator saw "
          "(0-based, missing bars not counted), as TA-Lib returns them")

INDICATORS: tuple[IndicatorDef, ...] = (
    _stat("stddev", StddevParams, period_less_one, inc.Stddev,
          "population standard deviation over the window, times deviations",
          reference="TA-Lib STDDEV"),
    _stat("var", VarParams, period_less_one, inc.Var, "population variance over the window",
          reference="TA-Lib VAR"),
    _stat("avgdev", Period14Params, period_less_one, inc.Avgdev,
          "mean absolute deviation from the window mean", reference="TA-Lib AVGDEV"),
    _stat("linearreg", Period14Params, period_less_one, inc.Linearreg,
          "least-squares line over the window, at the current bar", group="overlap",
          reference="TA-Lib LINEARREG"),
    _stat("linearreg_slope", Period14Params, period_less_one, inc.LinearregSlope,
          "slope of the least-squares line over the window, per bar",
          reference="TA-Lib LINEARREG_SLOPE"),
    _stat("linearreg_angle", Period14Params, period_less_one, inc.LinearregAngle,
          "angle of the least-squares line in degrees (atan of the slope per bar)",
          reference="TA-Lib LINEARREG_ANGLE"),
    _stat("linearreg_intercept", Period14Params, period_less_one, inc.LinearregIntercept,
          "least-squares line over the window, at its oldest bar",
          reference="TA-Lib LINEARREG_INTERCEPT"),
    _stat("tsf", Period14Params, period_less_one, inc.Tsf,
          "time series forecast: the least-squares line extended one bar ahead",
          group="overlap", reference="TA-Lib TSF"),
    _stat("fosc", Period5Params, period, inc.Fosc,
          "forecast oscillator: 100 * (close - previous bar's TSF) / close",
          group="momentum", reference="TA-Lib FOSC"),
    _stat("beta", Period5Params, period, inc.Beta,
          "beta of the series' one-bar returns against the benchmark's",
          inputs=("close", "benchmark"), reference="TA-Lib BETA"),
    _stat("correl", Period30Params, period_less_one, inc.Correl,
          "Pearson correlation of the two series over the window",
          inputs=("close", "other"), reference="TA-Lib CORREL"),
    _stat("maxindex", Period30Params, period_less_one, inc.Maxindex,
          "position of the highest value in the window" + _INDEX,
          reference="TA-Lib MAXINDEX"),
    _stat("minindex", Period30Params, period_less_one, inc.Minindex,
          "position of the lowest value in the window" + _INDEX,
          reference="TA-Lib MININDEX"),
    _stat("minmax", Period30Params, period_less_one, inc.Minmax,
          "lowest and highest value in the window", outputs=("min", "max"),
          reference="TA-Lib MINMAX"),
    _stat("minmaxindex", Period30Params, period_less_one, inc.Minmaxindex,
          "positions of the lowest and highest value in the window" + _INDEX,
          outputs=("min", "max"), reference="TA-Lib MINMAXINDEX"),
    _stat("percentile", PercentileParams, period_less_one, inc.Percentile,
          "nearest-rank percentile of the window", reference="TA-Lib PERCENTILE"),
    _stat("percent_rank", PercentRankParams, period, inc.PercentRank,
          "percent of the previous period values strictly below the current one",
          reference="TA-Lib PERCENTRANK"),
    _stat("zscore", ZscoreParams, period_less_one, inc.Zscore,
          "(value - window mean) / population standard deviation; 0 on a flat window",
          reference="none (see batch.zscore)"),
)
