"""Validate strategy files: load -> secrets -> interpolate -> models -> plugin blocks -> lint.

Validation never raises for a bad file and never stops at the first problem: every
phase adds diagnostics, and a later phase runs on whatever the earlier ones could
accept. Sections that failed shape validation and that nothing else refers to
(risk, backtest, data, ...) are replaced by their defaults so the semantic checks
still run on the rest of the file; if a section others refer to failed (params,
indicators, signals, instruments, timeframes), linting would only report echoes of
that failure, so it is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.config.diagnostics import Diagnostic, Severity, finalize
from runner.config.interpolate import interpolate
from runner.config.lint import LintResult, lint, unused
from runner.config.loader import KeyPath, Loaded, load_file, load_text
from runner.config.models import Strategy
from runner.config.plugin_blocks import validate_plugin_blocks
from runner.config.pydantic_errors import to_diagnostics
from runner.config.secrets import find_secrets
from runner.expr import CheckedExpr
from runner.plugins import Registry

_DROPPABLE = {"description", "venue", "data", "risk", "backtest", "bars", "paper", "live",
              "orders"}
_PLACEHOLDERS: dict[str, Any] = {"version": 1, "name": "invalid"}
_INERT_RULE: dict[str, Any] = {"when": "false", "action": "cancel_orders"}


@dataclass
class Validated:
    """One file's outcome. `strategy` is set only when the file has no errors."""

    file: str
    text: str
    diagnostics: list[Diagnostic]
    strategy: Strategy | None = None
    indicator_params: dict[str, BaseModel] = field(default_factory=dict)
    venue_params: BaseModel | None = None
    data_options: BaseModel | None = None
    expressions: dict[KeyPath, CheckedExpr] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_loaded(loaded: Loaded, registry: Registry, *, check_env: bool = False,
                    env: Mapping[str, str] | None = None) -> Validated:
    diagnostics = list(loaded.diagnostics)
    result = Validated(loaded.file, loaded.text, diagnostics)
    data = loaded.data
    if data is None:
        result.diagnostics = finalize(diagnostics)
        return result
    source = loaded.source
    diagnostics.extend(find_secrets(data, source))
    misplaced = interpolate(data, source, os.environ if env is None else env,
                            check_env=check_env, diagnostics=diagnostics)
    strategy, complete = _shape(data, loaded, diagnostics)
    if strategy is not None:
        blocks = validate_plugin_blocks(strategy, data, registry, source)
        diagnostics.extend(blocks.diagnostics)
        result.indicator_params = blocks.indicator_params
        result.venue_params = blocks.venue_params
        result.data_options = blocks.data_options
        linted: LintResult = lint(strategy, registry, source, data, skip=misplaced,
                                  venue_params=blocks.venue_params)
        diagnostics.extend(linted.diagnostics)
        result.expressions = linted.expressions
        if complete and not any(d.severity is Severity.ERROR for d in diagnostics):
            diagnostics.extend(unused(strategy, registry, source, data, linted))
    result.diagnostics = finalize(_without_echoes(diagnostics))
    if strategy is not None and complete and result.ok:
        result.strategy = strategy
    return result


def _without_echoes(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A secret-looking key is usually also an unknown key: say it once, as a secret."""
    secrets = {(d.line, d.column) for d in diagnostics if d.code == "secret-in-file"}
    return [d for d in diagnostics
            if not (d.code == "unknown-field" and (d.line, d.column) in secrets)]


def _shape(data: dict[str, Any], loaded: Loaded,
           diagnostics: list[Diagnostic]) -> tuple[Strategy | None, bool]:
    """The shape-valid strategy, possibly with failed leaf sections defaulted.

    A broken order rule is replaced by an inert one (never true, no options), so the
    other rules are still checked and no rule index shifts.
    """
    try:
        return Strategy.model_validate(data), True
    except ValidationError as exc:
        diagnostics.extend(to_diagnostics(exc, data, loaded.source, model=Strategy))
        errors = exc.errors()
    failed = {str(e["loc"][0]) for e in errors if e["loc"]}
    if not failed <= _DROPPABLE | set(_PLACEHOLDERS):
        return None, False
    partial = {k: v for k, v in data.items() if k not in failed}
    for key in failed & set(_PLACEHOLDERS):
        partial[key] = _PLACEHOLDERS[key]
    orders = data.get("orders")
    order_locs = [e["loc"] for e in errors if e["loc"][:1] == ("orders",)]
    if isinstance(orders, list) and order_locs and all(
            len(loc) > 1 and isinstance(loc[1], int) for loc in order_locs):
        bad_orders = {int(loc[1]) for loc in order_locs}
        partial["orders"] = [_INERT_RULE if i in bad_orders else rule
                             for i, rule in enumerate(orders)]
    try:
        return Strategy.model_validate(partial), False
    except ValidationError:
        return None, False


def validate_text(text: str, file: str, registry: Registry, **kw: Any) -> Validated:
    return validate_loaded(load_text(text, file), registry, **kw)


def validate_file(path: Path, registry: Registry, *, display: str | None = None,
                  **kw: Any) -> Validated:
    return validate_loaded(load_file(path, display), registry, **kw)


STRATEGY_SUFFIXES = (".yaml", ".yml")


def expand_paths(paths: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Files to validate (folders searched recursively) and paths that do not exist."""
    files: list[Path] = []
    missing: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*")
                                if f.suffix in STRATEGY_SUFFIXES and f.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(p)
    unique = list(dict.fromkeys(files))
    return unique, missing


def validate_paths(paths: Sequence[Path], registry: Registry, **kw: Any) -> list[Validated]:
    return [validate_file(p, registry, **kw) for p in paths]
