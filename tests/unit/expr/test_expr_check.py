"""Type rules, calls (arity, keywords, consts, time zones), `expect`, and the result object."""

from __future__ import annotations

import dataclasses

import pytest

from runner.definitions import FunctionDef, FunctionParam
from runner.expr import CheckedExpr, ExprIssue, Scope, analyze, check, parse
from runner.expr.ast import Call, Compare, Name, Number, String, Unary, walk
from runner.expr.errors import ISSUE_CODES
from runner.expr.scope import ParamRef, PriceRef
from runner.expr.types import ValueType
from tests.unit.expr.support import BOOL, NUMBER, SCOPE, codes, located, one_issue, run

# --- types of operators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value_type"),
    [
        ("1 + 2 * 3 - 4 / 5 % 6", NUMBER),
        ("-close", NUMBER),
        ("close > open", BOOL),
        ("close <= 1 and not enter_long or false", BOOL),
        ("enter_long == exit_long", BOOL),
        ("enter_long != true", BOOL),
        ("fast == slow", BOOL),
        ("(fast > slow) == (rsi > 50)", BOOL),
        ("time", ValueType.TIME),
        ("'UTC'", ValueType.STRING),
        ("prev(enter_long)", BOOL),
        ("prev(close, 2)", NUMBER),
        ("hour(time)", NUMBER),
    ],
)
def test_well_typed(text: str, value_type: ValueType) -> None:
    result = run(text)
    assert result.ok, [str(i) for i in result.issues]
    assert result.type is value_type


def test_every_node_is_typed_after_checking() -> None:
    result = run("crosses_above(fast, slow) and -rsi < rsi_cap * 2 and not (macd.hist@1h > 0)")
    assert result.ok
    assert result.tree is not None
    assert all(node.type is not None for node in walk(result.tree))
    assert all(node.type is None for node in walk(parse("crosses_above(fast, slow)")))


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("fast and slow > 1", "fast", '"and" needs a boolean on its left, but "fast" is a number'),
        ("enter_long or 1", "1", '"or" needs a boolean on its right, but "1" is a number'),
        ("not fast", "fast", '"not" needs a boolean, but "fast" is a number'),
        ("-enter_long > 0", "enter_long", '"-" needs a number, but "enter_long" is a boolean'),
        ("enter_long + 1 > 0", "enter_long", '"+" needs a number on its left, but'),
        ("1 * (rsi > 0 or true) > 0", "rsi > 0 or true", '"*" needs a number on its right'),
        ("enter_long < 1", "enter_long", '"<" needs a number on its left'),
        ("close >= exit_long", "exit_long", '">=" needs a number on its right'),
        ("time > 1000", "time", '">" needs a number on its left, but "time" is a time'),
        ("time == 1", "time", '"==" needs a number or a boolean on its left'),
        ("'UTC' == 1", "'UTC'", '"==" needs a number or a boolean on its left, but "UTC" is a'),
        ("close + 'x' > 0", "'x'", '"+" needs a number on its right, but "x" is a string'),
        ("fast == enter_long", "==", '"==" compares two numbers or two booleans, but "fast" is a'),
        ("true != 1", "!=", '"!=" compares two numbers or two booleans'),
    ],
)
def test_type_mismatches(text: str, where: str, message: str) -> None:
    code, pointed, got, _ = one_issue(text)
    assert (code, pointed) == ("type-mismatch", where)
    assert got.startswith(message), got


def test_mixed_equality_names_both_types() -> None:
    message = one_issue("fast == enter_long")[2]
    assert message.endswith('"fast" is a number and "enter_long" is a boolean')


def test_long_sub_expressions_are_shortened_in_messages() -> None:
    text = "(close + open + high + low + volume + hl2 + hlc3) and true"
    message = one_issue(text)[2]
    assert '..." is a number' in message
    assert len(message) < 120


def test_unknown_operands_do_not_cascade() -> None:
    assert codes("nope and other") == ["unknown-reference", "unknown-reference"]
    assert codes("-nope + unknown_fn(1) * 2 > 0") == ["unknown-reference", "unknown-reference"]


def test_all_issues_are_collected_in_source_order() -> None:
    text = "fast and fsat > slw or not 1"
    assert located(text) == [
        ("type-mismatch", "fast"),
        ("unknown-reference", "fsat"),
        ("unknown-reference", "slw"),
        ("type-mismatch", "1"),
    ]


# --- expect ------------------------------------------------------------------------------


