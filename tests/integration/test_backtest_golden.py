"""Golden end-to-end backtests: each order type, fill rule, risk limit and sizing mode
through a real strategy file, with every expected row of the output files computed by
hand from DESIGN §1/§3/§6 and the decisions written in the docstrings of
`runner.sim.matching`, `runner.sim.orders`, `runner.engine.portfolio`,
`runner.engine.sizing`, `runner.engine.risk` and `runner.engine.backtest`.

Conventions of every case (see `golden_util`):

- 1m bars of symbol BTC from 2024-01-01T00:00Z; bar i opens at `minute(i)` and closes
  (is known, and orders are decided) at `minute(i + 1)`.
- Rules fire on a known bar with `when: bar_index == k`; order ids are
  `<symbol>-<rule index>-<bar index>` and bracket children add `:sl`, `:tp`, `:trail`.
- Fees: maker 0.0002, taker 0.0004 of notional (`price * quantity * multiplier`).
- orders.csv lists every order with its final `status`: the ones sent (bracket
  children too, placed at the entry's fill) and the ones refused before the venue
  (`dropped`, `risk_reject`, `risk_halt`, `risk_flatten`, reason `<limit>: ...`).

The unit tests in tests/unit/sim check the matching engine alone; these check that a
strategy file reaches it with the right prices, sizes and risk decisions, and that the
files a user reads say what happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.plugins import Registry
from tests.integration.golden_util import (
    OHLC,
    Run,
    check_rows,
    flat,
    minute,
    prepare,
    run_case,
)

FEES = "  fees: {maker: 0.0002, taker: 0.0004}\n"
MAKER, TAKER = 0.0002, 0.0004


def backtest(cash: float = 1000, slippage_bps: float = 0, extra: str = "") -> str:
    """A `backtest:` block with the common fees."""
    return (f"backtest:\n  cash: {cash}\n{FEES}  slippage_bps: {slippage_bps}\n"
            + "".join(f"  {line}\n" for line in extra.splitlines() if line))


def buy_at(bar: int, quantity: float = 1, name: str = "entry", extra: str = "") -> str:
    """An order rule that buys `quantity` at market when bar `bar` closes."""
    text = (f"  - name: {name}\n    when: bar_index == {bar}\n    side: buy\n"
            f"    size: {{quantity: {quantity}}}\n")
    return text + "".join(f"    {line}\n" for line in extra.splitlines() if line)


def close_at(bar: int, name: str = "exit", fraction: float | None = None) -> str:
    """An `action: close` rule firing when bar `bar` closes."""
    text = f"  - name: {name}\n    when: bar_index == {bar}\n    action: close\n"
    return text + (f"    fraction: {fraction}\n" if fraction is not None else "")


def assert_flat_at_end(run: Run) -> None:
    """With no position left, equity is cash, and cash is the initial cash plus the
    trades' net PnL (portfolio: margin-style cash)."""
    last = run.equity[-1]
    assert float(last["equity"]) == pytest.approx(float(last["cash"]), rel=1e-12)
    total = sum(float(t["pnl"]) for t in run.trades)
    assert float(last["cash"]) == pytest.approx(run.summary["initial_cash"] + total, rel=1e-12)
    assert run.summary["final_equity"] == pytest.approx(float(last["equity"]), rel=1e-12)


# -- market orders, slippage, fees ---------------------------------------------------------


def test_market_at_next_open_with_slippage_and_taker_fees(tmp_path: Path,
                                                          registry: Registry) -> None:
    """Decided at bar 1's close, filled at bar 2's open stamped with bar 2's open time,
    10 bps against the taker both ways; `action: close` at bar 3 fills at bar 4's open."""
    bars: list[OHLC] = [*flat(2), (101, 101, 101, 101), (102, 102, 102, 102),
                        (104, 104, 104, 104), (104, 104, 104, 104)]
    body = ("orders:\n" + buy_at(1, 2) + close_at(3) + backtest(slippage_bps=10))
    run = run_case(tmp_path, registry, body, bars)
    entry = 101 * 1.001            # 101.101: the open plus 10 bps against a buyer
    entry_fee = entry * 2 * TAKER  # 0.0808808
    exit_ = 104 * 0.999            # 103.896: the open minus 10 bps against a seller
    exit_fee = exit_ * 2 * TAKER   # 0.0831168
    check_rows(run.orders, [
        {"id": "BTC-0-1", "side": "buy", "quantity": 2, "type": "market",
         "reduce_only": False, "placed_at": 1},
        {"id": "BTC-1-3", "side": "sell", "quantity": 2, "type": "market",
         "reduce_only": True, "placed_at": 3},
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "side": "buy", "time": minute(2), "price": entry,
         "quantity": 2, "fee": entry_fee, "liquidity": "taker", "bar_index": 2},
        {"order_id": "BTC-1-3", "side": "sell", "time": minute(4), "price": exit_,
         "quantity": 2, "fee": exit_fee, "liquidity": "taker", "bar_index": 4},
    ], "fills")
    fees = entry_fee + exit_fee
    check_rows(run.trades, [
        {"instrument": "BTC", "side": "long", "quantity": 2, "entry_time": minute(2),
         "entry_price": entry, "exit_time": minute(4), "exit_price": exit_,
         "pnl": 2 * (exit_ - entry) - fees, "fees": fees, "exit_reason": "exit"},
    ], "trades")
    # equity at bar 2's close (minute 3): cash pays the fee, 2 * (101 - 101.101) open
    check_rows(run.equity[2:3], [
        {"time": minute(3), "equity": 1000 - entry_fee + 2 * (101 - entry),
         "cash": 1000 - entry_fee},
    ], "equity")
    assert len(run.equity) == run.summary["bars"] == 6
    assert run.summary["fees"] == pytest.approx(fees, rel=1e-12)
    assert run.summary["trades"] == 1
    assert_flat_at_end(run)


def test_fill_close_fills_at_the_deciding_bars_close(tmp_path: Path,
                                                     registry: Registry) -> None:
    """`fill: close`: a market order fills at the close of the bar that decided it,
    stamped with that bar's close time and index."""
    bars: list[OHLC] = [*flat(2), (101, 101, 101, 101), (102, 103, 101, 102.5),
                        *flat(2, 104)]
    body = "orders:\n" + buy_at(1, 2) + close_at(3) + backtest(extra="fill: close")
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.fills, [
        # bar 1 closes at 100, known at minute 2
        {"order_id": "BTC-0-1", "side": "buy", "time": minute(2), "price": 100,
         "fee": 100 * 2 * TAKER, "liquidity": "taker", "bar_index": 1},
        # bar 3 closes at 102.5, known at minute 4
        {"order_id": "BTC-1-3", "side": "sell", "time": minute(4), "price": 102.5,
         "fee": 102.5 * 2 * TAKER, "liquidity": "taker", "bar_index": 3},
    ], "fills")
    fees = (100 + 102.5) * 2 * TAKER  # 0.162
    check_rows(run.trades, [{"entry_price": 100, "exit_price": 102.5, "fees": fees,
                             "pnl": 2 * 2.5 - fees, "exit_reason": "exit"}], "trades")
    # the fill happened at bar 1's close, so bar 1's equity row already has the fee
    check_rows(run.equity[1:2], [{"time": minute(2), "cash": 1000 - 100 * 2 * TAKER}],
               "equity")
    assert_flat_at_end(run)


# -- limit, stop, stop_limit ---------------------------------------------------------------

ENTRY_BARS: list[OHLC] = [*flat(2), (100, 101.5, 99.5, 100)]
"""Bars 0-2: bar 2 reaches neither 99 below nor 102 above, so an order decided at bar
1 cannot fill before bar 3."""


@pytest.mark.parametrize(("bar3", "price", "time", "why"), [
    # opens at 97, through the limit 99: fills at min(open, limit) = 97, at the open
    ((97, 98, 96, 97), 97, minute(3), "gap"),
    # opens at 100, low 98.5 touches 99: fills at min(100, 99) = 99, at the close time
    ((100, 100, 98.5, 99), 99, minute(4), "touch"),
])
def test_buy_limit(tmp_path: Path, registry: Registry, bar3: OHLC, price: float,
                   time: str, why: str) -> None:
    """A buy limit fills at the first later bar whose low reaches it, at
    `min(open, limit)`: a maker fill, with no slippage even with slippage_bps set."""
    bars = [*ENTRY_BARS, bar3, *flat(2, 99)]
    body = ("orders:\n" + buy_at(1, extra="type: limit\nprice: 99")
            + backtest(slippage_bps=10))
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [{"id": "BTC-0-1", "type": "limit", "limit_price": 99}], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "side": "buy", "time": time, "price": price,
         "quantity": 1, "fee": price * MAKER, "liquidity": "maker", "bar_index": 3},
    ], why)


