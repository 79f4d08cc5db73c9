"""Name resolution: every kind of name, other instruments, timeframes, did-you-mean."""

from __future__ import annotations

import pytest

from runner.expr import (
    IndicatorInfo,
    IndicatorRef,
    ParamRef,
    PriceRef,
    Ref,
    Scope,
    SignalRef,
    StateRef,
    analyze,
)
from runner.expr.ast import At, Name
from runner.expr.scope import (
    PER_INSTRUMENT_STATE,
    PRICE_FIELDS,
    STATE_NAMES,
    timeframe_seconds,
)
from runner.expr.types import ValueType
from tests.unit.expr.support import SCOPE, one_issue, run


def resolved(text: str) -> tuple[Ref, ...]:
    result = run(text)
    assert result.ok, [str(i) for i in result.issues]
    return result.refs


# --- local names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref", "value_type"),
    [
        ("fast", IndicatorRef("fast"), ValueType.NUMBER),
        ("macd.hist", IndicatorRef("macd", "hist"), ValueType.NUMBER),
        ("rsi_cap", ParamRef("rsi_cap"), ValueType.NUMBER),
        ("enter_long", SignalRef("enter_long"), ValueType.BOOL),
        ("close", PriceRef("close"), ValueType.NUMBER),
        ("ohlc4", PriceRef("ohlc4"), ValueType.NUMBER),
        ("position", StateRef("position"), ValueType.NUMBER),
        ("equity", StateRef("equity"), ValueType.NUMBER),
        ("time", StateRef("time"), ValueType.TIME),
    ],
)
def test_bare_names(text: str, ref: Ref, value_type: ValueType) -> None:
    result = run(text)
    assert result.ok
    assert result.refs == (ref,)
    assert result.type is value_type
    assert isinstance(result.tree, Name)
    assert result.tree.ref == ref
    assert result.tree.type is value_type


@pytest.mark.parametrize("field", PRICE_FIELDS)
def test_every_price_field(field: str) -> None:
    assert resolved(field) == (PriceRef(field),)


@pytest.mark.parametrize("name", sorted(STATE_NAMES))
def test_every_state_name(name: str) -> None:
    assert run(name).type is STATE_NAMES[name]


def test_pinned_indicator_reads_its_timeframe() -> None:
    assert resolved("atr") == (IndicatorRef("atr", timeframe="1h"),)
    assert resolved("bb.upper") == (IndicatorRef("bb", "upper", timeframe="4h"),)
    # Pinned to the base timeframe is the same as not pinned.
    assert resolved("atr_base") == (IndicatorRef("atr_base"),)


def test_refs_are_in_source_order_with_repeats() -> None:
    refs = resolved("crosses_above(fast, slow) and rsi < rsi_cap and fast > 0")
    assert refs == (
        IndicatorRef("fast"),
        IndicatorRef("slow"),
        IndicatorRef("rsi"),
        ParamRef("rsi_cap"),
        IndicatorRef("fast"),
    )


def test_multi_output_indicator_used_bare() -> None:
    code, where, message, _ = one_issue("macd > 0")
    assert (code, where) == ("unknown-reference", "macd")
    assert message == '"macd" has several outputs; name one: macd.macd, macd.signal, macd.hist'


def test_multi_output_bare_is_still_a_number() -> None:
    # The type is known even though the reference is not, so no cascade of type errors.
    result = run("macd + 1 > 0")
    assert [i.code for i in result.issues] == ["unknown-reference"]


def test_unknown_output_suggests_one() -> None:
    code, where, message, hint = one_issue("macd.hsit > 0")
    assert (code, where, hint) == ("unknown-reference", "hsit", 'did you mean "hist"?')
    assert message == '"macd" has no output "hsit"'


def test_unknown_output_without_near_miss_lists_outputs() -> None:
    assert one_issue("macd.zzz > 0")[3] == "its outputs are macd, signal, hist"


def test_single_output_indicator_takes_no_suffix() -> None:
    code, where, message, hint = one_issue("fast.value > 0")
    assert (code, where, hint) == ("unknown-reference", ".value", "write fast")
    assert message == '"fast" has a single output, so it is named without ".value"'


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("close.x > 0", ".x", '"close" is a price field, so ".x" cannot follow it'),
        ("rsi_cap.y > 0", ".y", '"rsi_cap" is a param, so ".y" cannot follow it'),
        ("enter_long.z", ".z", '"enter_long" is a signal, so ".z" cannot follow it'),
        ("position.q > 0", ".q", '"position" is a state value, so ".q" cannot follow it'),
        ("macd.hist.x > 0", ".x", '"macd.hist" is an indicator output, so ".x" cannot follow'),
    ],
)
def test_names_without_parts(text: str, where: str, message: str) -> None:
    code, pointed, got, _ = one_issue(text)
    assert (code, pointed) == ("unknown-reference", where)
    assert got.startswith(message)


