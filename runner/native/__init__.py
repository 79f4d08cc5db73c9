"""Kernels compiled ahead of time, so that a run needs no numba at all.

    k = kernel_module("runner.indicators.core.kernels")
    k.rolling_mean(close, 10)   # the compiled kernel, or numba's JIT when not built

`exports` lists what is compiled, `build` compiles it (`make setup` runs it), and
`loader` finds it at run time and checks it against the sources it came from.
"""

from runner.native.loader import kernel_module

__all__ = ["kernel_module"]
