"""Batch forms are looked up on first use, so that registering the built-in
indicators (which `runner validate` does) never imports polars or numba."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class LazyBatch:
    """The function `name` of `module`, imported when first called."""

    __slots__ = ("_target", "module", "name")

    def __init__(self, name: str, module: str) -> None:
        self.name = name
        self.module = module
        self._target: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        if self._target is None:
            self._target = getattr(importlib.import_module(self.module), self.name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<batch form {self.module}.{self.name}>"


def batch(name: str, module: str) -> LazyBatch:
    return LazyBatch(name, module)