# --- unknown names and suggestions -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("fsat > slow", "fsat", 'did you mean "fast"?'),
        ("rsi < rsi_capp", "rsi_capp", 'did you mean "rsi_cap"?'),
        ("enter_lng", "enter_lng", 'did you mean "enter_long"?'),
        ("clsoe > 1", "clsoe", 'did you mean "close"?'),
        ("positon > 0", "positon", 'did you mean "position"?'),
        ("mcd.hist > 0", "mcd.hist", 'did you mean "macd.hist"?'),
        ("FAST > 0", "FAST", 'did you mean "fast"?'),
        ("ethusdt.close > 0", "ethusdt.close", 'did you mean "ETHUSDT.close"?'),
        ("BTCUSD > 0", "BTCUSD", 'did you mean "BTCUSDT.close"?'),
        ("qqqqqq > 0", "qqqqqq", None),
    ],
)
def test_unknown_names(text: str, where: str, hint: str | None) -> None:
    code, pointed, message, got = one_issue(text)
    assert (code, pointed, got) == ("unknown-reference", where, hint)
    assert message == f'unknown name "{where}"'


def test_every_unknown_name_is_reported() -> None:
    result = run("a > b and c")
    assert [(i.code, i.start) for i in result.issues] == [
        ("unknown-reference", 0),
        ("unknown-reference", 4),
        ("unknown-reference", 10),
    ]
    assert result.type is ValueType.BOOL


def test_suggestions_do_not_depend_on_set_order() -> None:
    hints = set()
    for names in (["abcx", "abcy"], ["abcy", "abcx"]):
        scope = Scope({}, frozenset(names), frozenset(), frozenset(), ("1m",), {})
        hints.add(analyze("abcz", scope).issues[0].hint)
    assert len(hints) == 1


# --- other instruments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("ETHUSDT.close", PriceRef("close", "ETHUSDT")),
        ("ETHUSDT.rsi", IndicatorRef("rsi", None, "ETHUSDT")),
        ("ETHUSDT.macd.hist", IndicatorRef("macd", "hist", "ETHUSDT")),
        ("ETHUSDT.atr", IndicatorRef("atr", None, "ETHUSDT", "1h")),
        ("ETHUSDT.enter_long", SignalRef("enter_long", "ETHUSDT")),
        ("ETHUSDT.position", StateRef("position", "ETHUSDT")),
        ("ETHUSDT.entry_price", StateRef("entry_price", "ETHUSDT")),
        ("6EH4.close", PriceRef("close", "6EH4")),
        ("6EH4.close@4h", PriceRef("close", "6EH4", "4h")),
        ("ETHUSDT.macd.hist@1h", IndicatorRef("macd", "hist", "ETHUSDT", "1h")),
    ],
)
def test_other_instrument(text: str, ref: Ref) -> None:
    assert resolved(text) == (ref,)


def test_per_instrument_state_list() -> None:
    assert set(PER_INSTRUMENT_STATE) == {"position", "entry_price"}


def test_unlisted_instrument() -> None:
    code, where, message, hint = one_issue("ETHUSD.close > 0")
    assert (code, where, hint) == ("unknown-reference", "ETHUSD", 'did you mean "ETHUSDT"?')
    assert message == 'instrument "ETHUSD" is not listed in instruments'


def test_unlisted_symbol_starting_with_a_digit() -> None:
    code, where, message, _ = one_issue("6EM4.close > 0")
    assert (code, where) == ("unknown-reference", "6EM4")
    assert message == 'instrument "6EM4" is not listed in instruments'


def test_instrument_alone_is_not_a_value() -> None:
    code, where, message, hint = one_issue("ETHUSDT > 0")
    assert (code, where) == ("unknown-reference", "ETHUSDT")
    assert message == '"ETHUSDT" is an instrument, not a value'
    assert hint == "name one of its values, as in ETHUSDT.close"


def test_param_is_not_per_instrument() -> None:
    code, where, message, hint = one_issue("ETHUSDT.rsi_cap > 0")
    assert (code, where, hint) == ("unknown-reference", "ETHUSDT.rsi_cap", "write rsi_cap")
    assert message == '"rsi_cap" is a param, one value for all instruments'


@pytest.mark.parametrize("name", ["equity", "cash", "bar_index", "time"])
def test_portfolio_state_is_not_per_instrument(name: str) -> None:
    code, _, message, hint = one_issue(f"ETHUSDT.{name}")
    assert code == "unknown-reference"
    assert message == f'"{name}" belongs to the whole portfolio, not to one instrument'
    assert hint == f"write {name}"


def test_unknown_name_of_an_instrument() -> None:
    code, where, message, hint = one_issue("ETHUSDT.rsii > 0")
    assert (code, where, hint) == ("unknown-reference", "rsii", 'did you mean "rsi"?')
    assert message == '"ETHUSDT" has no price field, indicator, signal or position "rsii"'


def test_instrument_suggestions_exclude_params() -> None:
    assert one_issue("ETHUSDT.rsi_ca > 0")[3] != 'did you mean "rsi_cap"?'


def test_local_name_with_capitals_is_not_an_instrument() -> None:
    scope = Scope(
        {"MA": IndicatorInfo(("a", "b"))}, frozenset(), frozenset(), frozenset(), ("1m",), {}
    )
    result = analyze("MA.a", scope)
    assert result.ok
    assert result.refs == (IndicatorRef("MA", "a"),)


