"""`clamp(x, lo, hi)`: x limited to [lo, hi], for position sizing expressions."""

from __future__ import annotations

from typing import Any

from runner import FunctionDef, FunctionParam, ValueType


def clamp_batch(x: Any, lo: Any, hi: Any) -> Any:
    """Polars expressions in, a polars expression out."""
    return x.clip(lo, hi)


def clamp_incremental(x: float | None, lo: float | None, hi: float | None) -> float | None:
    if x is None or lo is None or hi is None:
        return None
    return min(max(x, lo), hi)


CLAMP = FunctionDef(
    "clamp",
    (FunctionParam("x", ValueType.NUMBER), FunctionParam("lo", ValueType.NUMBER),
     FunctionParam("hi", ValueType.NUMBER)),
    ValueType.NUMBER,
    description="x limited to the range [lo, hi].",
    batch=clamp_batch,
    incremental=clamp_incremental,
)