def test_expect_boolean() -> None:
    code, where, message, _ = one_issue("close - open", BOOL)
    assert (code, where) == ("type-mismatch", "close - open")
    assert message == "expected a boolean, but this expression is a number"


def test_expect_number() -> None:
    message = one_issue("close > open", NUMBER)[2]
    assert message == "expected a number, but this expression is a boolean"


def test_expect_is_satisfied_or_unknowable() -> None:
    assert run("close > open", BOOL).ok
    assert run("close - stop_atr * atr", NUMBER).ok
    assert codes("nope", BOOL) == ["unknown-reference"]
    assert codes("unknown_fn(1)", NUMBER) == ["unknown-reference"]


def test_expect_time_rejects_a_string() -> None:
    assert codes("'x'", ValueType.TIME) == ["type-mismatch"]


# --- calls -----------------------------------------------------------------------------


def test_design_example_calls() -> None:
    result = run("crosses_above(fast, slow) and rsi < rsi_cap and macd.hist > 0", BOOL)
    assert result.ok
    assert result.type is BOOL


def test_call_carries_function_and_bound_arguments() -> None:
    result = run("prev(close)")
    tree = result.tree
    assert isinstance(tree, Call)
    assert tree.fn is SCOPE.functions["prev"]
    assert tree.bound is not None
    assert [type(arg) for arg in tree.bound] == [Name, Number]
    default = tree.bound[1]
    assert isinstance(default, Number)
    assert (default.value, default.start, default.end, default.type) == (1.0, 11, 11, NUMBER)


def test_keywords_are_bound_by_name() -> None:
    tree = run("prev(n=3, x=close)").tree
    assert isinstance(tree, Call)
    assert tree.bound is not None
    first, second = tree.bound
    assert isinstance(first, Name) and first.ref == PriceRef("close")
    assert isinstance(second, Number) and second.value == 3


def test_string_default_is_bound() -> None:
    tree = run("hour(time)").tree
    assert isinstance(tree, Call)
    assert tree.bound is not None
    assert tree.bound[1] == String("UTC", start=10, end=10, type=ValueType.STRING)


def test_variadic_extras_follow_the_parameters() -> None:
    tree = run("max(1, 2, 3, close)").tree
    assert isinstance(tree, Call)
    assert tree.bound is not None
    assert len(tree.bound) == 4
    assert tree.type is NUMBER


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"),
    [
        ("crosses_above(fast, slow, rsi)", "rsi", "crosses_above takes 2 arguments, got 3", None),
        (
            "crosses_above(fast)",
            "crosses_above(fast)",
            "crosses_above takes 2 arguments, got 1",
            'missing "b"',
        ),
        (
            "crosses_above()",
            "crosses_above()",
            "crosses_above takes 2 arguments, got 0",
            'missing "a", "b"',
        ),
        ("prev(close, 1, 2) > 0", "2", "prev takes 1 or 2 arguments, got 3", None),
        ("prev() > 0", "prev()", "prev takes 1 or 2 arguments, got 0", 'missing "x"'),
        ("min(1) > 0", "min(1)", "min takes at least 2 arguments, got 1", 'missing "b"'),
        ("abs(1, 2) > 0", "2", "abs takes 1 argument, got 2", None),
        ("bars_since() > 0", "bars_since()", "bars_since takes 1 argument, got 0", None),
        ("between(close, 1) ", "between(close, 1)", "between takes 3 arguments, got 2", None),
        ("hour(time, 'UTC', 1) > 0", "1", "hour takes 1 or 2 arguments, got 3", None),
        ("prev(close, nn=2) > 0", "nn", 'prev has no parameter named "nn"', 'did you mean "n"?'),
        ("prev(close, m=2) > 0", "m", 'prev has no parameter named "m"', None),
        ("prev(close, x=close) > 0", "x=close", 'prev got two values for "x"', None),
    ],
)
def test_arity(text: str, where: str, message: str, hint: str | None) -> None:
    code, pointed, got, got_hint = one_issue(text)
    assert (code, pointed, got) == ("arity", where, message)
    if hint is not None:
        assert got_hint == hint


def test_too_many_arguments_span_all_extras() -> None:
    assert located("abs(1, 2, 3) > 0") == [("arity", "2, 3")]


def test_arity_failure_leaves_no_binding_but_keeps_the_type() -> None:
    result = run("crosses_above(fast)")
    assert isinstance(result.tree, Call)
    assert result.tree.bound is None
    assert result.type is BOOL


