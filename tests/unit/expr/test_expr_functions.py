"""Built-in function signatures, and their registration through the plugin hook."""

from __future__ import annotations

import pluggy
import pytest

from runner import hookspecs
from runner.definitions import FunctionDef
from runner.expr import functions
from runner.expr.functions import BUILTIN_FUNCTIONS, builtin_functions, register_functions
from runner.expr.types import ValueType

NUMBER, BOOL, TIME, STRING = ValueType.NUMBER, ValueType.BOOL, ValueType.TIME, ValueType.STRING

# name -> (parameter (name, type, default, const) tuples, returns, variadic)
EXPECTED: dict[str, tuple[list[tuple[str, object, object, bool]], object, bool]] = {
    "crosses_above": ([("a", NUMBER, None, False), ("b", NUMBER, None, False)], BOOL, False),
    "crosses_below": ([("a", NUMBER, None, False), ("b", NUMBER, None, False)], BOOL, False),
    "prev": ([("x", "any", None, False), ("n", NUMBER, 1, True)], "same", False),
    "change": ([("x", NUMBER, None, False), ("n", NUMBER, 1, True)], NUMBER, False),
    "pct_change": ([("x", NUMBER, None, False), ("n", NUMBER, 1, True)], NUMBER, False),
    "highest": ([("x", NUMBER, None, False), ("n", NUMBER, None, True)], NUMBER, False),
    "lowest": ([("x", NUMBER, None, False), ("n", NUMBER, None, True)], NUMBER, False),
    "rising": ([("x", NUMBER, None, False), ("n", NUMBER, None, True)], BOOL, False),
    "falling": ([("x", NUMBER, None, False), ("n", NUMBER, None, True)], BOOL, False),
    "bars_since": ([("cond", BOOL, None, False)], NUMBER, False),
    "abs": ([("x", NUMBER, None, False)], NUMBER, False),
    "min": ([("a", NUMBER, None, False), ("b", NUMBER, None, False)], NUMBER, True),
    "max": ([("a", NUMBER, None, False), ("b", NUMBER, None, False)], NUMBER, True),
    "round": ([("x", NUMBER, None, False), ("ndigits", NUMBER, 0, True)], NUMBER, False),
    "between": (
        [("x", NUMBER, None, False), ("lo", NUMBER, None, False), ("hi", NUMBER, None, False)],
        BOOL,
        False,
    ),
    "hour": ([("t", TIME, None, False), ("tz", STRING, "UTC", False)], NUMBER, False),
    "minute": ([("t", TIME, None, False), ("tz", STRING, "UTC", False)], NUMBER, False),
    "weekday": ([("t", TIME, None, False), ("tz", STRING, "UTC", False)], NUMBER, False),
}


def test_exactly_the_documented_builtins() -> None:
    assert [fn.name for fn in BUILTIN_FUNCTIONS] == list(EXPECTED)


@pytest.mark.parametrize("fn", BUILTIN_FUNCTIONS, ids=lambda fn: fn.name)
def test_signature(fn: FunctionDef) -> None:
    params, returns, variadic = EXPECTED[fn.name]
    assert [(p.name, p.type, p.default, p.const) for p in fn.params] == params
    assert fn.returns == returns
    assert fn.variadic is variadic


@pytest.mark.parametrize("fn", BUILTIN_FUNCTIONS, ids=lambda fn: fn.name)
def test_described_and_not_yet_implemented(fn: FunctionDef) -> None:
    assert fn.description.endswith(".")
    assert "\n" not in fn.description
    assert fn.batch is None and fn.incremental is None
    assert fn.returns != "any"


def test_crosses_above_documents_its_definition() -> None:
    assert "a > b and prev(a) <= prev(b)" in builtin_functions()["crosses_above"].description


def test_builtin_map_by_name() -> None:
    table = builtin_functions()
    assert list(table) == list(EXPECTED)
    assert all(table[name].name == name for name in table)


def test_hook_returns_the_builtins() -> None:
    assert register_functions() == BUILTIN_FUNCTIONS


def test_registers_through_pluggy() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(functions)
    results = manager.hook.register_functions()
    assert results == [BUILTIN_FUNCTIONS]
