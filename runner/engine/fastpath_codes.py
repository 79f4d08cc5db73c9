"""The codes the fast path's kernel writes into its order arrays.

A module of their own, without numba: `runner.engine.fastpath` reads them while the
kernel itself may be a compiled extension (`runner.native`) that never imports
`runner.engine.fastpath_kernel`.
"""

KIND_PLACED = 0
KIND_SIZE_DROP = 1
"""Dropped by sizing (`size_order` gave a reason): the row carries the template."""
KIND_NOTIONAL_DROP = 2
"""A close order dropped by `conform` (min notional)."""
KIND_RISK_REJECT = 3
KIND_REJECTED = 4
"""Submitted and rejected by the engine (a quantity that is not finite)."""

STATUS_OPEN = 0
STATUS_FILLED = 1
STATUS_CANCELLED = 2
