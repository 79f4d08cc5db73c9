"""The parser: tree shapes, precedence, spans, and every syntax error's message and place."""

from __future__ import annotations

import pytest

from runner.expr import ExprSyntaxError, parse
from runner.expr.ast import (
    At,
    Binary,
    Bool,
    Call,
    Compare,
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


def shape(text: str) -> str:
    """The canonical text of the parse, fully parenthesized by `to_source`'s rules."""
    return to_source(parse(text))


def syntax_error(text: str) -> ExprSyntaxError:
    with pytest.raises(ExprSyntaxError) as info:
        parse(text)
    return info.value


# --- trees -----------------------------------------------------------------------------


def test_design_example_tree() -> None:
    text = "crosses_above(fast, slow) and rsi < rsi_cap and macd.hist > 0"
    tree = parse(text)
    assert tree == Logical(
        "and",
        Logical(
            "and",
            Call(
                "crosses_above",
                (
                    Name(("fast",), (14,), start=14, end=18),
                    Name(("slow",), (20,), start=20, end=24),
                ),
                start=0,
                end=25,
            ),
            Compare(
                "<",
                Name(("rsi",), (30,), start=30, end=33),
                Name(("rsi_cap",), (36,), start=36, end=43),
                start=30,
                end=43,
                op_start=34,
            ),
            start=0,
            end=43,
            op_start=26,
        ),
        Compare(
            ">",
            Name(("macd", "hist"), (48, 53), start=48, end=57),
            Number(0.0, start=60, end=61),
            start=48,
            end=61,
            op_start=58,
        ),
        start=0,
        end=61,
        op_start=44,
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("2.5", 2.5), (".5", 0.5), ("1e-3", 0.001), ("1E3", 1000.0), ("1.", 1.0)],
)
def test_number_literals(text: str, value: float) -> None:
    assert parse(text) == Number(value, start=0, end=len(text))


def test_bool_and_string_literals() -> None:
    assert parse("true") == Bool(True, start=0, end=4)
    assert parse("false") == Bool(False, start=0, end=5)
    assert parse("'UTC'") == String("UTC", start=0, end=5)
    assert parse('"America/Chicago"') == String("America/Chicago", start=0, end=17)


@pytest.mark.parametrize(
    ("text", "parts", "offsets"),
    [
        ("close", ("close",), (0,)),
        ("macd.hist", ("macd", "hist"), (0, 5)),
        ("ETHUSDT.close", ("ETHUSDT", "close"), (0, 8)),
        ("ETHUSDT.macd.hist", ("ETHUSDT", "macd", "hist"), (0, 8, 13)),
        ("6EH4.close", ("6EH4", "close"), (0, 5)),
        ("ETHUSDT.enter_long", ("ETHUSDT", "enter_long"), (0, 8)),
    ],
)
def test_dotted_names_are_one_node(
    text: str, parts: tuple[str, ...], offsets: tuple[int, ...]
) -> None:
    assert parse(text) == Name(parts, offsets, start=0, end=len(text))


@pytest.mark.parametrize(
    ("text", "operand_end", "timeframe"),
    [("close@1h", 5, "1h"), ("ETHUSDT.close@4h", 13, "4h"), ("macd.hist@1h", 9, "1h")],
)
def test_timeframe_suffix(text: str, operand_end: int, timeframe: str) -> None:
    tree = parse(text)
    assert isinstance(tree, At)
    assert tree.timeframe == timeframe
    assert (tree.start, tree.end) == (0, len(text))
    assert (tree.operand.start, tree.operand.end) == (0, operand_end)


def test_space_before_at_is_allowed() -> None:
    assert key(parse("close @1h")) == key(parse("close@1h"))


def test_calls_with_keywords() -> None:
    tree = parse("prev(x, n=2)")
    assert tree == Call(
        "prev",
        (Name(("x",), (5,), start=5, end=6),),
        (Keyword("n", Number(2.0, start=10, end=11), start=8, end=11),),
        start=0,
        end=12,
    )
    assert parse("f()") == Call("f", (), start=0, end=3)
    assert key(parse("f ( a , b )")) == key(parse("f(a, b)"))