@pytest.mark.parametrize(("bar3", "base", "time", "why"), [
    # high 103 reaches the trigger 102 inside the bar: fills at max(open, 102) = 102
    ((100, 103, 100, 102), 102, minute(4), "intrabar"),
    # opens at 104, above the trigger: fills at max(104, 102) = 104, at the open
    ((104, 105, 103.5, 104), 104, minute(3), "gap"),
])
def test_buy_stop(tmp_path: Path, registry: Registry, bar3: OHLC, base: float, time: str,
                  why: str) -> None:
    """A buy stop triggers when the high reaches it, fills at `max(open, trigger)` plus
    slippage (10 bps), as a taker."""
    bars = [*ENTRY_BARS, bar3, *flat(2, 104)]
    body = ("orders:\n" + buy_at(1, extra="type: stop\ntrigger: 102")
            + backtest(slippage_bps=10))
    run = run_case(tmp_path, registry, body, bars)
    price = base * 1.001
    check_rows(run.orders, [{"type": "stop", "trigger_price": 102, "limit_price": None}],
               "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "time": time, "price": price, "fee": price * TAKER,
         "liquidity": "taker", "bar_index": 3},
    ], why)


@pytest.mark.parametrize(("limit", "bar3", "fill"), [
    # trigger reached at 102 (open 100), slipped 102.102 ≤ limit 102.5: a taker fill
    (102.5, (100, 103, 100, 102), {"time": minute(4), "price": 102 * 1.001,
                                   "fee": 102 * 1.001 * TAKER, "liquidity": "taker",
                                   "bar_index": 3}),
    # limit 102.05 ≥ base 102 is marketable, but slippage (102.102) is capped at it
    (102.05, (100, 103, 100, 102), {"time": minute(4), "price": 102.05,
                                    "fee": 102.05 * TAKER, "liquidity": "taker",
                                    "bar_index": 3}),
    # opens at 104, above limit 102.5: triggered, rests as a limit; bar 4's low 102
    # reaches it: min(open 104, 102.5) = 102.5, a maker fill at bar 4's close time
    (102.5, (104, 105, 103.5, 104), {"time": minute(5), "price": 102.5,
                                     "fee": 102.5 * MAKER, "liquidity": "maker",
                                     "bar_index": 4}),
], ids=["marketable", "slippage-capped", "gap-rests"])
def test_buy_stop_limit(tmp_path: Path, registry: Registry, limit: float, bar3: OHLC,
                        fill: dict[str, object]) -> None:
    """A stop_limit triggered at 102: taker at once if its limit is marketable at the
    trigger fill price, else a resting maker limit from the next bar."""
    bars = [*ENTRY_BARS, bar3, (104, 104, 102, 102.5), *flat(1, 102.5)]
    body = ("orders:\n" + buy_at(1, extra=f"type: stop_limit\ntrigger: 102\nprice: {limit}")
            + backtest(slippage_bps=10))
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [{"type": "stop_limit", "trigger_price": 102,
                             "limit_price": limit}], "orders")
    check_rows(run.fills, [{"order_id": "BTC-0-1", "quantity": 1, **fill}], "fills")


@pytest.mark.parametrize(("extra", "bar3", "fill"), [
    # sell limit 101: opens at 103, through it: max(open, limit) = 103, maker, no slip
    ("type: limit\nprice: 101", (103, 104, 102, 103),
     {"price": 103, "time": minute(3), "liquidity": "maker", "fee": 103 * MAKER}),
    # sell limit 101 touched by the high 101.5: max(open 100, 101) = 101, at the close
    ("type: limit\nprice: 101", (100, 101.5, 100, 101),
     {"price": 101, "time": minute(4), "liquidity": "maker", "fee": 101 * MAKER}),
    # sell stop 98: opens at 96, below it: min(open, trigger) = 96, minus 10 bps
    ("type: stop\ntrigger: 98", (96, 97, 95, 96),
     {"price": 96 * 0.999, "time": minute(3), "liquidity": "taker",
      "fee": 96 * 0.999 * TAKER}),
    # sell stop 98 reached by the low 97.5: min(open 100, 98) = 98, minus 10 bps
    ("type: stop\ntrigger: 98", (100, 100, 97.5, 98),
     {"price": 98 * 0.999, "time": minute(4), "liquidity": "taker",
      "fee": 98 * 0.999 * TAKER}),
], ids=["limit-gap", "limit-touch", "stop-gap", "stop-intrabar"])
def test_sell_side_mirrors(tmp_path: Path, registry: Registry, extra: str, bar3: OHLC,
                           fill: dict[str, object]) -> None:
    """Sells mirror buys (DESIGN §3): a sell limit fills when the high reaches it at
    `max(open, limit)`, a sell stop when the low reaches it at `min(open, trigger)`
    less slippage. Bar 2 (high 100.5, low 99.5) reaches neither 101 nor 98."""
    bars = [*flat(2), (100, 100.5, 99.5, 100), bar3, *flat(2, 99)]
    rule = buy_at(1, name="short", extra=extra).replace("side: buy", "side: sell")
    body = "risk:\n  allow_short: true\norders:\n" + rule + backtest(slippage_bps=10)
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.fills, [{"order_id": "BTC-0-1", "side": "sell", "quantity": 1,
                            "bar_index": 3, **fill}], "fills")


# -- attached exits ------------------------------------------------------------------------

BRACKET = "stop_loss: entry_price - 2\ntake_profit: entry_price + 3"
ENTRY_FEE = 100 * TAKER  # the entry: 1 at bar 2's open 100


def child(parent: str, kind: str, status: str, time: str, placed_at: int,
          reason: str | None = None, quantity: float = 1, **prices: float) -> dict[str, object]:
    """The orders.csv row of a bracket child of `parent` (a long's exit: a reduce-only
    gtc sell in the OCO group `<parent>:exits`), placed when the entry filled: `time` is
    the entry's fill time and `placed_at` the bar it filled on."""
    return {"time": time, "id": f"{parent}:{kind}", "side": "sell", "quantity": quantity,
            "type": "limit" if kind == "tp" else "stop", "reduce_only": True,
            "time_in_force": "gtc", "parent_id": parent, "oco_group": f"{parent}:exits",
            "placed_at": placed_at, "status": status, "reason": reason, **prices}