# --- timeframes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tf", "seconds"),
    [("1s", 1), ("15m", 900), ("1h", 3600), ("4h", 14400), ("1d", 86400), ("1w", 604800)],
)
def test_timeframe_seconds(tf: str, seconds: int) -> None:
    assert timeframe_seconds(tf) == seconds


@pytest.mark.parametrize("tf", ["", "h", "1", "0m", "1H", "1hour", "1.5h", " 1h", "1y", "-1m"])
def test_not_timeframes(tf: str) -> None:
    assert timeframe_seconds(tf) is None


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("close@1h", PriceRef("close", None, "1h")),
        ("rsi@4h", IndicatorRef("rsi", None, None, "4h")),
        ("macd.hist@1h", IndicatorRef("macd", "hist", None, "1h")),
        ("ETHUSDT.close@4h", PriceRef("close", "ETHUSDT", "4h")),
        ("close@1m", PriceRef("close")),
        ("atr@1h", IndicatorRef("atr", None, None, "1h")),
        ("bb.lower@4h", IndicatorRef("bb", "lower", None, "4h")),
        ("atr_base@1m", IndicatorRef("atr_base")),
    ],
)
def test_at_timeframe(text: str, ref: Ref) -> None:
    result = run(text)
    assert result.ok, [str(i) for i in result.issues]
    assert result.refs == (ref,)
    assert isinstance(result.tree, At)
    assert isinstance(result.tree.operand, Name)
    assert result.tree.operand.ref == ref
    assert result.tree.type is ValueType.NUMBER


def test_base_timeframe_spelled_out_gives_the_same_ref() -> None:
    assert resolved("close@1m") == resolved("close")


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"),
    [
        ("close@1x", "@1x", '"1x" is not a timeframe', "write a count and a unit"),
        ("close@0m", "@0m", '"0m" is not a timeframe', None),
        ("close@1hour", "@1hour", '"1hour" is not a timeframe', None),
        ("close@30s", "@30s", "timeframe 30s is shorter than the base timeframe 1m", None),
        ("close@2h", "@2h", "timeframe 2h is not declared in timeframes", "add 2h to timeframes"),
        ("close@60m", "@60m", "timeframe 60m is not declared", 'did you mean "1h"?'),
        ("atr@4h", "@4h", '"atr" is computed on 1h, so it cannot be read at 4h', "drop @4h"),
        ("bb.upper@1h", "@1h", '"bb" is computed on 4h, so it cannot be read at 1h', None),
        ("rsi_cap@1h", "@1h", '"@1h" can only follow a price field or an indicator, but', None),
        ("enter_long@1h", "@1h", '"@1h" can only follow a price field or an indicator', None),
        ("position@1h", "@1h", "", None),
        ("ETHUSDT.enter_long@1h", "@1h", "", None),
        ("1@1h", "@1h", '"@1h" can only follow a price field or an indicator, not a literal', None),
        ("prev(close)@1h", "@1h", "not a function call", None),
        ("(close + 1)@1h", "@1h", "not a calculation", None),
        ("close@1h@4h", "@4h", "not a value that already has a timeframe", None),
    ],
)
def test_bad_timeframes(text: str, where: str, message: str, hint: str | None) -> None:
    result = run(text)
    assert len(result.issues) == 1, [str(i) for i in result.issues]
    issue = result.issues[0]
    assert issue.code == "invalid-timeframe"
    assert text[issue.start : issue.end] == where
    assert message in issue.message
    if hint is not None:
        assert issue.hint is not None and issue.hint.startswith(hint)
    if text.count("@") == 1:
        assert not any(isinstance(r, PriceRef | IndicatorRef) and r.timeframe for r in result.refs)


def test_timeframe_on_param_names_its_kind() -> None:
    assert one_issue("rsi_cap@1h > 0")[2].endswith('but "rsi_cap" is a param')
    assert one_issue("enter_long@1h")[2].endswith('but "enter_long" is a signal')
    assert one_issue("position@1h > 0")[2].endswith('but "position" is a state value')


def test_bad_timeframe_and_unknown_name_both_reported() -> None:
    result = run("clse@7m > 0")
    assert sorted(i.code for i in result.issues) == ["invalid-timeframe", "unknown-reference"]


def test_timeframe_on_unresolved_name_keeps_the_type() -> None:
    result = run("macd@1h > 0 and fsat@1h > 0")
    assert [i.code for i in result.issues] == ["unknown-reference", "unknown-reference"]


def test_scope_without_timeframes_rejects_every_suffix() -> None:
    scope = Scope({}, frozenset(), frozenset(), frozenset(), (), {})
    issue = analyze("close@1h", scope).issues[0]
    assert (issue.code, issue.message) == (
        "invalid-timeframe",
        "timeframe 1h is not declared in timeframes",
    )


def test_scope_fixture_sanity() -> None:
    assert SCOPE.timeframes[0] == "1m"