def test_unary_and_not() -> None:
    assert parse("-x") == Unary("-", Name(("x",), (1,), start=1, end=2), start=0, end=2)
    assert parse("not x") == Not(Name(("x",), (4,), start=4, end=5), start=0, end=5)


# --- precedence --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", "a or (b and c)"),
        ("a and b or c", "(a and b) or c"),
        ("not a and b", "(not a) and b"),
        ("not a == b", "not (a == b)"),
        ("not not a", "not (not a)"),
        ("a < b + c", "a < (b + c)"),
        ("a + b * c", "a + (b * c)"),
        ("a - b - c", "(a - b) - c"),
        ("a / b * c", "(a / b) * c"),
        ("a % b + c", "(a % b) + c"),
        ("-a * b", "(-a) * b"),
        ("-a@1h", "-(a@1h)"),
        ("- -a", "-(-a)"),
        ("a - -b", "a - (-b)"),
        ("f(a)@1h", "(f(a))@1h"),
        ("a or b or c", "(a or b) or c"),
        ("a == b and c != d", "(a == b) and (c != d)"),
        ("(a + b) * c", "(a + b) * c"),
        ("a * (b + c)", "a * (b + c)"),
        ("(a < b) == (c < d)", "(a < b) == (c < d)"),
    ],
)
def test_precedence(text: str, expected: str) -> None:
    assert key(parse(text)) == key(parse(expected))


def test_left_associativity_shape() -> None:
    tree = parse("a - b - c")
    assert isinstance(tree, Binary)
    assert isinstance(tree.left, Binary)
    assert to_source(tree) == "a - b - c"
    assert to_source(parse("a - (b - c)")) == "a - (b - c)"


def test_parentheses_belong_to_the_parent_span() -> None:
    text = "(a + b) * c"
    tree = parse(text)
    assert isinstance(tree, Binary)
    assert (tree.start, tree.end) == (0, 11)
    assert text[tree.left.start : tree.left.end] == "a + b"
    assert parse("((a))") == Name(("a",), (2,), start=2, end=3)
    call = parse("f((a))")
    assert isinstance(call, Call)
    assert (call.start, call.end) == (0, 6)


def test_operator_offsets() -> None:
    tree = parse("(a)  >=  b")
    assert isinstance(tree, Compare)
    assert (tree.start, tree.op_start, tree.end) == (0, 5, 10)


def test_every_span_reparses_to_its_node() -> None:
    text = "not (ETHUSDT.close@4h > highest(close, n=fast_len)) or -(a % 2) == b and c"
    for node in walk(parse(text)):
        assert key(parse(text[node.start : node.end])) == key(node)


def test_to_source_is_canonical() -> None:
    assert shape("a<b  and(c)") == "a < b and c"
    assert shape("prev( x ,n = 2 )") == "prev(x, n=2)"
    assert shape("2.50 + 1e3 + .5") == "2.5 + 1000 + 0.5"
    assert shape("hour(time, 'UTC')") == 'hour(time, "UTC")'
    assert shape("-(not a)") == "-(not a)"