@pytest.mark.parametrize(("intrabar", "bar3", "exit_fill", "reason"), [
    # low 97 ≤ stop 98 and high 104 ≥ target 103, open 100 reaches neither:
    # stop_first → the sell stop at min(open, 98) = 98, taker
    ("stop_first", (100, 104, 97, 101),
     {"order_id": "BTC-0-1:sl", "time": minute(4), "price": 98, "fee": 98 * TAKER,
      "liquidity": "taker"}, "stop_loss"),
    # target_first → the sell limit at max(open, 103) = 103, maker
    ("target_first", (100, 104, 97, 101),
     {"order_id": "BTC-0-1:tp", "time": minute(4), "price": 103, "fee": 103 * MAKER,
      "liquidity": "maker"}, "take_profit"),
    # the open 97 is already through the stop: the stop wins even under target_first,
    # at min(open 97, 98) = 97, stamped with the open time
    ("target_first", (97, 104, 96, 101),
     {"order_id": "BTC-0-1:sl", "time": minute(3), "price": 97, "fee": 97 * TAKER,
      "liquidity": "taker"}, "stop_loss"),
], ids=["stop_first", "target_first", "gap-beats-target_first"])
def test_stop_and_target_inside_one_bar(tmp_path: Path, registry: Registry, intrabar: str,
                                        bar3: OHLC, exit_fill: dict[str, float | str],
                                        reason: str) -> None:
    """Stop-loss 98 and take-profit 103 (entry 100 ∓ 2/+3) both inside bar 3: the
    `intrabar` rule picks one, unless the open already reaches a member; the other is
    cancelled (OCO), so exactly one exit fills."""
    bars = [*flat(3), bar3, *flat(2, 101)]
    body = "orders:\n" + buy_at(1, extra=BRACKET) + backtest(extra=f"intrabar: {intrabar}")
    run = run_case(tmp_path, registry, body, bars)
    # The entry row has no exit prices of its own (they are priced at its fill); the
    # children are placed when it fills at bar 2's open 100 (time minute 2, placed_at
    # 2): stop 100 - 2 = 98, target 100 + 3 = 103. The member that fills is `filled`,
    # the other `cancelled` by the OCO group.
    won = str(exit_fill["order_id"])
    lost = "BTC-0-1:tp" if won.endswith(":sl") else "BTC-0-1:sl"
    status = {won: ("filled", None), lost: ("cancelled", f"oco: {won} filled")}
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "type": "market", "stop_loss": None,
         "take_profit": None, "placed_at": 1, "status": "filled", "reason": None},
        child("BTC-0-1", "sl", status["BTC-0-1:sl"][0], minute(2), 2,
              status["BTC-0-1:sl"][1], trigger_price=98),
        child("BTC-0-1", "tp", status["BTC-0-1:tp"][0], minute(2), 2,
              status["BTC-0-1:tp"][1], limit_price=103),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "time": minute(2), "price": 100, "fee": ENTRY_FEE},
        {"side": "sell", "quantity": 1, "bar_index": 3, **exit_fill},
    ], "fills")
    price = float(exit_fill["price"])
    fees = ENTRY_FEE + float(exit_fill["fee"])
    check_rows(run.trades, [
        {"side": "long", "entry_price": 100, "exit_price": price,
         "exit_time": exit_fill["time"], "pnl": price - 100 - fees, "fees": fees,
         "exit_reason": reason},
    ], "trades")
    assert_flat_at_end(run)


def test_brackets_are_computed_from_the_entry_fill_price(tmp_path: Path,
                                                         registry: Registry) -> None:
    """README: in exits, `entry_price` is the fill price of the entry. Bar 1 closes at
    100 but the entry fills at bar 2's open 101, so the stop is 101 - 2 = 99 and the
    target 104. Bar 3 (low 98.5, high 104.5) holds both; stop_first → 99.
    (With the expected entry 100 the stop would be 98, not reached, and the target
    103 would fill instead.)"""
    bars = [*flat(2), (101, 101, 101, 101), (101, 104.5, 98.5, 101), *flat(2, 101)]
    body = "orders:\n" + buy_at(1, extra=BRACKET) + backtest()
    run = run_case(tmp_path, registry, body, bars)
    # children placed at the entry's fill (bar 2's open, minute 2): 99 and 104
    check_rows(run.orders, [
        {"id": "BTC-0-1", "stop_loss": None, "take_profit": None, "status": "filled"},
        child("BTC-0-1", "sl", "filled", minute(2), 2, trigger_price=99),
        child("BTC-0-1", "tp", "cancelled", minute(2), 2, "oco: BTC-0-1:sl filled",
              limit_price=104),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 101},
        {"order_id": "BTC-0-1:sl", "price": 99, "time": minute(4)},
    ], "fills")
    check_rows(run.trades, [{"exit_reason": "stop_loss", "exit_price": 99}], "trades")


def test_limit_entry_brackets_use_the_gapped_fill_price(tmp_path: Path,
                                                        registry: Registry) -> None:
    """The buy limit 99 fills at the gapped open 97, so its exits are 97 - 2 = 95 and
    97 + 3 = 100 (README: `entry_price` is the fill price). Bar 3's low 96 stays above
    95; bar 4 reaches 100 → take_profit at max(open 97, 100) = 100. (Computed from
    the limit price they would be 97 and 102, and bar 3 itself would stop out.)"""
    bars = [*ENTRY_BARS, (97, 98, 96, 97), (97, 100.5, 96.5, 100), *flat(2, 100)]
    body = "orders:\n" + buy_at(1, extra="type: limit\nprice: 99\n" + BRACKET) + backtest()
    run = run_case(tmp_path, registry, body, bars)
    # the limit fills at bar 3's open (minute 3): the children are placed then, at 95
    # and 100, and may fill on bar 3 itself (the whole bar lies after an open fill)
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "type": "limit", "limit_price": 99,
         "stop_loss": None, "take_profit": None, "status": "filled"},
        child("BTC-0-1", "sl", "cancelled", minute(3), 3, "oco: BTC-0-1:tp filled",
              trigger_price=95),
        child("BTC-0-1", "tp", "filled", minute(3), 3, limit_price=100),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 97, "time": minute(3)},
        {"order_id": "BTC-0-1:tp", "price": 100, "time": minute(5)},
    ], "fills")


def test_brackets_after_a_fill_close_entry(tmp_path: Path, registry: Registry) -> None:
    """`fill: close`: the entry fills at bar 1's close 100, so its exits (98 / 103)
    work from bar 2 on; bar 2's high 103.5 reaches the target: 103, maker, at bar 2's
    close time."""
    bars = [*flat(2), (100, 103.5, 99, 101), *flat(2, 101)]
    body = "orders:\n" + buy_at(1, extra=BRACKET) + backtest(extra="fill: close")
    run = run_case(tmp_path, registry, body, bars)
    # the entry fills at its placement (bar 1's close, minute 2): so do the children
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "placed_at": 1, "status": "filled"},
        child("BTC-0-1", "sl", "cancelled", minute(2), 1, "oco: BTC-0-1:tp filled",
              trigger_price=98),
        child("BTC-0-1", "tp", "filled", minute(2), 1, limit_price=103),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100, "time": minute(2), "bar_index": 1},
        {"order_id": "BTC-0-1:tp", "price": 103, "time": minute(3), "bar_index": 2,
         "liquidity": "maker"},
    ], "fills")
    check_rows(run.trades, [{"exit_reason": "take_profit"}], "trades")


def test_trailing_stop_ratchets_and_fills(tmp_path: Path, registry: Registry) -> None:
    """`trailing_stop: 2` on an entry filled at 100: the sell stop starts at 98, bar 3's
    high 105 moves it to 103 for bar 4 (not within bar 3), bar 4's low 102 reaches it:
    fills at min(open 104, 103) = 103, taker, at bar 4's close time."""
    bars = [*flat(3), (101, 105, 101, 104), (104, 104.5, 102, 102.5), *flat(1, 102.5)]
    body = "orders:\n" + buy_at(1, extra="trailing_stop: 2") + backtest()
    run = run_case(tmp_path, registry, body, bars)
    # the trailing child is placed at the entry's fill (minute 2, bar 2) with its
    # first trigger 100 - 2 = 98 and `trail` 2; the entry row carries no exit price
    check_rows(run.orders, [
        {"id": "BTC-0-1", "trailing_stop": None, "status": "filled"},
        child("BTC-0-1", "trail", "filled", minute(2), 2, trigger_price=98, trail=2),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100, "time": minute(2)},
        {"order_id": "BTC-0-1:trail", "side": "sell", "price": 103, "time": minute(5),
         "fee": 103 * TAKER, "liquidity": "taker", "bar_index": 4},
    ], "fills")
    fees = (100 + 103) * TAKER
    check_rows(run.trades, [{"exit_price": 103, "pnl": 3 - fees, "fees": fees,
                             "exit_reason": "trailing_stop"}], "trades")


# -- close, expiry, time in force, reduce_only ------------------------------------------


