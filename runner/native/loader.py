"""Find the ahead-of-time kernels at run time, without importing numba.

The extension `runner.native._kernels` and its manifest `_kernels.json` are written by
`python -m runner.native.build` (which `make setup` runs). The manifest lists the
source files the kernels were compiled from with their sha256; when any of them has
changed since, or the extension is missing, nothing is loaded and every kernel runs
through numba's JIT. A stale kernel would silently compute yesterday's code, so
freshness is checked on every load rather than trusted.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from runner.native.exports import EXPORTS, Export

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parents[1]
MANIFEST = PACKAGE_DIR / "_kernels.json"
EXTENSION = "runner.native._kernels"
DISABLE_ENV = "RUNNER_NATIVE"
"""Set to 0 to ignore the compiled kernels (every kernel then runs through the JIT)."""

_SCALARS: Mapping[str, Callable[[Any], bool]] = {
    "f8": lambda v: isinstance(v, float | np.floating),
    "i8": lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_),
    "i1": lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_),
    "b1": lambda v: isinstance(v, bool | np.bool_),
}
_DTYPES: Mapping[str, np.dtype[Any]] = {
    "f8": np.dtype(np.float64), "i8": np.dtype(np.int64), "i1": np.dtype(np.int8),
    "b1": np.dtype(np.bool_)}


def argument_check(spec: str) -> Callable[[Any], bool]:
    """A predicate: does a value have exactly the type `spec` (see `exports`) names?
    The compiled code trusts its arguments (a strided or float32 array would be read
    as if it were the declared type), so anything else must go to the JIT."""
    base, _, dims = spec.partition("[")
    if not dims:
        return _SCALARS[base]
    axes = dims.rstrip("]").split(",")
    dtype, ndim = _DTYPES[base], len(axes)
    if axes[-1].strip() != "::1" or any(a.strip() != ":" for a in axes[:-1]):
        raise ValueError(f"export argument {spec!r}: only C-contiguous arrays are exported")

    def check(value: Any) -> bool:
        return (type(value) is np.ndarray and value.dtype == dtype and value.ndim == ndim
                and value.flags.c_contiguous)
    return check


class Kernel:
    """An exported kernel: the compiled function when the arguments have the export's
    types, else the module's JIT dispatcher (imported then, with numba)."""

    __slots__ = ("_checks", "_compiled", "export")

    def __init__(self, export: Export, compiled: Callable[..., Any]) -> None:
        self.export = export
        self._compiled = compiled
        self._checks = tuple(argument_check(a) for a in export.args)

    def __call__(self, *args: Any) -> Any:
        checks = self._checks
        if len(args) == len(checks) and all(c(a) for c, a in zip(checks, args, strict=True)):
            return self._compiled(*args)
        return getattr(importlib.import_module(self.export.module), self.export.name)(*args)

    def __repr__(self) -> str:
        return f"<compiled kernel {self.export.module}.{self.export.name}>"


class KernelModule:
    """A kernel module's names: the compiled kernels where there are some, else (and for
    anything that is not an exported kernel) the module itself, imported on first use."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        kernel = compiled_kernels().get((self._module, name))
        value = kernel if kernel is not None else getattr(
            importlib.import_module(self._module), name)
        setattr(self, name, value)
        return value


def kernel_module(module: str) -> KernelModule:
    """`module`'s kernels, compiled ahead of time when built and fresh."""
    return KernelModule(module)


def sources_unchanged(files: Mapping[str, str]) -> bool:
    """Whether every file (path relative to the repository root -> sha256) is unchanged."""
    for rel, digest in files.items():
        try:
            data = (ROOT / rel).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != digest:
            return False
    return True


@functools.cache
def compiled_kernels() -> dict[tuple[str, str], Kernel]:
    """(module, name) -> `Kernel` for every export of a fresh build; empty when there is
    no build, it is stale, or `RUNNER_NATIVE=0`."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return {}
    manifest = read_manifest()
    if manifest is None or not sources_unchanged(manifest.get("sources", {})):
        return {}
    built = set(manifest.get("symbols", ()))
    try:
        extension: ModuleType = importlib.import_module(EXTENSION)
    except ImportError:
        return {}
    return {(e.module, e.name): Kernel(e, getattr(extension, e.symbol))
            for e in EXPORTS if e.symbol in built and hasattr(extension, e.symbol)}


def read_manifest() -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest


__all__ = ["DISABLE_ENV", "Kernel", "KernelModule", "argument_check", "compiled_kernels",
           "kernel_module", "read_manifest", "sources_unchanged"]
