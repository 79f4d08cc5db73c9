"""Invariants over arbitrary input: the parser fails only in its own way, printing a tree
and parsing it back is lossless, spans are exact, and analysis never raises."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.expr import ExprSyntaxError, analyze, parse
from runner.expr.ast import (
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
    key,
    to_source,
    walk,
)
from runner.expr.errors import ISSUE_CODES
from runner.expr.lexer import KEYWORDS
from runner.expr.types import ValueType
from tests.unit.expr.support import SCOPE

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters the language uses, so random text often gets deep into the parser.
ALPHABET = [
    *"abcfnxyz_ETHUSD0123456789.@()+-*/%<>=!&|,'\" \tmhdw",
    "and ",
    "or ",
    "not ",
    "true",
    "close",
    "macd.hist",
    "prev(",
    "@1h",
]
language_text = st.lists(st.sampled_from(ALPHABET), max_size=25).map("".join)
any_text = st.one_of(language_text, st.text(max_size=30))

NUMBER_WORD = re.compile(r"\d+([eE][+-]?\d+)?")

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda word: word not in KEYWORDS
)
symbols = st.from_regex(r"[0-9A-Z][A-Z0-9]{0,5}", fullmatch=True).filter(
    lambda word: any(c.isalpha() for c in word) and not NUMBER_WORD.fullmatch(word)
)


def _name(parts: list[str]) -> Name:
    return Name(tuple(parts), tuple(0 for _ in parts), start=0, end=0)


names = st.lists(st.one_of(identifiers, symbols), min_size=1, max_size=3).map(_name)
numbers = st.floats(min_value=0, max_value=1e20, allow_nan=False, allow_infinity=False).map(
    lambda value: Number(value, start=0, end=0)
)
strings = st.text(st.characters(exclude_characters="'\n"), max_size=8).map(
    lambda value: String(value, start=0, end=0)
)
bools = st.booleans().map(lambda value: Bool(value, start=0, end=0))
timeframes = st.from_regex(r"[A-Za-z0-9_]{1,4}", fullmatch=True)

P = {"start": 0, "end": 0}


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    keywords = st.builds(lambda n, v: Keyword(n, v, **P), identifiers, children)
    return st.one_of(
        st.builds(lambda e: Unary("-", e, **P), children),
        st.builds(lambda e: Not(e, **P), children),
        st.builds(lambda e, tf: At(e, tf, **P), children, timeframes),
        st.builds(
            lambda op, a, b: Binary(op, a, b, op_start=0, **P),
            st.sampled_from("+-*/%"),
            children,
            children,
        ),
        st.builds(
            lambda op, a, b: Compare(op, a, b, op_start=0, **P),
            st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
            children,
            children,
        ),
        st.builds(
            lambda op, a, b: Logical(op, a, b, op_start=0, **P),
            st.sampled_from(["and", "or"]),
            children,
            children,
        ),
        st.builds(
            lambda f, args, kwargs: Call(f, tuple(args), tuple(kwargs), **P),
            identifiers,
            st.lists(children, max_size=3),
            st.lists(keywords, max_size=2),
        ),
    )


trees = st.recursive(st.one_of(names, numbers, strings, bools), _extend, max_leaves=12)


def _assert_spans(text: str, tree: Expr) -> None:
    for node in walk(tree):
        assert 0 <= node.start <= node.end <= len(text)
        assert key(parse(text[node.start : node.end])) == key(node)
        if isinstance(node, Name):
            for part, offset in zip(node.parts, node.offsets, strict=True):
                assert text[offset : offset + len(part)] == part


@SETTINGS
@given(any_text)
def test_parse_fails_only_with_syntax_errors_inside_the_text(text: str) -> None:
    try:
        tree = parse(text)
    except ExprSyntaxError as error:
        assert 0 <= error.start <= error.end <= len(text)
        assert error.message
        return
    reparsed = parse(to_source(tree))
    assert key(reparsed) == key(tree)
    _assert_spans(text, tree)


@SETTINGS
@given(trees)
def test_printed_trees_parse_back_to_themselves(tree: Expr) -> None:
    text = to_source(tree)
    parsed = parse(text)
    assert key(parsed) == key(tree)
    assert to_source(parsed) == text
    _assert_spans(text, parsed)


@SETTINGS
@given(trees, st.sampled_from([None, ValueType.BOOL, ValueType.NUMBER]))
def test_check_never_raises_on_any_tree(tree: Expr, expect: ValueType | None) -> None:
    text = to_source(tree)
    result = analyze(text, SCOPE, expect)
    assert result.ok == (not result.issues)
    for issue in result.issues:
        assert issue.code in ISSUE_CODES
        assert 0 <= issue.start <= issue.end <= len(text)
    assert [i.start for i in result.issues] == sorted(i.start for i in result.issues)
    if result.ok and result.tree is not None:
        assert all(node.type is not None for node in walk(result.tree))
        assert expect is None or result.type is expect


@SETTINGS
@given(any_text)
def test_analyze_never_raises(text: str) -> None:
    result = analyze(text, SCOPE, ValueType.BOOL)
    for issue in result.issues:
        assert issue.code in ISSUE_CODES
        assert 0 <= issue.start <= issue.end <= len(text)
    if result.tree is None:
        assert [i.code for i in result.issues] == ["expression-syntax"]


@SETTINGS
@given(trees)
def test_checking_preserves_structure_and_spans(tree: Expr) -> None:
    text = to_source(tree)
    parsed = parse(text)
    checked = analyze(text, SCOPE).tree
    assert checked is not None
    assert key(checked) == key(parsed)
    assert [(n.start, n.end) for n in walk(checked)] == [(n.start, n.end) for n in walk(parsed)]