# --- syntax errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "message", "hint"),
    [
        ("", 0, 0, "the expression is empty", None),
        ("   ", 0, 3, "the expression is empty", None),
        ("a = b", 2, 3, 'found "=" where an operator was expected', "use == to compare"),
        ("(a = b)", 3, 4, 'found "=" where an operator or ")" was expected', "use == to compare"),
        ("f(a = 1 = 2)", 8, 9, 'found "=" where a "," or ")" was expected', "use == to compare"),
        ("a < b < c", 6, 7, 'comparisons cannot be chained: found a second "<"', None),
        ("a == b != c", 7, 9, 'comparisons cannot be chained: found a second "!="', None),
        ("(a + b", 0, 1, 'found a "(" that is never closed', 'add ")" where the parenthesis'),
        ("((a) + b", 0, 1, 'found a "(" that is never closed', None),
        ("max(a, (b)", 3, 4, 'found a "(" that is never closed', None),
        ("a + b)", 5, 6, 'found a ")" without a matching "("', None),
        ("a +", 3, 3, "the expression ends where a value was expected", None),
        ("not", 3, 3, "the expression ends where a value was expected", None),
        ("f(a,", 4, 4, "the expression ends where a value was expected", None),
        ("f(a,)", 4, 5, 'found ")" where a value was expected', None),
        ("a b", 2, 3, 'found the name "b" where an operator was expected', None),
        ("a 1", 2, 3, "found the number 1 where an operator was expected", None),
        ("* a", 0, 1, 'found "*" where a value was expected', None),
        ("a + and", 4, 7, 'found "and" where a value was expected', None),
        ("x@", 1, 2, 'found "@" without a timeframe after it', "write a timeframe"),
        ("x @ 1h", 2, 3, 'found "@" without a timeframe after it', None),
        ("a == not b", 5, 8, 'found "not" where a value was expected', 'put "not ..." in'),
        ("-not b", 1, 4, 'found "not" where a value was expected', None),
        ("macd .hist", 5, 6, 'found a space next to "." in a name', "write dotted names"),
        ("macd. hist", 4, 5, 'found a space next to "." in a name', None),
        ("macd.", 5, 5, 'found the end of the expression after "."', None),
        ("macd.1", 4, 6, "found the number .1 where an operator was expected", None),
        ("a.and", 2, 5, 'found "and" after "."', None),
        ("1.5.x", 3, 4, 'found "." where an operator was expected', None),
        ("(a)(b)", 3, 4, 'found "(" after "(a)", which is not a function name', None),
        ("macd.hist(1)", 9, 10, 'found "(" after "macd.hist"', None),
        ("close@1h(2)", 8, 9, 'found "(" after "close@1h"', None),
        ("f(n=1, x)", 7, 8, "found an argument without a name after a named one", None),
        ("1e999", 0, 5, "the number 1e999 is too large", None),
        ("a && b", 2, 4, 'found "&&", which is not an operator here', 'use "and"'),
        ("a || b", 2, 4, 'found "||", which is not an operator here', 'use "or"'),
        ("!a", 0, 1, 'found "!", which is not an operator here', 'use "not"'),
        ("a $ b", 2, 3, 'found an unexpected character "$"', None),
        ('f("UTC)', 2, 3, "found a string that is never closed", None),
        ("a, b", 1, 2, 'found "," where an operator was expected', None),
        ("true false", 5, 10, 'found "false" where an operator was expected', None),
        ("f(a)(b)", 4, 5, 'found "(" after "f(a)"', None),
        ("'x' 'y'", 4, 7, "found the string 'y' where an operator was expected", None),
        ("close@1h@", 8, 9, 'found "@" without a timeframe after it', None),
    ],
)
def test_syntax_errors(text: str, start: int, end: int, message: str, hint: str | None) -> None:
    error = syntax_error(text)
    assert (error.start, error.end) == (start, end), str(error)
    assert error.message.startswith(message), error.message
    if hint is not None:
        assert error.hint is not None and error.hint.startswith(hint), error.hint


def test_chained_comparison_hint() -> None:
    assert syntax_error("0 < x < 1").hint == "use between(x, lo, hi) or `a < b and b < c`"


def test_chained_comparison_inside_not_and_parens() -> None:
    assert syntax_error("not a < b < c").start == 10
    assert syntax_error("(a < b < c)").start == 7
    # Parenthesized, a comparison may be compared again: the checker rejects the types.
    assert isinstance(parse("(a < b) < c"), Compare)
    assert isinstance(parse("a < b and b < c"), Logical)


def test_keyword_arguments_only_take_plain_names() -> None:
    error = syntax_error("f(a.b=1)")
    assert error.hint == "use == to compare"
    assert (error.start, error.end) == (5, 6)
