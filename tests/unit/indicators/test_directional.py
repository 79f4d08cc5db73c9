"""The directional family against TA-Lib, the recorded references, and itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import talib
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.indicators.api import compute, incremental
from tests.unit.indicators.oracle import (
    FRAMES,
    Case,
    Oracle,
    Reference,
    case_test,
    parity_test,
    reference_test,
)


def _call(fn: Any, roles: tuple[str, ...], *args: Any, index: int | None = None,
          then: Any = None) -> Oracle:
    """`fn(*inputs, *args)`, or its `index`-th output, optionally passed to `then`."""
    def oracle(d: dict[str, np.ndarray]) -> np.ndarray:
        out = fn(*(d[r] for r in roles), *args)
        out = out if index is None else out[index]
        return np.asarray(out if then is None else then(out), dtype=float)
    return oracle


def _hl(fn: Any, *args: Any, index: int | None = None) -> Oracle:
    return _call(fn, ("high", "low"), *args, index=index)


def _hlc(fn: Any, *args: Any, index: int | None = None, then: Any = None) -> Oracle:
    return _call(fn, ("high", "low", "close"), *args, index=index, then=then)


def _trend(trend: np.ndarray) -> np.ndarray:
    """TA-Lib's integer trend as our float direction: 0 (its lookback) is null."""
    out = trend.astype(float)
    out[trend == 0] = np.nan
    return out


SAREXT_KEYS = ("start_value", "offset_on_reverse", "acceleration_init_long",
               "acceleration_long", "acceleration_max_long", "acceleration_init_short",
               "acceleration_short", "acceleration_max_short")

CASES: list[Case] = [
    *(Case("plus_dm", {"period": n}, {"value": _hl(talib.PLUS_DM, n)}) for n in (14, 1, 2)),
    *(Case("minus_dm", {"period": n}, {"value": _hl(talib.MINUS_DM, n)}) for n in (14, 1, 2)),
    *(Case("plus_di", {"period": n}, {"value": _hlc(talib.PLUS_DI, n)}, "oscillator")
      for n in (14, 1, 2)),
    *(Case("minus_di", {"period": n}, {"value": _hlc(talib.MINUS_DI, n)}, "oscillator")
      for n in (14, 1, 2)),
    *(Case("dx", {"period": n}, {"value": _hlc(talib.DX, n)}, "oscillator") for n in (14, 2)),
    *(Case("adx", {"period": n}, {"value": _hlc(talib.ADX, n)}, "oscillator")
      for n in (14, 2, 30)),
    *(Case("adxr", {"period": n}, {"value": _hlc(talib.ADXR, n)}, "oscillator")
      for n in (14, 2, 30)),
    *(Case("aroon", {"period": n},
           {"up": _hl(talib.AROON, n, index=1), "down": _hl(talib.AROON, n, index=0)},
           "oscillator")
      for n in (14, 2, 25)),
    *(Case("aroonosc", {"period": n}, {"value": _hl(talib.AROONOSC, n)}, "oscillator")
      for n in (14, 2, 25)),
    *(Case("sar", {"acceleration": a, "maximum": m}, {"value": _hl(talib.SAR, a, m)})
      for a, m in ((0.02, 0.2), (0.01, 0.1), (0.05, 0.5), (0.2, 0.2))),
    *(Case("sarext", dict(zip(SAREXT_KEYS, v, strict=True)), {"value": _hl(talib.SAREXT, *v)})
      for v in ((0.0, 0.0, 0.02, 0.02, 0.2, 0.02, 0.02, 0.2),
                (0.0, 0.01, 0.01, 0.03, 0.25, 0.04, 0.01, 0.15),
                (1e-9, 0.0, 0.02, 0.02, 0.2, 0.02, 0.02, 0.2),
                (-1e9, 0.05, 0.02, 0.02, 0.2, 0.03, 0.03, 0.3))),
    *(Case("supertrend", {"period": n, "multiplier": m},
           {"line": _hlc(talib.SUPERTREND, n, m, index=0),
            "direction": _hlc(talib.SUPERTREND, n, m, index=1, then=_trend)})
      for n, m in ((10, 3.0), (2, 1.0), (20, 0.0), (7, 2.5))),
    *(Case("vortex", {"period": n},
           {"plus": _hlc(talib.VORTEX, n, index=0), "minus": _hlc(talib.VORTEX, n, index=1)},
           "unit")
      for n in (14, 1, 2, 30)),
    *(Case("vhf", {"period": n}, {"value": _call(talib.VHF, ("close",), n)}, "unit")
      for n in (28, 2, 10)),
]