def test_partial_close_then_the_rest(tmp_path: Path, registry: Registry) -> None:
    """Buy 2 at 100; `fraction: 0.5` sells 1 at bar 4's open 104; a full close sells the
    other 1 at bar 6's open 106. One round trip: quantity 2, the average exit 105, the
    reason and time of the last exit, and every fee."""
    bars = [*flat(3), *flat(1, 102), *flat(1, 104), *flat(1, 105), *flat(2, 106)]
    body = ("orders:\n" + buy_at(1, 2) + close_at(3, "half", 0.5) + close_at(5, "rest")
            + backtest())
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [
        {"id": "BTC-0-1", "side": "buy", "quantity": 2},
        {"id": "BTC-1-3", "side": "sell", "quantity": 1, "reduce_only": True},
        {"id": "BTC-2-5", "side": "sell", "quantity": 1, "reduce_only": True},
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100, "quantity": 2, "fee": 200 * TAKER},
        {"order_id": "BTC-1-3", "price": 104, "quantity": 1, "time": minute(4),
         "fee": 104 * TAKER},
        {"order_id": "BTC-2-5", "price": 106, "quantity": 1, "time": minute(6),
         "fee": 106 * TAKER},
    ], "fills")
    fees = (200 + 104 + 106) * TAKER  # 0.164
    check_rows(run.trades, [
        {"side": "long", "quantity": 2, "entry_price": 100, "exit_price": 105,
         "entry_time": minute(2), "exit_time": minute(6), "pnl": 4 + 6 - fees,
         "fees": fees, "exit_reason": "rest"},
    ], "trades")
    # after bar 4 (row time minute 5): 1 left at 100 marked at 104; 4 realized
    cash = 1000 + 4 - (200 + 104) * TAKER
    check_rows(run.equity[4:5], [{"time": minute(5), "cash": cash, "equity": cash + 4}],
               "equity")
    assert_flat_at_end(run)


@pytest.mark.parametrize(("dip_bar", "fills"), [
    (3, [{"order_id": "BTC-0-1", "price": 95, "time": minute(4), "bar_index": 3}]),
    (4, []),
])
def test_expire_after(tmp_path: Path, registry: Registry, dip_bar: int,
                      fills: list[dict[str, object]]) -> None:
    """A buy limit 95 placed at bar 1 with `expire_after: 2` may fill on bars 2 and 3
    only: a dip to 94 on bar 3 fills it at 95, the same dip on bar 4 finds it expired."""
    bars: list[OHLC] = [*flat(2), (100, 100, 96, 97), (97, 97, 96, 97), (97, 97, 96, 97),
                        (97, 97, 96, 97)]
    bars[dip_bar] = (97, 97, 94, 96)
    body = ("orders:\n" + buy_at(1, extra="type: limit\nprice: 95\nexpire_after: 2")
            + backtest())
    run = run_case(tmp_path, registry, body, bars)
    # one row either way; its final status says what happened to it
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "expire_after": 2, "placed_at": 1,
         "status": "filled" if fills else "expired",
         "reason": None if fills else "expire_after 2 bars"},
    ], "orders")
    check_rows(run.fills, fills, "fills")
    assert run.log.get("expired", 0) == (0 if fills else 1)


@pytest.mark.parametrize(("bar2", "bar3", "fills"), [
    ((100, 100, 98.5, 99), (99, 99, 99, 99),
     [{"order_id": "BTC-0-1", "price": 99, "time": minute(3), "liquidity": "maker"}]),
    ((100, 100, 99.5, 100), (100, 100, 98, 98), []),
], ids=["filled-on-next-bar", "cancelled-after-one-bar"])
def test_ioc_lives_one_bar(tmp_path: Path, registry: Registry, bar2: OHLC, bar3: OHLC,
                           fills: list[dict[str, object]]) -> None:
    """An ioc buy limit 99 may fill only on the bar after placement (bar 2); a touch on
    bar 3 is too late."""
    bars = [*flat(2), bar2, bar3, *flat(1, 98)]
    body = ("orders:\n" + buy_at(1, extra="type: limit\nprice: 99\ntime_in_force: ioc")
            + backtest())
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [
        {"time_in_force": "ioc", "status": "filled" if fills else "expired",
         "reason": None if fills else "ioc: not filled on the bar after placement"},
    ], "orders")
    check_rows(run.fills, fills, "fills")


@pytest.mark.parametrize("cancel", [True, False])
def test_cancel_orders(tmp_path: Path, registry: Registry, cancel: bool) -> None:
    """`action: cancel_orders` at bar 2 removes the working buy limit 95, so bar 3's dip
    to 94 fills nothing; without the rule the dip fills it at 95."""
    bars: list[OHLC] = [*flat(3), (97, 97, 94, 96), *flat(1, 96)]
    rules = buy_at(1, extra="type: limit\nprice: 95")
    if cancel:
        rules += "  - name: drop\n    when: bar_index == 2\n    action: cancel_orders\n"
    run = run_case(tmp_path, registry, "orders:\n" + rules + backtest(), bars)
    # cancelled by the rule: the reason is the rule's name
    check_rows(run.orders, [{"id": "BTC-0-1", "status": "cancelled" if cancel else "filled",
                             "reason": "drop" if cancel else None}], "orders")
    check_rows(run.fills, [] if cancel else [{"price": 95, "time": minute(4)}], "fills")


def test_reduce_only_never_flips(tmp_path: Path, registry: Registry) -> None:
    """Long 1; a reduce-only sell of 3 is clipped to 1 at fill time and leaves the
    position flat (no short, so allow_short: false has nothing to refuse)."""
    bars = [*flat(4), *flat(3, 101)]
    cut = ("  - name: cut\n    when: bar_index == 3\n    side: sell\n"
           "    size: {quantity: 3}\n    reduce_only: true\n")
    body = "orders:\n" + buy_at(1) + cut + backtest()
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [
        {"id": "BTC-0-1", "quantity": 1},
        {"id": "BTC-1-3", "side": "sell", "quantity": 3, "reduce_only": True},
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100, "quantity": 1},
        {"order_id": "BTC-1-3", "side": "sell", "price": 101, "quantity": 1,
         "time": minute(4), "fee": 101 * TAKER},
    ], "fills")
    fees = (100 + 101) * TAKER
    check_rows(run.trades, [{"quantity": 1, "pnl": 1 - fees, "exit_reason": "cut"}],
               "trades")
    assert_flat_at_end(run)


@pytest.mark.parametrize("allow_short", [True, False])
def test_a_larger_sell_flips_only_when_shorts_are_allowed(tmp_path: Path,
                                                          registry: Registry,
                                                          allow_short: bool) -> None:
    """One net position per instrument: long 1 from 100, then a plain sell of 3 at
    bar 4's open 102. With `allow_short: true` it closes the long (a round trip) and
    opens a short of 2 at 102 in the same fill, its fee 102 * 3 * 0.0004 = 0.1224 split
    1/3 closing, 2/3 opening; the short is bought back at 101. With `allow_short:
    false` the sell is an entry leaving a short of 2 and is refused, and `cover`
    closes the long instead."""
    bars = [*flat(4), *flat(2, 102), *flat(2, 101)]
    flip = ("  - name: flip\n    when: bar_index == 3\n    side: sell\n"
            "    size: {quantity: 3}\n")
    rules = buy_at(1) + flip + close_at(5, "cover")
    run = run_case(tmp_path, registry,
                   risk_body(f"  allow_short: {str(allow_short).lower()}", rules), bars)
    if not allow_short:
        assert placed(run) == ["BTC-0-1", "BTC-2-5"]
        assert refused(run) == rejected("BTC-1-3", limit="allow_short")
        assert run.log.get("risk_reject") == 1
        # the long stays until "cover" closes it at bar 6's open 101
        fees = (100 + 101) * TAKER
        check_rows(run.trades, [{"side": "long", "quantity": 1, "exit_price": 101,
                                 "pnl": 1 - fees, "exit_reason": "cover"}], "trades")
        return
    sell_fee = 102 * 3 * TAKER
    cover_fee = 101 * 2 * TAKER
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "side": "buy", "price": 100, "quantity": 1},
        {"order_id": "BTC-1-3", "side": "sell", "price": 102, "quantity": 3,
         "fee": sell_fee, "time": minute(4)},
        {"order_id": "BTC-2-5", "side": "buy", "price": 101, "quantity": 2,
         "fee": cover_fee, "time": minute(6)},
    ], "fills")
    long_fees = 100 * TAKER + sell_fee / 3
    short_fees = sell_fee * 2 / 3 + cover_fee
    check_rows(run.trades, [
        {"side": "long", "quantity": 1, "entry_price": 100, "exit_price": 102,
         "exit_time": minute(4), "pnl": 2 - long_fees, "fees": long_fees,
         "exit_reason": "flip"},
        {"side": "short", "quantity": 2, "entry_price": 102, "entry_time": minute(4),
         "exit_price": 101, "pnl": 2 * 1 - short_fees, "fees": short_fees,
         "exit_reason": "cover"},
    ], "trades")
    assert_flat_at_end(run)


