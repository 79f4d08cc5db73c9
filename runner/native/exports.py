"""Which numba kernels are compiled ahead of time, and for which argument types.

An export names a kernel (a `@njit` function of a kernel module) and the types of its
arguments in numba's signature syntax, restricted to what `runner.native.loader` can
check without numba:

- `f8`, `i8`, `i1`, `b1`: a float64, int64, int8 or bool scalar;
- `f8[::1]`, `f8[:, ::1]`, ...: a C-contiguous array of that dtype, 1-D or 2-D.

Only the hot kernels of a common backtest are listed: the core indicators' batch
forms, the exact sums of the run metrics and the fast path's event loop. Every other
kernel, and any call whose arguments differ from an export's types, runs through
numba's JIT as before.
Exported kernels must not write into their array arguments: read-only arrays (what
polars hands out) are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Export:
    module: str
    name: str
    args: tuple[str, ...]

    @property
    def symbol(self) -> str:
        """The function's name in the compiled extension: unique across modules."""
        return f"{self.module.removeprefix('runner.').replace('.', '_')}__{self.name}"


_CORE = "runner.indicators.core.kernels"
_F = "f8[::1]"

EXPORTS: tuple[Export, ...] = (
    Export(_CORE, "rolling_mean", (_F, "i8")),
    Export(_CORE, "rolling_sum", (_F, "i8")),
    Export(_CORE, "seeded_ewm", (_F, "i8", "f8", "i8")),
    Export(_CORE, "rolling_max", (_F, "i8")),
    Export(_CORE, "rolling_min", (_F, "i8")),
    Export(_CORE, "midpoint", (_F, "i8")),
    Export(_CORE, "midprice", (_F, _F, "i8")),
    Export(_CORE, "wma", (_F, "i8")),
    Export(_CORE, "trange", (_F, _F, _F)),
    Export(_CORE, "atr", (_F, _F, _F, "i8")),
    Export(_CORE, "natr", (_F, _F, _F, "i8")),
    Export(_CORE, "rsi", (_F, "i8")),
    Export(_CORE, "macd", (_F, "i8", "i8", "i8")),
    Export(_CORE, "bbands", (_F, "i8", "f8")),
    Export(_CORE, "stoch", (_F, _F, _F, "i8", "i8", "i8")),
    Export(_CORE, "willr", (_F, _F, _F, "i8")),
    Export(_CORE, "obv", (_F, _F)),
    Export(_CORE, "ad", (_F, _F, _F, _F)),
    Export("runner.engine.exact_sum_kernel", "exact_sum", (_F,)),
    Export("runner.engine.exact_sum_kernel", "exact_sum_sq_dev", (_F, "f8")),
    Export("runner.engine.exact_sum_kernel", "exact_sum_sq_neg", (_F,)),
    Export("runner.engine.fastpath_kernel", "run_kernel", (
        "i8", "i8",
        "i8[::1]", "i8[::1]", "b1[::1]", "f8[::1]",  # candidates: bar, pair, when, size
        "i8[::1]", "i8[::1]",  # pair: rule, symbol
        "b1[::1]", "b1[::1]", "f8[::1]", "i8[::1]", "i8[::1]", "b1[::1]",  # per rule
        "f8[:, ::1]", "f8[:, ::1]", "b1[:, ::1]", "i8[:, ::1]",  # opens, closes, fresh, index
        "f8[::1]", "f8[::1]",  # min_notional, multiplier
        "b1", "f8", "f8", "b1", "f8")),
)
"""Every ahead-of-time kernel, in build order."""
