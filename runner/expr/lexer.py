"""Split expression text into tokens that remember where they came from.

The whole lexer is one compiled regular expression with a named group per token
kind, tried in order; the first group that matches wins. One regex keeps lexing
a typical signal to a few microseconds, and the order encodes the rules that are
hard to see otherwise:

* A number is only a number when no identifier character follows it. That is how
  `6EH4` (a futures symbol) becomes one word while `1e5` stays a number, and how
  `6EH4.close` lexes as word, dot, word.
* A word starting with a digit must contain a letter; `1_000` is reported as a
  malformed number instead of being silently read as an identifier.
* `@` takes the word after it whatever it is (`@1h`, `@1hour`, `@`), so a bad
  timeframe reaches the checker, which can say what is wrong with it, and a
  missing one reaches the parser, which can say where it is missing.
* Operators from other languages (`&&`, `||`, `!`) and unclosed quotes are caught
  here with a hint in this language's words.

Whitespace is skipped (as a prefix of every match, which halves the number of
matches) but never needed: `a<b` and `a < b` lex the same.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from runner.expr.errors import ExprSyntaxError

NUM: Final = "number"
WORD: Final = "word"
KEYWORD: Final = "keyword"
STRING: Final = "string"
TIMEFRAME: Final = "timeframe"
OP: Final = "operator"
EOF: Final = "end"

KEYWORDS: Final = frozenset({"and", "or", "not", "true", "false"})


class Token(NamedTuple):
    """One token. `text` is the source text, except that a timeframe token drops
    its `@` (`@1h` has text `1h`) and a string keeps its quotes; `start`/`end` are
    offsets into the expression, end exclusive."""

    kind: str
    text: str
    start: int
    end: int


_TOKEN_RE: Final = re.compile(
    r"""\s*(?:
     (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z0-9_]))
    |(?P<word>[A-Za-z0-9_]+)
    |(?P<timeframe>@[A-Za-z0-9_]*)
    |(?P<string>"[^"\n]*"|'[^'\n]*')
    |(?P<operator><=|>=|==|!=|[-+*/%<>=(),.])
    |(?P<bad>&&|\|\||\S))
    """,
    re.VERBOSE | re.ASCII | re.DOTALL,
)

_new_tuple: Final = tuple.__new__

_FOREIGN_OPERATORS: Final = {
    "&&": 'use "and" instead of "&&"',
    "||": 'use "or" instead of "||"',
    "!": 'use "not" instead of "!"',
}


def _describe_char(char: str) -> str:
    if char.isprintable():
        return f'"{char}"'
    return f"U+{ord(char):04X}"


def _bad_token(token: str, start: int) -> ExprSyntaxError:
    hint = _FOREIGN_OPERATORS.get(token)
    if hint is not None:
        return ExprSyntaxError(
            f'found "{token}", which is not an operator here', start, start + len(token), hint
        )
    if token in "\"'":
        return ExprSyntaxError(
            "found a string that is never closed",
            start,
            start + 1,
            f"end the string with {token} on the same line",
        )
    return ExprSyntaxError(
        f"found an unexpected character {_describe_char(token)}", start, start + 1
    )


def tokenize(text: str) -> list[Token]:
    """Tokens of `text`, ending with one `EOF` token at `len(text)`.

    Raises `ExprSyntaxError` at the first character that cannot start a token.
    """
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup or "bad"
        token = match.group(kind)
        start = match.start(kind)
        end = match.end()
        if kind == WORD:
            if token in KEYWORDS:
                kind = KEYWORD
            elif token[0].isdigit() and not any(c.isalpha() for c in token):
                raise ExprSyntaxError(
                    f'found "{token}", which is not a valid number',
                    start,
                    end,
                    "write numbers like 1000, 2.5, .5 or 1e-3",
                )
        elif kind == TIMEFRAME:
            token = token[1:]
        elif kind == "bad":
            raise _bad_token(token, start)
        # tuple.__new__ skips NamedTuple's Python-level __new__: half the lexing time.
        append(_new_tuple(Token, (kind, token, start, end)))
    append(Token(EOF, "", len(text), len(text)))
    return tokens
