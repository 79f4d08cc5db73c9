"""Batch forms are looked up on first use, so that registering the built-in
indicators (which `runner validate` does) never imports polars or numba."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def batch(name: str, module: str) -> Callable[..., Any]:
    """The function `name` of `module`, imported when first called."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = f"{name}_batch"
    return call
