"""`${VAR}` and `${VAR:-default}` in `venue.params` and paths, nowhere else.

Interpolation is deliberately narrow: a strategy's logic must read the same on every
machine, so only where a file lives and how a venue is reached may vary by
environment. `$${` writes a literal `${`.

`runner validate` needs no environment (CI has none): an unset variable is an error
only with `check_env` (`validate --check-env`, and every `run`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import KeyPath, SourceMap, format_path, iter_strings

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def allowed(path: KeyPath) -> bool:
    return (
        path[:2] == ("venue", "params")
        or path in (("data", "path"), ("paper", "state"), ("live", "state"))
        or (len(path) == 4 and path[0] in ("paper", "live") and path[1] == "notify"
            and path[3] == "webhook")
    )


def interpolate(data: dict[str, Any], source: SourceMap, env: Mapping[str, str],
                *, check_env: bool, diagnostics: list[Diagnostic]) -> frozenset[KeyPath]:
    """Substitute in place, adding diagnostics for misuse and unset variables.

    Returns the paths where `${` stands where it is not allowed, so later phases
    do not report the same text again (as an expression syntax error, say).
    """
    out = diagnostics
    misplaced: set[KeyPath] = set()
    for path, text in list(iter_strings(data)):
        if "${" not in text:
            continue
        if not allowed(path):
            misplaced.add(path)
            out.append(_diag(source, path, text.index("${"), "invalid-value",
                             "${...} interpolation works only in venue.params and paths",
                             "write the value itself here"))
            continue
        result, problems = _substitute(text, env, check_env)
        for offset, code, message in problems:
            out.append(_diag(source, path, offset, code, message, None))
        _set(data, path, result)
    return frozenset(misplaced)


def _substitute(text: str, env: Mapping[str, str],
                check_env: bool) -> tuple[str, list[tuple[int, str, str]]]:
    problems: list[tuple[int, str, str]] = []
    parts: list[str] = []
    last = 0
    for m in _VAR.finditer(text):
        parts.append(text[last:m.start()])
        last = m.end()
        token = m.group(0)
        if token == "$${":
            parts.append("${")
        elif m.group(1) is None:
            problems.append((m.start(), "invalid-value",
                             "malformed ${...}: expected ${NAME} or ${NAME:-default}"))
            parts.append(token)
        elif m.group(1) in env:
            parts.append(env[m.group(1)])
        elif m.group(2) is not None:
            parts.append(m.group(2))
        else:
            if check_env:
                problems.append((m.start(), "missing-env",
                                 f"environment variable {m.group(1)} is not set and has no "
                                 "default"))
            parts.append(token)
    parts.append(text[last:])
    return "".join(parts), problems


def _set(data: Any, path: KeyPath, value: str) -> None:
    cur = data
    for part in path[:-1]:
        cur = cur[part]
    cur[path[-1]] = value


def _diag(source: SourceMap, path: KeyPath, offset: int, code: str, message: str,
          hint: str | None) -> Diagnostic:
    pos = source.offset_pos(path, offset)
    return Diagnostic(Severity.ERROR, code, message, source.file, pos.line, pos.column,
                      format_path(path), hint)