REFERENCES: list[Reference] = [
    Reference("adx", {"period": 14}, "value", "adx_14", "oscillator"),
    Reference("adxr", {"period": 14}, "value", "adxr_14", "oscillator"),
    Reference("plus_di", {"period": 14}, "value", "plus_di_14", "oscillator"),
    Reference("minus_di", {"period": 14}, "value", "minus_di_14", "oscillator"),
    Reference("dx", {"period": 14}, "value", "dx_14", "oscillator"),
    Reference("aroon", {"period": 14}, "down", "aroon_down_14", "oscillator"),
    Reference("aroon", {"period": 14}, "up", "aroon_up_14", "oscillator"),
    Reference("aroonosc", {"period": 14}, "value", "aroonosc_14", "oscillator"),
    Reference("sar", {"acceleration": 0.02, "maximum": 0.2}, "value", "sar"),
]

test_equal_to_talib_on_random_walks = case_test(CASES)
test_equal_to_recorded_talib_reference = reference_test(REFERENCES)

ACCELERATION = st.floats(0.0, 0.3, allow_nan=False)


@st.composite
def _sar_params(draw: st.DrawFn) -> dict[str, Any]:
    a = draw(ACCELERATION)
    return {"acceleration": a, "maximum": draw(st.floats(a, 1.0))}


@st.composite
def _sarext_params(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {
        "start_value": draw(st.sampled_from([0.0, 0.0, 1e-6, -1e-6, 1.0, -1.0, 1e6, -1e6])),
        "offset_on_reverse": draw(st.sampled_from([0.0, 0.001, 0.05])),
    }
    for side in ("long", "short"):
        cap = draw(st.floats(0.0, 1.0))
        params[f"acceleration_init_{side}"] = draw(st.floats(0.0, cap))
        params[f"acceleration_{side}"] = draw(st.floats(0.0, cap))
        params[f"acceleration_max_{side}"] = cap
    return params


ANY_PERIOD = st.fixed_dictionaries({"period": st.integers(1, 40)})
PERIOD = st.fixed_dictionaries({"period": st.integers(2, 40)})
PARITY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **dict.fromkeys(("plus_dm", "minus_dm", "plus_di", "minus_di"), ANY_PERIOD),
    **dict.fromkeys(("dx", "adx", "adxr", "aroon", "aroonosc"), PERIOD),
    "sar": _sar_params(),
    "sarext": _sarext_params(),
    "vortex": ANY_PERIOD,
    "vhf": PERIOD,
    "supertrend": st.fixed_dictionaries({"period": st.integers(2, 40),
                                         "multiplier": st.floats(0.0, 5.0)}),
}
test_incremental_equals_batch = parity_test(PARITY, max_examples=10)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("sar", {"acceleration": 0.3, "maximum": 0.2}, "must not exceed maximum"),
    ("sarext", {"acceleration_long": 0.5}, "must not exceed acceleration_max_long"),
    ("sarext", {"acceleration_init_short": 0.3, "acceleration_max_short": 0.25},
     "must not exceed acceleration_max_short"),
    ("adx", {"period": 1}, ">= 2"),
    ("supertrend", {"multiplier": -1.0}, ">= 0"),
])
def test_bad_params_are_refused(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        incremental(name, **params)


def test_sarext_is_negative_while_short_and_sar_is_its_magnitude() -> None:
    """TA-Lib's sign convention is kept: SAREXT with SAR's settings is -SAR on short
    bars and SAR on long ones."""
    frame = FRAMES["walk"]
    ext = compute("sarext", frame)["value"].to_numpy()
    plain = compute("sar", frame)["value"].to_numpy()
    assert (ext[1:] < 0).any() and (ext[1:] > 0).any()
    assert (abs(ext[1:]) == plain[1:]).all()