def test_unknown_function() -> None:
    code, where, message, hint = one_issue("crosses_abve(fast, slow)")
    assert (code, where) == ("unknown-reference", "crosses_abve")
    assert message == 'unknown function "crosses_abve"'
    assert hint == 'did you mean "crosses_above"?'


def test_unknown_function_still_checks_its_arguments() -> None:
    result = run("nothing_like_it(fsat, 1)")
    assert [(i.code, i.message) for i in result.issues] == [
        ("unknown-reference", 'unknown function "nothing_like_it"'),
        ("unknown-reference", 'unknown name "fsat"'),
    ]
    assert result.type is None


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "crosses_above(enter_long, slow)",
            "enter_long",
            'argument "a" of crosses_above must be a number, but "enter_long" is a boolean',
        ),
        (
            "bars_since(close) > 1",
            "close",
            'argument "cond" of bars_since must be a boolean, but "close" is a number',
        ),
        ("hour(close) > 1", "close", 'argument "t" of hour must be a time, but "close" is a'),
        (
            "prev(time) > 1",
            "time",
            'argument "x" of prev must be a number or a boolean, but "time" is a time',
        ),
        ("abs(time) > 1", "time", 'argument "x" of abs must be a number, but "time" is a time'),
        ("prev('UTC') > 1", "'UTC'", 'argument "x" of prev must be a number or a boolean'),
        ("hour(time, 1) > 1", "1", 'argument "tz" of hour must be a string, but "1" is a number'),
        ("max(1, 2, enter_long) > 1", "enter_long", 'argument "b" of max must be a number'),
    ],
)
def test_argument_types(text: str, where: str, message: str) -> None:
    code, pointed, got, _ = one_issue(text)
    assert (code, pointed) == ("type-mismatch", where)
    assert got.startswith(message), got


def test_same_return_type_is_unknown_after_a_bad_argument() -> None:
    result = run("prev(time)")
    assert result.type is None


# --- const parameters ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "highest(close, 20)",
        "highest(close, fast_len)",
        "lowest(close, n=fast_len)",
        "prev(close, 2)",
        "round(close, 2)",
        "round(close, -2)",
        "round(close, ndigits=-fast_len)",
        "rising(close, 3.0) and falling(close, 1)",
    ],
)
def test_const_arguments_accepted(text: str) -> None:
    assert run(text).ok, [str(i) for i in run(text).issues]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "highest(close, fast)",
            "fast",
            "the window of highest must be a constant: a number or a param",
        ),
        (
            "highest(close, 2 * fast_len)",
            "2 * fast_len",
            "the window of highest must be a constant",
        ),
        ("lowest(close, close)", "close", "the window of lowest must be a constant"),
        ("prev(close, n=rsi)", "rsi", "the window of prev must be a constant"),
        (
            "round(close, bar_index)",
            "bar_index",
            'argument "ndigits" of round must be a constant: a number or a param',
        ),
        (
            "highest(close, 2.5)",
            "2.5",
            "the window of highest must be a whole number of at least 1, got 2.5",
        ),
        ("highest(close, 0)", "0", "the window of highest must be at least 1, got 0"),
        ("change(close, -3)", "-3", "the window of change must be at least 1, got -3"),
        ("round(close, 0.5)", "0.5", 'argument "ndigits" of round must be a whole number, got 0.5'),
        ("rising(close, --2)", "--2", "the window of rising must be a constant"),
    ],
)
def test_const_arguments_rejected(text: str, where: str, message: str) -> None:
    code, pointed, got, _ = one_issue(text)
    assert (code, pointed) == ("invalid-value", where)
    assert got.startswith(message), got


def test_const_window_hint_says_why() -> None:
    assert one_issue("highest(close, fast)")[3] == (
        "the engine sizes its state from n before the first bar"
    )


def test_const_unknown_name_is_only_reported_once() -> None:
    assert codes("highest(close, fast_ln)") == ["unknown-reference"]


def test_const_param_is_bound_as_written() -> None:
    tree = run("highest(close, -fast_len)").tree
    assert isinstance(tree, Call) and tree.bound is not None
    window = tree.bound[1]
    assert isinstance(window, Unary) and isinstance(window.operand, Name)
    assert window.operand.ref == ParamRef("fast_len")