def test_max_entries_one_with_working_limit_orders(tmp_path: Path,
                                                   registry: Registry) -> None:
    """`when: bar_index >= 1` with a buy limit 99 and the default `max_entries: 1`: bars
    1-3 never reach 99, bar 4 dips to 98. DESIGN: a rule does not add to a position it
    opened, so the position is 1 (one fill at 99), not one per bar the rule fired."""
    bars: list[OHLC] = [*flat(4), (99.5, 99.5, 98, 99), *flat(2, 99)]
    rule = ("  - name: dip\n    when: bar_index >= 1\n    side: buy\n"
            "    size: {quantity: 1}\n    type: limit\n    price: 99\n")
    run = run_case(tmp_path, registry, "orders:\n" + rule + backtest(), bars)
    position = sum(float(f["quantity"]) * (1 if f["side"] == "buy" else -1)
                   for f in run.fills)
    assert position == 1
    # one order: placed at bar 1 (minute 2), working through bars 2-3 (no second order
    # stacks), filled at bar 4 at min(open 99.5, 99) = 99, intrabar (minute 5)
    check_rows(run.orders, [{"time": minute(2), "id": "BTC-0-1", "placed_at": 1,
                             "status": "filled"}], "orders")
    check_rows(run.fills, [{"order_id": "BTC-0-1", "price": 99, "time": minute(5),
                            "bar_index": 4}], "fills")


def test_reduce_only_with_nothing_to_reduce_is_cancelled(tmp_path: Path,
                                                         registry: Registry) -> None:
    """Flat: a reduce-only sell is accepted (it is an exit for the risk gate) and then
    cancelled at fill time; nothing fills and no short opens."""
    cut = ("  - name: cut\n    when: bar_index == 1\n    side: sell\n"
           "    size: {quantity: 1}\n    reduce_only: true\n")
    run = run_case(tmp_path, registry, "orders:\n" + cut + backtest(), flat(5))
    check_rows(run.orders, [{"id": "BTC-0-1", "reduce_only": True, "status": "cancelled",
                             "reason": "reduce_only: no position to reduce"}], "orders")
    check_rows(run.fills, [], "fills")
    assert run.summary["final_equity"] == 1000


# -- sizing, rounding and the min-notional drop ---------------------------------------------


@pytest.mark.parametrize(("instruments", "size", "quantity"), [
    ("{BTC: {lot_size: 0.1}}", "quantity: 1.26", 1.2),      # down to lot: 1.2
    ("{BTC: {lot_size: 0.1}}", "notional: 250", 2.5),       # 250 / 100
    ("{BTC: {lot_size: 0.1}}", "notional: 259", 2.5),       # 2.59 → down to 2.5
    ("{BTC: {lot_size: 0.01}}", "equity_pct: 50", 5),       # 1000 * 50% / 100
    ("{BTC: {lot_size: 0.01}}", "risk_pct: 1", 2.5),        # 1000 * 1% / |100 - 96|
    ("{BTC: {multiplier: 10, lot_size: 1}}", "notional: 2500", 2),  # 2500/(100*10)=2.5→2
    ("{BTC: {multiplier: 10, lot_size: 1}}", "equity_pct: 50", 0.0),  # 0.5 → 0 lots
])
def test_sizing_modes(tmp_path: Path, registry: Registry, instruments: str, size: str,
                      quantity: float) -> None:
    """Each `size:` mode at the reference price (bar 1's close, 100) and equity 1000,
    rounded down to lot; zero lots is a drop (a `dropped` order row with the reason,
    logged)."""
    rule = ("  - name: entry\n    when: bar_index == 1\n    side: buy\n"
            f"    size: {{{size}}}\n    stop_loss: entry_price - 4\n")
    body = f"instruments: {instruments}\norders:\n{rule}" + backtest()
    run = run_case(tmp_path, registry, body, flat(4))
    if quantity == 0:
        check_rows(run.orders, [
            {"time": minute(2), "id": "BTC-0-1", "side": "buy", "type": "market",
             "status": "dropped", "reason": "quantity rounds down to zero lots"},
        ], "orders")
        assert run.fills == []
        assert run.log.get("dropped") == 1
    else:
        # the entry fills at bar 2's open 100: its stop child is 100 - 4 = 96 for the
        # filled quantity, never reached on the flat bars, so `open` at the end
        check_rows(run.orders, [
            {"id": "BTC-0-1", "quantity": quantity, "stop_loss": None, "status": "filled"},
            child("BTC-0-1", "sl", "open", minute(2), 2, quantity=quantity,
                  trigger_price=96),
        ], "orders")
        check_rows(run.fills, [{"quantity": quantity, "price": 100}], "fills")


def test_risk_pct_with_a_multiplier(tmp_path: Path, registry: Registry) -> None:
    """A futures-like instrument (multiplier 50, whole contracts): risk 2% of 10 000 with
    a stop 2 points away is 200 / (2 * 50) = 2 contracts. PnL and fees are scaled by
    the multiplier: target 104 reached intrabar at bar 3 → 2 * 4 * 50 = 400 gross."""
    bars = [*flat(3), (100, 104.5, 99, 104), *flat(2, 104)]
    rule = ("  - name: entry\n    when: bar_index == 1\n    side: buy\n"
            "    size: {risk_pct: 2}\n    stop_loss: entry_price - 2\n"
            "    take_profit: entry_price + 4\n")
    body = ("instruments: {ES: {multiplier: 50, lot_size: 1, tick_size: 0.25}}\n"
            "orders:\n" + rule + backtest(cash=10000))
    run = run_case(tmp_path, registry, body, {"ES": bars})
    entry_fee = 100 * 2 * 50 * TAKER  # 4.0
    exit_fee = 104 * 2 * 50 * MAKER   # 2.08
    # sized with the expected entry (bar 1's close 100, stop 98); the entry fills at
    # bar 2's open 100, so the children are 100 - 2 = 98 and 100 + 4 = 104
    check_rows(run.orders, [
        {"id": "ES-0-1", "quantity": 2, "stop_loss": None, "take_profit": None,
         "status": "filled"},
        child("ES-0-1", "sl", "cancelled", minute(2), 2, "oco: ES-0-1:tp filled",
              quantity=2, trigger_price=98),
        child("ES-0-1", "tp", "filled", minute(2), 2, quantity=2, limit_price=104),
    ], "orders")
    check_rows(run.fills, [
        {"order_id": "ES-0-1", "price": 100, "quantity": 2, "fee": entry_fee},
        {"order_id": "ES-0-1:tp", "price": 104, "quantity": 2, "fee": exit_fee,
         "liquidity": "maker", "time": minute(4)},
    ], "fills")
    check_rows(run.trades, [{"instrument": "ES", "quantity": 2,
                             "pnl": 400 - entry_fee - exit_fee,
                             "fees": entry_fee + exit_fee,
                             "exit_reason": "take_profit"}], "trades")
    assert_flat_at_end(run)


def test_tick_and_lot_rounding(tmp_path: Path, registry: Registry) -> None:
    """tick 0.05, lot 0.01: quantity 1.2345 → 1.23 (down); a buy limit 99.037 → 99.00
    (down: never more aggressive); its stop-loss 97.033 → 97.00 (a sell stop: down);
    its take-profit 103.021 → 103.05 (a sell limit: up). The limit fills at 99."""
    bars = [*flat(3), (100, 100, 98.9, 99.5), *flat(2, 99.5)]
    rule = ("  - name: entry\n    when: bar_index == 1\n    side: buy\n"
            "    size: {quantity: 1.2345}\n    type: limit\n    price: 99.037\n"
            "    stop_loss: 97.033\n    take_profit: 103.021\n")
    body = ("instruments: {BTC: {tick_size: 0.05, lot_size: 0.01}}\norders:\n" + rule
            + backtest())
    run = run_case(tmp_path, registry, body, bars)
    # the limit fills intrabar on bar 3 (low 98.9), stamped minute 4: the children are
    # placed then (placed_at 3) and nothing reaches them afterwards (`open`)
    check_rows(run.orders, [
        {"time": minute(2), "quantity": 1.23, "limit_price": 99.0, "stop_loss": None,
         "take_profit": None, "status": "filled"},
        child("BTC-0-1", "sl", "open", minute(4), 3, quantity=1.23, trigger_price=97.0),
        child("BTC-0-1", "tp", "open", minute(4), 3, quantity=1.23, limit_price=103.05),
    ], "orders")
    check_rows(run.fills, [{"price": 99.0, "quantity": 1.23, "fee": 99 * 1.23 * MAKER,
                            "time": minute(4)}], "fills")


