"""`--set key=value`: parsing, applying to a loaded document, naming the override in
diagnostics, and the canonical form that goes into the config fingerprint."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import load_text
from runner.config.overrides import (
    Override,
    OverrideError,
    apply_overrides,
    parse_override,
    parse_overrides,
    render_text,
    validate_with_overrides,
)
from runner.engine.outputs import config_fingerprint
from runner.errors import UsageError
from runner.plugins import Registry

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sma_cross.yaml"

DOC = """\
version: 1
name: demo
params:
  fast_len: 10
indicators:
  fast: {type: sma, period: fast_len}
orders:
  - when: go
    size: {risk_pct: 1.0}
  - when: stop
risk:
  max_position: 5.0
empty:
timeframes: [1m, 1h]
"""


def applied(*texts: str, doc: str = DOC) -> dict[str, Any]:
    loaded = load_text(doc, "s.yaml")
    apply_overrides(loaded, parse_overrides(texts))
    data: dict[str, Any] = loaded.data
    return data


def usage_error(*texts: str, doc: str = DOC) -> str:
    with pytest.raises(OverrideError) as info:
        applied(*texts, doc=doc)
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


# -- parsing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("20", 20), ("-3", -3), ("0x14", 20), ("1_000", 1000), ("0.5", 0.5), ("1e3", 1000.0),
    ("true", True), ("false", False), ("null", None), ("", None), ("  ", None),
    ("abc", "abc"), ('"abc"', "abc"), ("'abc'", "abc"), ('"20"', "20"), ("yes", "yes"),
    ("08:30", "08:30"), ("2024-01-01", "2024-01-01"), ("a == b", "a == b"),
    ("close - 2 * atr", "close - 2 * atr"), ("abc # note", "abc"),
])
def test_value_is_one_yaml_1_2_scalar(raw: str, value: object) -> None:
    o = parse_override(f"params.x={raw}")
    assert o.value == value and type(o.value) is type(value)


def test_value_nan_and_infinity() -> None:
    assert math.isnan(parse_override("a=.nan").value)
    assert parse_override("a=-.inf").value == float("-inf")


def test_key_is_a_dotted_path_with_whitespace_ignored() -> None:
    assert parse_override(" orders . 0 .size.risk_pct = 0.5").path == (
        "orders", "0", "size", "risk_pct")
    assert parse_override("params.x=a=b").value == "a=b"  # split at the first "="


@pytest.mark.parametrize(("text", "problem"), [
    ("params.x", "expected key=value"),
    ("=3", "the key before '=' is empty"),
    ("  =3", "the key before '=' is empty"),
    ("params..x=1", "empty segment"),
    (".x=1", "empty segment"),
    ("params.=1", "empty segment"),
    ("params.x=[1, 2]", "the value is a list"),
    ("params.x={a: 1}", "the value is a mapping"),
    ("params.x=a: b", "the value is a mapping"),
    ('params.x="abc', "not valid YAML"),
    ("params.x=*nope", "not valid YAML"),
])
def test_malformed_overrides_are_usage_errors(text: str, problem: str) -> None:
    with pytest.raises(OverrideError) as info:
        parse_override(text)
    assert problem in str(info.value)
    assert str(info.value).startswith(f"--set {text}: ")
    assert info.value.exit_code == 2


# -- applying ----------------------------------------------------------------------------

def test_replaces_scalars_in_mappings_and_lists() -> None:
    data = applied("params.fast_len=20", "orders.0.size.risk_pct=0.5", "timeframes.1=4h",
                   "indicators.fast.period=7")
    assert data["params"]["fast_len"] == 20
    assert data["orders"][0]["size"] == {"risk_pct": 0.5}
    assert data["timeframes"] == ["1m", "4h"]
    assert data["indicators"]["fast"]["period"] == 7


def test_creates_missing_keys_and_mappings() -> None:
    data = applied("risk.max_drawdown=0.2", "backtest.fees.maker=0.001", "empty.x=1",
                   "orders.1.fraction=0.5")
    assert data["risk"] == {"max_position": 5.0, "max_drawdown": 0.2}
    assert data["backtest"] == {"fees": {"maker": 0.001}}
    assert data["empty"] == {"x": 1}  # a null on the way counts as an empty mapping
    assert data["orders"][1] == {"when": "stop", "fraction": 0.5}


def test_last_override_of_a_key_wins() -> None:
    assert applied("params.fast_len=1", "params.fast_len=2")["params"]["fast_len"] == 2


def test_a_null_may_be_set_and_then_extended() -> None:
    assert applied("params.fast_len=null", "params.fast_len.x=1")["params"] == {
        "fast_len": {"x": 1}}


@pytest.mark.parametrize(("text", "problem"), [
    ("name.x=1", 'name is a single value ("demo"), not a mapping or list'),
    ("params.fast_len.x=1", "params.fast_len is a single value (10)"),
    ("orders.2.when=go", "orders has 2 items: index 2 is out of range"),
    ("orders.-1.when=go", 'orders is a list: "-1" is not an index'),
    ("orders.00.when=go", 'orders is a list: "00" is not an index'),
    ("orders.first.when=go", 'orders is a list: "first" is not an index'),
    ("timeframes.0.x=1", "timeframes[0] is a single value"),
    ("risk=1", "risk is a mapping; --set replaces one scalar (set its keys one by one)"),
    ("timeframes=1m", "timeframes is a list; --set replaces one scalar (set its items"),
    ("orders.0=x", "orders[0] is a mapping"),
])
def test_bad_paths_are_usage_errors(text: str, problem: str) -> None:
    message = usage_error(text)
    assert message.startswith(f"--set {text}: ")
    assert problem in message


def test_a_long_value_is_shortened_in_the_message() -> None:
    message = usage_error("name.x=1", doc=DOC.replace("name: demo", "name: " + "a" * 80))
    assert "..." in message and "a" * 40 not in message


def test_nothing_is_applied_to_a_file_that_did_not_load() -> None:
    loaded = load_text("a: [", "s.yaml")
    assert apply_overrides(loaded, parse_overrides(["a=1"])) == []
    assert loaded.data is None


# -- validation names the override -------------------------------------------------------

def validate(registry: Registry, *texts: str) -> list[Diagnostic]:
    result = validate_with_overrides(EXAMPLE, registry, parse_overrides(texts))
    assert (result.strategy is None) == bool(result.errors)
    return result.diagnostics


def test_valid_overrides_validate(registry: Registry) -> None:
    result = validate_with_overrides(EXAMPLE, registry, parse_overrides(
        ["params.fast_len=5", "risk.max_daily_trades=3", "orders.0.size.risk_pct=0.5"]))
    assert result.ok and result.strategy is not None
    assert result.strategy.params["fast_len"] == 5
    assert result.strategy.risk.max_daily_trades == 3


@pytest.mark.parametrize(("text", "code"), [
    ("params.fast_len=abc", "invalid-type"),            # the params model
    ("indicators.fast.period=1", "invalid-value"),      # the indicator's own params model
    ("params.fast_len=-3", "invalid-value"),            # reported where the param is used
    ("signals.enter_long=fsat > slow", "unknown-reference"),  # an expression
    ("orders.0.stop_loss=entry_price - (", "expression-syntax"),
    ("risk.max_drawdwn=0.2", "unknown-field"),           # a created key
    ("params.new.x=1", "invalid-type"),                  # a created mapping
    ("venue.params.api_key=x", "secret-in-file"),
    ("timeframes.1=7m", "invalid-timeframe"),
])
def test_an_invalid_value_is_a_diagnostic_naming_the_override(registry: Registry, text: str,
                                                              code: str) -> None:
    diagnostics = validate(registry, text)
    assert [(d.file, d.code, d.severity) for d in diagnostics] == [
        (f"--set {text}", code, Severity.ERROR)]
    d = diagnostics[0]
    assert (d.line, d.column) == (0, 0)
    rendered = render_text(d, EXAMPLE.read_text().splitlines())
    assert rendered.splitlines()[0].startswith(f"--set {text}: error[{code}]: ")
    assert " | " not in rendered  # no line of the file is shown


def test_the_last_override_of_a_key_is_named(registry: Registry) -> None:
    diagnostics = validate(registry, "params.fast_len=1", "params.fast_len=x")
    assert [d.file for d in diagnostics] == ["--set params.fast_len=x"]


def test_problems_of_the_file_keep_their_position(registry: Registry,
                                                  tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("fill: next_open", "fill: later")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = validate_with_overrides(path, registry, parse_overrides(
        ["risk.max_drawdown=x", "signals.exit_long=nope"]))
    by_file = {d.file: d for d in result.diagnostics}
    assert set(by_file) == {"--set risk.max_drawdown=x", "--set signals.exit_long=nope",
                            str(path)}
    own = by_file[str(path)]
    assert own.code == "invalid-value" and "fill: later" in text.splitlines()[own.line - 1]
    assert render_text(own, text.splitlines()) == own.render_text(text.splitlines())


# -- the fingerprint ---------------------------------------------------------------------

def canonical(*texts: str) -> list[str]:
    return [o.canonical for o in parse_overrides(texts)]


@pytest.mark.parametrize(("a", "b"), [
    ("params.x=20", "params.x = 20"),
    ("params.x=20", " params . x=20"),
    ("params.x=20", "params.x=0x14"),
    ("params.x=20", "params.x=+20"),
    ("params.x=0.5", "params.x=.5"),
    ("params.x=true", "params.x=True"),
    ("name=abc", 'name="abc"'),
    ("name=abc", "name='abc'"),
    ("name=abc", "name=abc  # a comment"),
    ("risk.x=", "risk.x=null"),
])
def test_equivalent_overrides_share_a_canonical_form(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)
    assert config_fingerprint(b"x", canonical(a)) == config_fingerprint(b"x", canonical(b))


@pytest.mark.parametrize(("a", "b"), [
    ("params.x=20", "params.x=20.0"),
    ("params.x=20", 'params.x="20"'),
    ("params.x=20", "params.x=21"),
    ("params.x=true", 'params.x="true"'),
    ("params.x=1", "params.y=1"),
    ("risk.x=", 'risk.x=""'),
])
def test_different_overrides_differ(a: str, b: str) -> None:
    assert canonical(a) != canonical(b)
    assert config_fingerprint(b"x", canonical(a)) != config_fingerprint(b"x", canonical(b))


def test_canonical_forms() -> None:
    assert canonical("a=20", "a=0.5", "a=true", "a=", "a=abc", 'a="x\\"y"', "a=.inf",
                     "a=-.inf", "a=.nan", "a=é") == [
        "a=20", "a=0.5", "a=true", "a=null", 'a="abc"', 'a="x\\"y"', "a=.inf", "a=-.inf",
        "a=.nan", 'a="é"']


def test_fingerprint_ignores_the_order_of_independent_overrides() -> None:
    one = config_fingerprint(b"x", canonical("params.a=1", "params.b=2"))
    assert one == config_fingerprint(b"x", canonical("params.b=2", "params.a=1"))
    assert one != config_fingerprint(b"x", [])
    assert one != config_fingerprint(b"y", canonical("params.a=1", "params.b=2"))


def test_override_label_and_key() -> None:
    o = Override("p . x= 1", ("p", "x"), 1)
    assert (o.key, o.label, o.canonical) == ("p.x", "--set p . x= 1", "p.x=1")
