"""`ExchangeDef.capabilities_for`: one plugin, several markets, each checked as itself.

`limitedx` (tests/fixtures) cannot short on spot and can on futures: the same file is
refused on one market and accepted on the other.
"""

from __future__ import annotations

from pathlib import Path

from runner.config.validate import validate_text
from runner.plugins import Registry

CASE = Path(__file__).parent / "cases" / "96_limitedx_allow_short.yaml"


def codes(registry: Registry, market: str) -> list[str]:
    text = CASE.read_text(encoding="utf-8").replace("{market: spot}", f"{{market: {market}}}")
    result = validate_text(text, str(CASE), registry)
    return [d.code for d in result.errors]


def test_each_market_is_checked_against_its_own_capabilities(registry: Registry) -> None:
    assert codes(registry, "spot") == ["unsupported-by-exchange"]
    assert codes(registry, "futures") == []
