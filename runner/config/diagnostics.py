"""Validation problems as records, and how they are rendered.

A problem in a strategy file is a `Diagnostic`, not an exception: validation collects
all of them across all files, sorts and de-duplicates them, and only then decides the
exit code. Rendering follows compilers (`path:line:col: error[code]: message`) so that
editors and CI annotate the right line.

Codes are a closed set (`CODES`): tests and users can rely on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

CODES: dict[str, str] = {
    "yaml-syntax": "the file is not valid YAML",
    "duplicate-key": "a mapping names the same key twice",
    "empty-file": "the file has no content",
    "not-a-mapping": "the document (or a block) is not a mapping",
    "unknown-field": "a key the schema does not define",
    "missing-field": "a required key is absent",
    "invalid-value": "a value has the right type but is not allowed",
    "invalid-type": "a value has the wrong type",
    "unknown-type": "an indicator type, exchange or data source nobody registered",
    "unknown-reference": "a name that is not defined where it is used",
    "name-collision": "one name defined twice across params, indicators and signals",
    "cycle": "indicators or signals that depend on themselves",
    "type-mismatch": "a boolean where a number is needed, or the reverse",
    "expression-syntax": "an expression that does not parse",
    "arity": "a function called with the wrong arguments",
    "invalid-timeframe": "a timeframe that is not allowed here",
    "unsupported-by-exchange": "an order feature the venue does not offer",
    "secret-in-file": "a secret-looking key; secrets come from the environment",
    "missing-env": "an ${VAR} with no value and no default",
    "unused": "something defined and never used (warning)",
    "suspicious-value": "a legal value that is probably a mistake (warning)",
    "io-error": "the file cannot be read",
    "plugin-error": "a plugin failed to load",
}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at one place. `line`/`column` are 1-based; `path` is the key path."""

    severity: Severity
    code: str
    message: str
    file: str
    line: int
    column: int
    path: str = ""
    hint: str | None = None
    length: int = 1

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)

    def render_line(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.severity}[{self.code}]: {self.message}"

    def render_text(self, source_lines: Sequence[str] | None = None) -> str:
        """Compiler style: the headline, the source line with a caret, then the hint."""
        out = [self.render_line()]
        if source_lines is not None and 1 <= self.line <= len(source_lines):
            src = source_lines[self.line - 1].rstrip("\n").expandtabs(1)
            gutter = f"{self.line:>4} | "
            out.append(gutter + src)
            width = max(1, min(self.length, max(1, len(src) - self.column + 1)))
            out.append(" " * (len(gutter) - 2) + "| " + " " * (self.column - 1) + "^" * width)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def render_github(self) -> str:
        kind = "error" if self.severity is Severity.ERROR else "warning"
        text = self.message + (f" ({self.hint})" if self.hint else "")
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (
            f"::{kind} file={self.file},line={self.line},col={self.column},"
            f"title={self.code}::{text}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "hint": self.hint,
        }


def finalize(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by position and drop exact repeats (an alias can report one node twice)."""
    seen: set[tuple[object, ...]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.file, d.line, d.column, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def render_json(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    return json.dumps(
        {
            "files": files,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.as_dict() for d in diagnostics],
        },
        indent=2,
    )