@pytest.mark.parametrize(("instruments", "reason"), [
    ("{BTC: {min_notional: 500}}", "notional 100 is under min_notional 500"),  # 1 * 100
    ("{BTC: {lot_size: 1}}", "quantity rounds down to zero lots"),  # 0.5 → 0 lots
])
def test_too_small_orders_are_dropped(tmp_path: Path, registry: Registry,
                                      instruments: str, reason: str) -> None:
    """An order under min notional (or of zero lots) is dropped with a logged reason:
    an order row with status `dropped` and the reason, no fill, and the run completes
    with its equity untouched."""
    qty = 1 if "min_notional" in instruments else 0.5
    body = f"instruments: {instruments}\norders:\n" + buy_at(1, qty) + backtest()
    run = run_case(tmp_path, registry, body, flat(5))
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "side": "buy", "type": "market",
         "status": "dropped", "reason": reason},
    ], "orders")
    assert run.fills == [] and run.trades == []
    assert run.log.get("dropped") == 1
    assert len(run.equity) == 5
    assert {float(r["equity"]) for r in run.equity} == {1000.0}
    assert run.summary["trades"] == 0 and run.summary["final_equity"] == 1000


# -- risk limits ----------------------------------------------------------------------------

FAR_LIMIT = "type: limit\nprice: 50"
"""A buy limit that never fills on bars at 100: an accepted order that stays working."""


def risk_body(risk: str, rules: str) -> str:
    """A `risk:` block (indented lines), the order rules and the common backtest."""
    return f"risk:\n{risk}\norders:\n{rules}" + backtest()


REFUSED = ("dropped", "risk_reject", "risk_halt", "risk_flatten")
"""orders.csv statuses of orders that never reached the venue."""


def placed(run: Run) -> list[str]:
    """Ids of the orders that reached the venue (orders.csv rows of any other status),
    in file order."""
    return [o["id"] for o in run.orders if o["status"] not in REFUSED]


def refused(run: Run) -> list[tuple[str, str, str]]:
    """(id, status, limit) of the orders the run refused before the venue, in file
    order; the limit is the prefix of the `<limit>: <reason text>` reason."""
    out = []
    for o in run.orders:
        if o["status"] in REFUSED:
            limit, sep, text = o["reason"].partition(": ")
            assert sep and text, f"reason is not `<limit>: <text>`: {o['reason']!r}"
            out.append((o["id"], o["status"], limit))
    return out


def rejected(*ids: str, limit: str) -> list[tuple[str, str, str]]:
    """`refused` rows of orders rejected by `limit` (status `risk_reject`)."""
    return [(i, "risk_reject", limit) for i in ids]


@pytest.mark.parametrize(("risk", "rules", "ids", "refusals"), [
    # after the second buy the position would be 2 > 1.5
    ("  max_position: 1.5", buy_at(1, name="a") + buy_at(3, name="b"), ["BTC-0-1"],
     rejected("BTC-1-3", limit="max_position")),
    # a mapping limits only the instruments it names: ETH's second buy is refused,
    # BTC (unnamed) is unlimited
    ("  max_position: {ETH: 1.5}", buy_at(1, name="a") + buy_at(3, name="b"),
     ["BTC-0-1", "ETH-0-1", "BTC-1-3"], rejected("ETH-1-3", limit="max_position")),
    # exposure after the second buy: 2 * 100 = 200 > 150
    ("  max_gross_exposure: 150", buy_at(1, name="a") + buy_at(3, name="b"), ["BTC-0-1"],
     rejected("BTC-1-3", limit="max_gross_exposure")),
    # one working order already: the second is refused
    ("  max_open_orders: 1",
     buy_at(1, name="a", extra=FAR_LIMIT) + buy_at(2, name="b", extra=FAR_LIMIT),
     ["BTC-0-1"], rejected("BTC-1-2", limit="max_open_orders")),
    # two orders in the same minute: the second is refused; one a minute later is not
    # (the window is (now - 1 min, now])
    ("  max_orders_per_minute: 1",
     buy_at(1, name="a", extra=FAR_LIMIT) + buy_at(1, name="b", extra=FAR_LIMIT)
     + buy_at(2, name="c", extra=FAR_LIMIT),
     ["BTC-0-1", "BTC-2-2"], rejected("BTC-1-1", limit="max_orders_per_minute")),
    # one entry per trading day
    ("  max_daily_trades: 1",
     buy_at(1, name="a", extra=FAR_LIMIT) + buy_at(2, name="b", extra=FAR_LIMIT),
     ["BTC-0-1"], rejected("BTC-1-2", limit="max_daily_trades")),
    # a sell with no position would open a short
    ("  allow_short: false", buy_at(1, name="a").replace("side: buy", "side: sell"), [],
     rejected("BTC-0-1", limit="allow_short")),
    # decisions are at the bar's close: bar 1 closes 00:02 (outside), bar 2 at 00:03
    ('  trading_hours: {start: "00:03", end: "00:10", tz: UTC}',
     buy_at(1, name="a", extra=FAR_LIMIT) + buy_at(2, name="b", extra=FAR_LIMIT),
     ["BTC-1-2"], rejected("BTC-0-1", limit="trading_hours")),
], ids=["max_position", "max_position-per-instrument", "max_gross_exposure",
        "max_open_orders", "max_orders_per_minute", "max_daily_trades", "allow_short",
        "trading_hours"])
def test_risk_limit_rejects(tmp_path: Path, registry: Registry, risk: str, rules: str,
                            ids: list[str], refusals: list[tuple[str, str, str]]) -> None:
    """Each limit under `on_breach: reject` (the default): the breaching order never
    reaches the venue — its orders.csv row has status `risk_reject` and the reason
    `<limit>: ...`; the others go through."""
    instruments = "instruments: [BTC, ETH]\n" if "ETH" in risk else ""
    bars = {"BTC": flat(6)} | ({"ETH": flat(6)} if instruments else {})
    run = run_case(tmp_path, registry, instruments + risk_body(risk, rules), bars)
    assert placed(run) == ids
    assert refused(run) == refusals
    tried = rules.count("- name:") * len(bars)
    assert len(run.orders) == tried  # every order the rules decided has a row
    assert run.log.get("risk_reject", 0) == tried - len(ids) == len(refusals)
    assert "risk_halt" not in run.log


def test_allow_short_true_opens_and_closes_a_short(tmp_path: Path,
                                                   registry: Registry) -> None:
    """`allow_short: true`: a sell from flat opens a short at bar 2's open 100; closing
    it at bar 4's open 98 is a short round trip earning 2 before fees."""
    bars = [*flat(3), *flat(3, 98)]
    rules = buy_at(1, name="short").replace("side: buy", "side: sell") + close_at(3)
    run = run_case(tmp_path, registry, risk_body("  allow_short: true", rules), bars)
    fees = (100 + 98) * TAKER
    check_rows(run.fills, [{"side": "sell", "price": 100}, {"side": "buy", "price": 98}],
               "fills")
    check_rows(run.trades, [{"side": "short", "entry_price": 100, "exit_price": 98,
                             "pnl": 2 - fees, "exit_reason": "exit"}], "trades")


def test_max_positions_counts_instruments(tmp_path: Path, registry: Registry) -> None:
    """`max_positions: 1`: BTC is long after bar 2, so an ETH entry at bar 3 would be a
    second open position and is refused; BTC can still trade."""
    rules = (buy_at(1, name="btc") + "    instruments: [BTC]\n"
             + buy_at(3, name="eth") + "    instruments: [ETH]\n")
    body = "instruments: [BTC, ETH]\n" + risk_body("  max_positions: 1", rules)
    run = run_case(tmp_path, registry, body, {"BTC": flat(6), "ETH": flat(6)})
    assert placed(run) == ["BTC-0-1"]
    assert refused(run) == rejected("ETH-1-3", limit="max_positions")
    assert run.log.get("risk_reject") == 1


