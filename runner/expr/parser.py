"""Text to tree, by precedence climbing over the lexer's tokens.

Hand-written rather than generated so that every way of getting the syntax wrong
can have its own message: the point of this language is that a trader who writes
`rsi = 70` or `a && b` in a YAML file gets told what to write instead, at the
right column. Each error names what was found ("found the name "b" where an
operator was expected") and says what would fix it where that is knowable.

Grammar, loosest first:

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?     # no chains
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/" | "%") unary)*
    unary    := "-" unary | postfix
    postfix  := primary ("@" TIMEFRAME | "(" arguments ")")*
    primary  := NUMBER | STRING | "true" | "false" | name | "(" expr ")"
    name     := WORD ("." WORD)*            # no spaces around the dots

`not` is only accepted where its loose binding is what the reader sees: in
`a == not b` it would swallow more than intended, so, as in Python, it must be
parenthesized there. Comparisons do not chain: `a < b < c` means something
different in every language that allows it.
"""

from __future__ import annotations

import math
from typing import Final

from runner.expr.ast import (
    COMPARE_PRECEDENCE,
    NOT_PRECEDENCE,
    PRECEDENCE,
    UNARY_PRECEDENCE,
    At,
    Binary,
    Bool,
    Call,
    Compare,
    Expr,
    Keyword,
    Logical,
    Name,
    Not,
    Number,
    String,
    Unary,
)
from runner.expr.errors import ExprSyntaxError
from runner.expr.lexer import EOF, KEYWORD, NUM, OP, STRING, TIMEFRAME, WORD, Token, tokenize

_CHAIN_HINT: Final = "use between(x, lo, hi) or `a < b and b < c`"
_EQUALS_HINT: Final = "use == to compare"

# A parsed operand, the span of its text *including* any parentheses around it
# (which the parent's span must cover but the operand's own span must not), and
# the depth of its tree.
_Span = tuple[Expr, int, int, int]

# The checker, `to_source` and `key` recurse over the tree, and the parser over
# nesting; these bounds keep both far from Python's recursion limit, so hostile
# input gets a syntax error rather than a RecursionError. No hand-written signal
# comes near them.
MAX_DEPTH: Final = 200
MAX_NESTING: Final = 100


def describe(token: Token) -> str:
    """How an error message names a token."""
    kind = token.kind
    if kind == EOF:
        return "the end of the expression"
    if kind == WORD:
        return f'the name "{token.text}"'
    if kind == NUM:
        return f"the number {token.text}"
    if kind == STRING:
        return f"the string {token.text}"
    if kind == TIMEFRAME:
        return f'"@{token.text}"'
    return f'"{token.text}"'


