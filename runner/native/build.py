"""Compile the exported kernels ahead of time: `python -m runner.native.build [--if-stale]`.

numba's on-disk cache still costs a process about half a second on first use
(importing numba, then initialising its compiler before a cached kernel can load);
a 1M-bar backtest spends less than that in its kernels. `numba.pycc` turns the same
Python source into a plain C extension that imports in a millisecond and needs no
numba at run time. The floating-point code is the JIT's (no fast-math either way),
so both give bit-identical results; `tests/unit/native` checks that they do.

The build needs a C compiler. Without one it says so and exits 1, and every kernel
keeps running through the JIT: slower to start, same results.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from runner.native.exports import EXPORTS, Export
from runner.native.loader import (
    EXTENSION,
    MANIFEST,
    PACKAGE_DIR,
    ROOT,
    read_manifest,
    sources_unchanged,
)

_EXPORTS_FILE = Path(__file__).resolve().parent / "exports.py"


def module_file(module: str) -> Path | None:
    """The source file of a `runner` module (package or module), if there is one."""
    parts = module.split(".")
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def source_files(modules: list[str]) -> list[Path]:
    """The files of `modules` and of every `runner` module they import, transitively:
    what the compiled code was built from."""
    seen: dict[Path, None] = {}
    pending = list(modules)
    while pending:
        file = module_file(pending.pop())
        if file is None or file in seen:
            continue
        seen[file] = None
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            pending.extend(n for n in names if n.split(".")[0] == "runner")
    return sorted(seen)


def manifest_sources() -> dict[str, str]:
    files = {*source_files(sorted({e.module for e in EXPORTS})), _EXPORTS_FILE}
    return {f.relative_to(ROOT).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(files)}


def is_fresh() -> bool:
    """Whether the built extension matches today's sources and exports."""
    manifest = read_manifest()
    if manifest is None or manifest.get("symbols") != [e.symbol for e in EXPORTS]:
        return False
    if not sources_unchanged(manifest.get("sources", {})):
        return False
    if set(manifest.get("sources", {})) != set(manifest_sources()):
        return False
    return (PACKAGE_DIR / str(manifest.get("file", "-"))).is_file()


def _signature(export: Export) -> Any:
    """The export's full numba signature: its argument types, and the return type the
    compiler infers for them."""
    sigutils: Any = importlib.import_module("numba.core.sigutils")
    dispatcher = getattr(importlib.import_module(export.module), export.name)
    args, _ = sigutils.normalize_signature(f"void({', '.join(export.args)})")
    dispatcher.compile(args)
    return dispatcher.overloads[tuple(args)].signature


def build() -> Path:
    """Compile every export into the extension next to this module and write the
    manifest last, so a half-finished build is never mistaken for a fresh one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending-deprecation notice
        pycc: Any = importlib.import_module("numba.pycc")

        stem = EXTENSION.rpartition(".")[2]
        with tempfile.TemporaryDirectory(prefix="runner-native-") as tmp:
            cc = pycc.CC(stem)
            cc.output_dir = tmp
            cc.verbose = False
            for export in EXPORTS:
                function = getattr(importlib.import_module(export.module), export.name)
                cc.export(export.symbol, _signature(export))(function.py_func)
            cc.compile()
            (built,) = Path(tmp).glob(f"{stem}*")
            MANIFEST.unlink(missing_ok=True)
            target = PACKAGE_DIR / built.name
            shutil.move(built, target.with_suffix(".tmp"))
            os.replace(target.with_suffix(".tmp"), target)
    manifest = {"file": target.name, "symbols": [e.symbol for e in EXPORTS],
                "sources": manifest_sources()}
    tmp_manifest = MANIFEST.with_suffix(".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_manifest, MANIFEST)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing when the built kernels match the sources")
    args = parser.parse_args(argv)
    if args.if_stale and is_fresh():
        return 0
    start = time.perf_counter()
    try:
        target = build()
    except Exception as exc:  # any failure leaves the JIT in charge
        print(f"runner: compiled kernels not built ({type(exc).__name__}: {exc}); "
              "every kernel will run through numba's JIT", file=sys.stderr)
        return 1
    print(f"runner: {len(EXPORTS)} kernels compiled ahead of time into "
          f"{target.relative_to(ROOT)} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