# A loss of 6.04 on bar 3: long 1 from 100 (fee 0.04), bar 3 closes at 94.
LOSS_BARS: list[OHLC] = [*flat(3), (100, 100, 94, 94), *flat(4, 94)]
LOSS_RULES = buy_at(1, name="a") + buy_at(4, name="b") + close_at(5, "out")
"""`a` opens; `b` is a later entry (refused after the breach); `out` an exit (always
allowed, also while halted)."""


def test_max_daily_loss_reject(tmp_path: Path, registry: Registry) -> None:
    """`reject`: no halt; the standing loss (6.04 ≥ 5) refuses the entry at bar 4 and
    the exit at bar 5 still closes the position."""
    run = run_case(tmp_path, registry,
                   risk_body("  max_daily_loss: 5\n  on_breach: reject", LOSS_RULES),
                   LOSS_BARS)
    assert placed(run) == ["BTC-0-1", "BTC-2-5"]
    # the loss: 1000 - (1000 - 0.04 - 6) = 6.04 at bar 3's close; `b` is decided at
    # bar 4's close (minute 5)
    check_rows([o for o in run.orders if o["id"] == "BTC-1-4"], [
        {"time": minute(5), "status": "risk_reject",
         "reason": "max_daily_loss: daily loss 6.04 reached 5"}], "orders")
    assert run.log.get("risk_reject") == 1 and "risk_halt" not in run.log
    fees = (100 + 94) * TAKER
    check_rows(run.trades, [{"exit_price": 94, "pnl": -6 - fees, "exit_reason": "out"}],
               "trades")


def test_max_daily_loss_halt(tmp_path: Path, registry: Registry) -> None:
    """`halt`: the standing breach at bar 3's close halts (no order needed); the entry
    at bar 4 is refused as halted; the exit at bar 5 passes."""
    run = run_case(tmp_path, registry,
                   risk_body("  max_daily_loss: 5\n  on_breach: halt", LOSS_RULES),
                   LOSS_BARS)
    assert placed(run) == ["BTC-0-1", "BTC-2-5"]
    # the halt came from the standing loss, not an order: no `risk_halt` row; `b` is
    # refused because trading is halted
    assert refused(run) == rejected("BTC-1-4", limit="halted")
    assert run.log.get("risk_halt") == 1 and run.log.get("risk_reject") == 1
    assert run.log.get("halted", "").startswith("max_daily_loss: daily loss 6.04")
    assert run.log["halted"].endswith(" at 2024-01-01T00:04:00.000Z")  # bar 3's close
    check_rows(run.fills, [{"order_id": "BTC-0-1"},
                           {"order_id": "BTC-2-5", "time": minute(6)}], "fills")


def test_max_daily_loss_flatten(tmp_path: Path, registry: Registry) -> None:
    """`flatten`: at bar 3's close the gate halts and a reduce-only market sell closes
    the position at bar 4's open 94 (`risk_flatten`); later entries are refused and the
    `out` rule has nothing left to close."""
    run = run_case(tmp_path, registry,
                   risk_body("  max_daily_loss: 5\n  on_breach: flatten", LOSS_RULES),
                   LOSS_BARS)
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "side": "buy", "status": "filled"},
        # placed at bar 3's close (minute 4) by the gate's update
        {"time": minute(4), "id": "flatten-3-BTC", "side": "sell", "quantity": 1,
         "type": "market", "reduce_only": True, "placed_at": 3, "status": "filled",
         "reason": None},
        # `b` at bar 4's close: refused, trading is halted
        {"time": minute(5), "id": "BTC-1-4", "side": "buy", "status": "risk_reject"},
    ], "orders")
    assert refused(run) == rejected("BTC-1-4", limit="halted")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100},
        {"order_id": "flatten-3-BTC", "price": 94, "time": minute(4), "bar_index": 4},
    ], "fills")
    fees = (100 + 94) * TAKER
    check_rows(run.trades, [{"exit_price": 94, "pnl": -6 - fees,
                             "exit_reason": "risk_flatten"}], "trades")
    assert run.log.get("risk_flatten") == 1 and run.log.get("risk_reject") == 1
    assert_flat_at_end(run)


def test_max_position_halt_blocks_later_entries(tmp_path: Path, registry: Registry) -> None:
    """`halt` on an order breach: the first buy (2 > 1.5) is refused and halts; the
    second (1, within the limit) is refused because trading is halted."""
    rules = buy_at(1, 2, name="a") + buy_at(3, 1, name="b")
    run = run_case(tmp_path, registry,
                   risk_body("  max_position: 1.5\n  on_breach: halt", rules), flat(6))
    assert placed(run) == []
    # `a` is the breach (`risk_halt`, its limit); `b` is refused as halted
    assert refused(run) == [("BTC-0-1", "risk_halt", "max_position"),
                            ("BTC-1-3", "risk_reject", "halted")]
    assert run.log.get("risk_halt") == 1 and run.log.get("risk_reject") == 1


def test_max_drawdown_halt(tmp_path: Path, registry: Registry) -> None:
    """Long 10 from 100 (fee 0.4); bar 3 closes at 94: equity 1000 - 0.4 - 60 = 939.6,
    a drawdown of 1 - 939.6/1000 = 0.0604 ≥ 0.05 from the peak 1000: halt; the entry
    at bar 4 is refused."""
    rules = buy_at(1, 10, name="a") + buy_at(4, name="b")
    run = run_case(tmp_path, registry,
                   risk_body("  max_drawdown: 0.05\n  on_breach: halt", rules), LOSS_BARS)
    assert placed(run) == ["BTC-0-1"]
    assert refused(run) == rejected("BTC-1-4", limit="halted")
    assert run.log.get("risk_halt") == 1 and run.log.get("risk_reject") == 1
    check_rows(run.equity[3:4], [{"time": minute(4), "equity": 939.6,
                                  "drawdown": 0.0604}], "equity")


def test_max_daily_loss_reject_lifts_at_the_next_day(tmp_path: Path,
                                                      registry: Registry) -> None:
    """`reject` is not a halt: the loss of 6.04 refuses entry `b` at bar 4 (closing
    23:59 UTC), but bar 5 closes at 00:00 UTC, the next trading day (default
    `day_starts` 00:00 UTC), whose loss so far is 0: entry `c` is accepted."""
    rules = buy_at(1, name="a") + buy_at(4, name="b") + buy_at(5, name="c")
    run = run_case(tmp_path, registry, risk_body("  max_daily_loss: 5", rules), LOSS_BARS,
                   start=datetime(2024, 1, 1, 23, 54, tzinfo=UTC))
    assert placed(run) == ["BTC-0-1", "BTC-2-5"]
    assert refused(run) == rejected("BTC-1-4", limit="max_daily_loss")
    assert run.log.get("risk_reject") == 1


def test_flatten_on_an_order_breach_cancels_working_orders(tmp_path: Path,
                                                           registry: Registry) -> None:
    """`flatten` on `max_position: 2.5`: long 1, a working buy limit 50 (position would
    be 2: allowed), then a buy of 2 (3 > 2.5) → the limit is cancelled and the long is
    sold at bar 4's open; bar 5's dip to 49 fills nothing."""
    bars: list[OHLC] = [*flat(4), *flat(1, 101), (60, 60, 49, 55), *flat(1, 55)]
    rules = (buy_at(1, name="a") + buy_at(2, name="w", extra=FAR_LIMIT)
             + buy_at(3, 2, name="b"))
    run = run_case(tmp_path, registry,
                   risk_body("  max_position: 2.5\n  on_breach: flatten", rules), bars)
    assert placed(run) == ["BTC-0-1", "BTC-1-2", "flatten-3-BTC"]
    # `b` (decided at bar 3's close, minute 4) is the breach: `risk_flatten`; the
    # working limit is cancelled by the flatten
    assert refused(run) == [("BTC-2-3", "risk_flatten", "max_position")]
    check_rows([o for o in run.orders if o["id"] == "BTC-1-2"], [
        {"time": minute(3), "status": "cancelled", "reason": "risk flatten"}], "orders")
    check_rows(run.fills, [
        {"order_id": "BTC-0-1", "price": 100},
        {"order_id": "flatten-3-BTC", "side": "sell", "price": 101, "time": minute(4)},
    ], "fills")
    fees = (100 + 101) * TAKER
    check_rows(run.trades, [{"pnl": 1 - fees, "exit_reason": "risk_flatten"}], "trades")
    assert run.log.get("risk_flatten") == 1