class _Parser:
    __slots__ = ("index", "nesting", "text", "tok", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0
        self.tok = self.tokens[0]

    def advance(self) -> Token:
        token = self.tok
        self.index += 1
        self.tok = self.tokens[self.index]
        return token

    def too_deep(self, start: int, end: int) -> ExprSyntaxError:
        return ExprSyntaxError(
            "the expression is nested too deeply",
            start,
            end,
            "split it into several signals",
        )

    def unexpected(self, expected: str) -> ExprSyntaxError:
        """An error for the current token, which is not what the grammar needs."""
        token = self.tok
        if token.kind == EOF:
            return ExprSyntaxError(
                f"the expression ends where {expected} was expected", token.start, token.end
            )
        hint = _EQUALS_HINT if token.text == "=" and token.kind == OP else None
        return ExprSyntaxError(
            f"found {describe(token)} where {expected} was expected",
            token.start,
            token.end,
            hint,
        )

    def expression(self, min_precedence: int) -> _Span:
        tok = self.tok
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.too_deep(tok.start, tok.end)
        if tok.kind == KEYWORD and tok.text == "not":
            if min_precedence > NOT_PRECEDENCE:
                raise ExprSyntaxError(
                    'found "not" where a value was expected',
                    tok.start,
                    tok.end,
                    'put "not ..." in parentheses',
                )
            self.advance()
            operand, _, end, depth = self.expression(NOT_PRECEDENCE)
            left: Expr = Not(operand, start=tok.start, end=end)
            start = tok.start
            depth += 1
        elif tok.kind == OP and tok.text == "-":
            self.advance()
            operand, _, end, depth = self.expression(UNARY_PRECEDENCE)
            left = Unary("-", operand, start=tok.start, end=end)
            start = tok.start
            depth += 1
        else:
            left, start, end, depth = self.postfix()

        compared = False
        while True:
            tok = self.tok
            if tok.kind != OP and tok.kind != KEYWORD:
                break
            strength = PRECEDENCE.get(tok.text)
            if strength is None or strength < min_precedence:
                break
            if strength == COMPARE_PRECEDENCE:
                if compared:
                    raise ExprSyntaxError(
                        f'comparisons cannot be chained: found a second "{tok.text}"',
                        tok.start,
                        tok.end,
                        _CHAIN_HINT,
                    )
                compared = True
            self.advance()
            right, _, end, right_depth = self.expression(strength + 1)
            op = tok.text
            if strength == COMPARE_PRECEDENCE:
                left = Compare(op, left, right, start=start, end=end, op_start=tok.start)
            elif strength > COMPARE_PRECEDENCE:
                left = Binary(op, left, right, start=start, end=end, op_start=tok.start)
            else:
                left = Logical(op, left, right, start=start, end=end, op_start=tok.start)
            depth = max(depth, right_depth) + 1
        if depth > MAX_DEPTH:
            raise self.too_deep(start, end)
        self.nesting -= 1
        return left, start, end, depth

    def postfix(self) -> _Span:
        node, start, end, depth = self.primary()
        while True:
            tok = self.tok
            if tok.kind == TIMEFRAME:
                self.advance()
                if not tok.text:
                    raise ExprSyntaxError(
                        'found "@" without a timeframe after it',
                        tok.start,
                        tok.end,
                        "write a timeframe right after @, such as close@1h",
                    )
                end = tok.end
                node = At(node, tok.text, start=start, end=end)
                depth += 1
            elif tok.kind == OP and tok.text == "(":
                if not isinstance(node, Name) or len(node.parts) > 1 or start != node.start:
                    raise ExprSyntaxError(
                        f'found "(" after "{self.text[start:end]}", which is not a function name',
                        tok.start,
                        tok.end,
                        "only a function name can be called, as in highest(close, 20)",
                    )
                node, end, depth = self.call(node.parts[0], start)
            else:
                return node, start, end, depth

    def call(self, func: str, start: int) -> tuple[Call, int, int]:
        opening = self.advance()
        args: list[Expr] = []
        kwargs: list[Keyword] = []
        depth = 0
        if not (self.tok.kind == OP and self.tok.text == ")"):
            while True:
                tok = self.tok
                if tok.kind == WORD and self.tokens[self.index + 1].text == "=":
                    self.advance()
                    self.advance()
                    value, _, value_end, value_depth = self.expression(0)
                    depth = max(depth, value_depth)
                    kwargs.append(Keyword(tok.text, value, start=tok.start, end=value_end))
                else:
                    if kwargs:
                        raise ExprSyntaxError(
                            "found an argument without a name after a named one",
                            tok.start,
                            tok.end,
                            "put unnamed arguments first, as in prev(close, n=2)",
                        )
                    value, _, _, value_depth = self.expression(0)
                    depth = max(depth, value_depth)
                    args.append(value)
                tok = self.tok
                if tok.kind == OP and tok.text == ",":
                    self.advance()
                    continue
                if tok.kind == OP and tok.text == ")":
                    break
                raise self.unclosed(opening, 'a "," or ")"')
        end = self.advance().end
        return Call(func, tuple(args), tuple(kwargs), start=start, end=end), end, depth + 1

    def unclosed(self, opening: Token, expected: str) -> ExprSyntaxError:
        """At the end of the text the fault is the "(" that never closed; elsewhere
        the token that is in the way is a better place to point."""
        if self.tok.kind == EOF:
            return ExprSyntaxError(
                'found a "(" that is never closed',
                opening.start,
                opening.end,
                'add ")" where the parenthesis should end',
            )
        return self.unexpected(expected)

    def primary(self) -> _Span:
        tok = self.tok
        kind = tok.kind
        if kind == WORD:
            return self.name()
        if kind == NUM:
            self.advance()
            value = float(tok.text)
            if not math.isfinite(value):
                raise ExprSyntaxError(f"the number {tok.text} is too large", tok.start, tok.end)
            return Number(value, start=tok.start, end=tok.end), tok.start, tok.end, 1
        if kind == KEYWORD and tok.text in ("true", "false"):
            self.advance()
            node: Expr = Bool(tok.text == "true", start=tok.start, end=tok.end)
            return node, tok.start, tok.end, 1
        if kind == STRING:
            self.advance()
            node = String(tok.text[1:-1], start=tok.start, end=tok.end)
            return node, tok.start, tok.end, 1
        if kind == OP and tok.text == "(":
            self.advance()
            inner, _, _, depth = self.expression(0)
            closing = self.tok
            if not (closing.kind == OP and closing.text == ")"):
                raise self.unclosed(tok, 'an operator or ")"')
            self.advance()
            return inner, tok.start, closing.end, depth
        raise self.unexpected("a value")

    def name(self) -> _Span:
        first = self.advance()
        parts = [first.text]
        offsets = [first.start]
        end = first.end
        while self.tok.kind == OP and self.tok.text == ".":
            dot = self.advance()
            part = self.tok
            if dot.start != end or part.start != dot.end:
                raise ExprSyntaxError(
                    'found a space next to "." in a name',
                    dot.start,
                    dot.end,
                    "write dotted names without spaces, as in macd.hist",
                )
            if part.kind != WORD:
                raise ExprSyntaxError(
                    f'found {describe(part)} after "." where a name part was expected',
                    part.start,
                    part.end,
                    "write dotted names as in macd.hist or ETHUSDT.close",
                )
            self.advance()
            parts.append(part.text)
            offsets.append(part.start)
            end = part.end
        start = first.start
        return Name(tuple(parts), tuple(offsets), start=start, end=end), start, end, 1


def parse(text: str) -> Expr:
    """Parse one expression; raises `ExprSyntaxError` (and nothing else) if it is not one."""
    parser = _Parser(text)
    if parser.tok.kind == EOF:
        raise ExprSyntaxError("the expression is empty", 0, len(text))
    node = parser.expression(0)[0]
    tok = parser.tok
    if tok.kind == OP and tok.text == ")":
        raise ExprSyntaxError('found a ")" without a matching "("', tok.start, tok.end)
    if tok.kind != EOF:
        raise parser.unexpected("an operator")
    return node