# --- time zones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hour(time) >= 9",
        "hour(time, 'America/Chicago') > 8",
        'minute(time, "Europe/London") == 30',
        "weekday(time, tz='Asia/Tokyo') < 5",
        "hour(t=time, tz='UTC') == 0",
    ],
)
def test_valid_time_zones(text: str) -> None:
    assert run(text, BOOL).ok


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        (
            "hour(time, 'America/Chicagoo') > 8",
            "'America/Chicagoo'",
            'did you mean "America/Chicago"?',
        ),
        ("hour(time, 'utc') > 8", "'utc'", 'did you mean "UTC"?'),
        (
            "hour(time, 'america/new_york') > 8",
            "'america/new_york'",
            'did you mean "America/New_York"?',
        ),
        ("hour(time, 'Nowhere at all') > 8", "'Nowhere at all'", "use an IANA time-zone name"),
        ("hour(time, '') > 8", "''", None),
        ("hour(time, '../../etc/passwd') > 8", "'../../etc/passwd'", None),
        ("hour(time, 'America') > 8", "'America'", None),
    ],
)
def test_invalid_time_zones(text: str, where: str, hint: str | None) -> None:
    code, pointed, message, got = one_issue(text)
    assert (code, pointed) == ("invalid-value", where)
    assert message.startswith("unknown time zone")
    if hint is not None:
        assert got is not None and got.startswith(hint)


# --- plugin functions ----------------------------------------------------------------


def _with(*functions: FunctionDef) -> Scope:
    return dataclasses.replace(
        SCOPE, functions={**SCOPE.functions, **{fn.name: fn for fn in functions}}
    )


def test_plugin_function_with_any_return_has_unknown_type() -> None:
    scope = _with(FunctionDef("pick", (FunctionParam("x", "any"),), "any"))
    result = analyze("pick(close) + 1 > 0", scope)
    assert result.ok
    assert analyze("pick(close)", scope).type is None


def test_plugin_function_const_and_zone_conventions() -> None:
    fn = FunctionDef(
        "session",
        (
            FunctionParam("t", ValueType.TIME),
            FunctionParam("window", ValueType.NUMBER, const=True),
            FunctionParam("scale", ValueType.NUMBER, const=True),
            FunctionParam("tz", ValueType.STRING, "UTC"),
        ),
        ValueType.BOOL,
    )
    scope = _with(fn)
    assert analyze("session(time, 3, 0.5, 'Europe/Paris')", scope).ok
    result = analyze("session(time, 0.5, close, 'Paris')", scope)
    assert [i.code for i in result.issues] == ["invalid-value"] * 3


def test_plugin_function_without_parameters() -> None:
    scope = _with(FunctionDef("now_ok", (), ValueType.BOOL))
    assert analyze("now_ok()", scope).ok
    issue = analyze("now_ok(1)", scope).issues[0]
    assert (issue.code, issue.message) == ("arity", "now_ok takes no arguments, got 1")


def test_plugin_function_with_range_of_arguments() -> None:
    fn = FunctionDef(
        "blend",
        (
            FunctionParam("a"),
            FunctionParam("b", default=0.0),
            FunctionParam("c", default=0.0),
        ),
    )
    assert analyze("blend()", _with(fn)).issues[0].message == (
        "blend takes 1 to 3 arguments, got 0"
    )


# --- the result object ----------------------------------------------------------------


def test_checked_expr_fields() -> None:
    result = run("close > 1")
    assert isinstance(result, CheckedExpr)
    assert result.ok and result.issues == []
    assert isinstance(result.tree, Compare)
    assert result.refs == (PriceRef("close"),)


def test_check_takes_a_parsed_tree_and_leaves_it_alone() -> None:
    tree = parse("close > 1")
    result = check(tree, SCOPE, BOOL)
    assert result.ok
    assert tree.type is None
    assert result.tree is not tree


def test_analyze_turns_syntax_errors_into_one_issue() -> None:
    result = analyze("a && b", SCOPE, BOOL)
    assert not result.ok
    assert result.tree is None and result.type is None and result.refs == ()
    assert result.issues == [
        ExprIssue(
            "expression-syntax",
            'found "&&", which is not an operator here',
            2,
            4,
            'use "and" instead of "&&"',
        )
    ]


def test_issue_codes_are_the_closed_set() -> None:
    assert set(ISSUE_CODES) == {
        "expression-syntax",
        "unknown-reference",
        "type-mismatch",
        "arity",
        "invalid-value",
        "invalid-timeframe",
    }


def test_issue_str_mentions_place_and_hint() -> None:
    issue = ExprIssue("arity", "f takes 1 argument, got 2", 3, 4, "remove one")
    assert str(issue) == "f takes 1 argument, got 2 (at 3-4); remove one"
    assert str(ExprIssue("arity", "m", 0, 1)) == "m (at 0-1)"
