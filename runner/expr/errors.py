"""Problems found in an expression, located by character offsets.

Two shapes exist because they travel differently. A syntax error stops the parser
at once — there is no tree to keep checking — so it is an exception. Everything the
checker finds is data: it collects every problem of an expression in one pass, so a
user fixes a strategy file in one round instead of one error per `runner validate`.
`ExprSyntaxError.to_issue()` joins the two, so callers only ever report issues.

Offsets are 0-based character positions into the expression text, end exclusive,
so the config layer can add the expression's own position in the YAML file and
point at a line and column. A zero-width span (`start == end`) marks a point, such
as the end of the text when something is missing there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

IssueCode = Literal[
    "expression-syntax",
    "unknown-reference",
    "type-mismatch",
    "arity",
    "invalid-value",
    "invalid-timeframe",
]

ISSUE_CODES: Final[tuple[IssueCode, ...]] = (
    "expression-syntax",
    "unknown-reference",
    "type-mismatch",
    "arity",
    "invalid-value",
    "invalid-timeframe",
)


@dataclass(frozen=True, slots=True)
class ExprIssue:
    """One problem in an expression.

    `code` is one of `ISSUE_CODES`; tools filter and test on it, so it is stable,
    while `message` is prose for people and may be reworded. `hint` says how to fix
    the problem (often a "did you mean" suggestion) and is `None` when there is
    nothing useful to add.
    """

    code: IssueCode
    message: str
    start: int
    end: int
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.message} (at {self.start}-{self.end})"
        return f"{text}; {self.hint}" if self.hint else text


class ExprSyntaxError(ValueError):
    """The text is not an expression; raised by `parse` and never by the checker.

    It subclasses `ValueError` so code that treats any malformed input alike can
    catch it without importing this module.
    """

    message: str
    start: int
    end: int
    hint: str | None

    def __init__(self, message: str, start: int, end: int, hint: str | None = None) -> None:
        super().__init__(message, start, end, hint)
        self.message = message
        self.start = start
        self.end = end
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.message} (at {self.start}-{self.end})"
        return f"{text}; {self.hint}" if self.hint else text

    def to_issue(self) -> ExprIssue:
        return ExprIssue("expression-syntax", self.message, self.start, self.end, self.hint)