def test_trading_hours_refuse_entries_not_exits(tmp_path: Path, registry: Registry) -> None:
    """Hours 00:00-00:03 UTC: the entry decided at 00:02 passes; after 00:03 the close
    (an exit) still passes and an entry does not."""
    rules = buy_at(1, name="a") + close_at(3) + buy_at(4, name="late")
    run = run_case(tmp_path, registry, risk_body(
        '  trading_hours: {start: "00:00", end: "00:03", tz: UTC}', rules), flat(7))
    assert placed(run) == ["BTC-0-1", "BTC-1-3"]
    assert refused(run) == rejected("BTC-2-4", limit="trading_hours")
    assert run.log.get("risk_reject") == 1
    check_rows(run.trades, [{"exit_time": minute(4), "exit_reason": "exit"}], "trades")


def test_cli_reports_a_risk_halt(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """Through the CLI a halting run still writes all its files, says why and when on
    stderr and exits 4 (DESIGN §5: "stopped by a risk halt")."""
    body = risk_body("  max_daily_loss: 5\n  on_breach: halt", LOSS_RULES)
    path = prepare(tmp_path, body, {"BTC": LOSS_BARS})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--mode", "backtest",
                                      "--out", str(out)])
    assert result.exit_code == 4, result.output
    # the halt: the loss of 6.04 at bar 3's close (00:04)
    assert ("runner: stopped by a risk halt: max_daily_loss: daily loss 6.04 reached 5 "
            "at 2024-01-01T00:04:00") in result.stderr
    assert (out / "summary.json").is_file() and (out / "fills.csv").is_file()


# -- the trading day in America/Chicago across DST -----------------------------------------


@pytest.mark.parametrize("start", [
    # Sunday 2024-03-10, DST began 02:00 local: 17:00 CDT is 22:00 UTC.
    # Bar closes (UTC): 20:30 21:00 21:30 22:00 22:30 23:00 23:30 00:00
    datetime(2024, 3, 10, 20, 0, tzinfo=UTC),
    # Sunday 2024-11-03, DST ended 02:00 local: 17:00 CST is 23:00 UTC.
    # Bar closes (UTC): 21:30 22:00 22:30 23:00 23:30 00:00 00:30 01:00
    datetime(2024, 11, 3, 21, 0, tzinfo=UTC),
], ids=["2024-03-10", "2024-11-03"])
def test_trading_day_starts_17_chicago_across_dst(tmp_path: Path, registry: Registry,
                                                  start: datetime) -> None:
    """`max_daily_trades: 1` with days starting 17:00 America/Chicago: a far limit
    entry is tried at every bar's close. Bar 0 is the first entry of the day before;
    bars 1-2 are refused; bar 3 closes exactly at 17:00 Chicago (22:00 UTC in March,
    23:00 UTC in November) and starts a new day, so it is accepted; the rest are
    refused. A fixed UTC offset would pick bar 5 in March or bar 1 in November.
    (`max_entries: 8`: the rule's working entries count toward max_entries, and the
    default 1 would stop it after bar 0.)"""
    rule = ("  - name: a\n    when: true\n    side: buy\n    size: {quantity: 1}\n"
            "    type: limit\n    price: 50\n    max_entries: 8\n")
    risk = '  max_daily_trades: 1\n  day_starts: {time: "17:00", tz: America/Chicago}'
    run = run_case(tmp_path, registry, risk_body(risk, rule), flat(8), start=start,
                   timeframe="30m")
    assert [int(o["placed_at"]) for o in run.orders if o["status"] == "open"] == [0, 3]
    assert [o["id"] for o in run.orders if o["status"] == "risk_reject"] == [
        f"BTC-0-{i}" for i in (1, 2, 4, 5, 6, 7)]
    assert {o["reason"].partition(":")[0] for o in run.orders
            if o["status"] == "risk_reject"} == {"max_daily_trades"}
    assert run.log.get("risk_reject") == 6


# -- end of data and warm-up ---------------------------------------------------------------


def test_a_limit_still_working_at_the_end_is_open(tmp_path: Path,
                                                  registry: Registry) -> None:
    """A gtc buy limit 95 placed at bar 1 that no bar reaches (lows 96) is still
    working when the data ends: its row has status `open` and no reason; nothing
    fills, nothing is cancelled or expired, equity stays at the cash."""
    bars: list[OHLC] = [*flat(2), *[(97, 97, 96, 97)] * 3]
    body = "orders:\n" + buy_at(1, extra="type: limit\nprice: 95") + backtest()
    run = run_case(tmp_path, registry, body, bars)
    check_rows(run.orders, [
        {"time": minute(2), "id": "BTC-0-1", "side": "buy", "quantity": 1, "type": "limit",
         "limit_price": 95, "time_in_force": "gtc", "placed_at": 1, "status": "open",
         "reason": None},
    ], "orders")
    assert run.fills == [] and run.trades == []
    assert not {"cancelled", "expired", "rejected"} & set(run.log)
    assert {float(r["equity"]) for r in run.equity} == {1000.0}


WARM_UP_RULE = ("  - name: entry\n    when: bar_index == 0\n    side: buy\n"
                "    size: {quantity: 1}\n    type: limit\n    price: sma3\n")


def warm_up_run(tmp_path: Path, registry: Registry) -> Run:
    """Bar i is flat at 100 + i from 00:00 (bar 6: open 106, low 103), `backtest.start`
    00:05: a buy limit at `sma3` when `bar_index == 0`."""
    bars: list[OHLC] = [flat(1, 100.0 + i)[0] for i in range(10)]
    bars[6] = (106, 106, 103, 106)
    body = ("indicators:\n  sma3: {type: sma, period: 3}\norders:\n" + WARM_UP_RULE
            + backtest(extra="start: 2024-01-01T00:05:00"))
    return run_case(tmp_path, registry, body, bars)


def test_bars_before_the_start_are_warm_up(tmp_path: Path, registry: Registry) -> None:
    """Bars 0-4 (before `backtest.start` 00:05) are warm-up: indicators only, no
    trading, no equity rows. On the first traded bar (the 00:05 bar, closing 00:06)
    `bar_index` is 0 (the rule fires there, and the order id ends in `-0`) and SMA(3)
    is already (103 + 104 + 105) / 3 = 104, so the buy limit is placed at 104 (a null
    price would be a `dropped` row). Bar 6 (open 106, low 103) reaches 104: fills at
    min(106, 104) = 104, maker, stamped with bar 6's close time 00:07."""
    run = warm_up_run(tmp_path, registry)
    check_rows(run.orders, [
        {"time": minute(6), "id": "BTC-0-0", "type": "limit", "limit_price": 104,
         "status": "filled", "reason": None},
    ], "orders")
    fee = 104 * MAKER  # 0.0208
    check_rows(run.fills, [
        {"order_id": "BTC-0-0", "price": 104, "time": minute(7), "fee": fee,
         "liquidity": "maker"},
    ], "fills")
    # equity rows for bars 5-9 only (close times 00:06 … 00:10): flat until the fill,
    # then cash 1000 - 0.0208 plus 1 * (close - 104): 1001.9792 … 1004.9792
    check_rows(run.equity, [
        {"time": minute(6), "equity": 1000, "cash": 1000},
        *({"time": minute(i + 1), "equity": 1000 - fee + (100 + i - 104), "cash": 1000 - fee}
          for i in range(6, 10)),
    ], "equity")
    assert run.summary["bars"] == 5
    assert run.summary["start"].startswith("2024-01-01T00:05:00")


def test_warm_up_bars_do_not_count_in_the_files_bar_index(tmp_path: Path,
                                                          registry: Registry) -> None:
    """The same run: the order is placed on traded bar 0 and fills on traded bar 1."""
    run = warm_up_run(tmp_path, registry)
    check_rows(run.orders, [{"id": "BTC-0-0", "placed_at": 0}], "orders")
    check_rows(run.fills, [{"order_id": "BTC-0-0", "bar_index": 1}], "fills")
