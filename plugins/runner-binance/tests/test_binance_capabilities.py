"""Each market is validated against its own capabilities (`capabilities_for`)."""

from __future__ import annotations

import pytest

from runner.config.validate import validate_text
from runner.plugins import load_registry

STRATEGY = """\
version: 1
name: bnspot
venue: {{exchange: binance, params: {{market: {market}}}}}
instruments: [BTCUSDT]
timeframes: [1m]
indicators:
  fast: {{type: sma, period: 2}}
orders:
  - when: fast > 0
    side: sell
    size: {{quantity: 1}}
    reduce_only: true
risk: {{allow_short: true}}
"""


@pytest.mark.parametrize(("market", "errors"), [
    ("spot", [(12, "does not support reduce-only orders"),
              (13, "does not support short positions")]),
    ("futures", []),
])
def test_spot_refuses_what_only_futures_has(market: str, errors: list[tuple[int, str]]) -> None:
    registry = load_registry(autoload=False, extra=["runner_binance.plugin"])
    result = validate_text(STRATEGY.format(market=market), "bn.yaml", registry)
    got = [(d.line, d.message) for d in result.errors]
    assert [line for line, _ in got] == [line for line, _ in errors]
    assert all(text in message for (_, message), (_, text) in zip(got, errors, strict=True))
