"""The numba kernel of the backtest's fast path (`runner.engine.fastpath`).

It replays `runner.engine.simulate.simulate` for the fast class of strategies —
market entries and `action: close` over state-free `when` and size columns, no risk
limits but `allow_short`, no lot rounding — deciding every order and fill with the
same floating-point operations, in the same order, as the matching engine
(`MatchingEngine.submit`, `_execute`), the sizing (`raw_quantity`,
`min_notional_reason`), the risk gate's `allow_short` check and the portfolio's
position arithmetic (`Portfolio.apply`, quantities only). `max(a, b)` is spelt out
as Python evaluates it (`b if b > a else a`) so NaNs and signed zeros fall the same
way.

Imported lazily: compiling (or loading the cache) costs the CLI's import path
nothing unless the fast path runs, and not at all when `run_kernel` is compiled
ahead of time (`runner.native`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from runner.engine.fastpath_codes import (
    KIND_NOTIONAL_DROP,
    KIND_PLACED,
    KIND_REJECTED,
    KIND_RISK_REJECT,
    KIND_SIZE_DROP,
    STATUS_CANCELLED,
    STATUS_FILLED,
    STATUS_OPEN,
)

_EPS = 1e-9


@njit(cache=True)
def _py_max(a: float, b: float) -> float:
    """Python's `max(a, b)` on floats: the first unless the second is greater."""
    return b if b > a else a


@njit(cache=True)
def _portfolio_quantity(pq: float, buy: bool, qty: float) -> float:
    """The position after `Portfolio.apply` books a fill (its quantity arithmetic)."""
    sign = 1.0 if buy else -1.0
    close_qty = 0.0
    if pq != 0.0 and (pq > 0) != (sign > 0):
        held = abs(pq)
        close_qty = held if qty >= held * (1 - _EPS) else qty
    open_qty = _py_max(0.0, qty - close_qty)
    if open_qty <= _EPS * qty:
        open_qty = 0.0
    if close_qty > 0.0:
        direction = 1.0 if pq > 0 else -1.0
        remaining = pq - direction * close_qty
        pq = 0.0 if abs(remaining) <= _EPS * _py_max(close_qty, abs(pq)) else remaining
    if open_qty > 0.0:
        pq += sign * open_qty
    return pq


@njit(cache=True)
def _execute(o: int, s: int, i: int, base: float, at_open: bool, k: int, reduce: bool,
             o_buy: np.ndarray, o_qty: np.ndarray, o_status: np.ndarray,
             epos: np.ndarray, ppos: np.ndarray, f_order: np.ndarray, f_price: np.ndarray,
             f_qty: np.ndarray, f_fee: np.ndarray, f_bar: np.ndarray, f_k: np.ndarray,
             f_at_open: np.ndarray, nf: int, multiplier: float, taker_fee: float,
             slippage_bps: float) -> int:
    """Fill market order `o` of symbol `s` at `base` on bar `i` as
    `MatchingEngine._execute` does (slippage against the taker; a reduce-only close
    clipped to the position, or cancelled with none); record the fill, move both
    positions; return the new fill count."""
    buy = o_buy[o]
    price = base
    if slippage_bps != 0.0:
        k_slip = slippage_bps / 10_000.0
        price = price * (1.0 + k_slip) if buy else price * (1.0 - k_slip)
    qty = o_qty[o]
    pos = epos[s]
    if reduce:
        reducible = _py_max(0.0, -pos) if buy else _py_max(0.0, pos)
        if reducible <= 0:
            o_status[o] = STATUS_CANCELLED
            return nf
        qty = reducible if reducible < qty else qty
    f_order[nf] = o
    f_price[nf] = price
    f_qty[nf] = qty
    f_fee[nf] = price * qty * multiplier * taker_fee
    f_bar[nf] = i
    f_k[nf] = k
    f_at_open[nf] = at_open
    new_pos = pos + qty if buy else pos - qty
    if abs(new_pos) < 1e-12 * _py_max(1.0, abs(pos)):
        new_pos = 0.0
    epos[s] = new_pos
    ppos[s] = _portfolio_quantity(ppos[s], buy, qty)
    o_status[o] = STATUS_FILLED
    return nf + 1


@njit(cache=True)
def run_kernel(first: int, n: int,
               cand_bar: np.ndarray, cand_pair: np.ndarray, cand_when: np.ndarray,
               cand_size: np.ndarray,
               pair_rule: np.ndarray, pair_sym: np.ndarray,
               rule_close: np.ndarray, rule_buy: np.ndarray, rule_fraction: np.ndarray,
               rule_cooldown: np.ndarray, rule_max_entries: np.ndarray,
               rule_notional: np.ndarray,
               opens: np.ndarray, closes: np.ndarray, fresh: np.ndarray,
               bar_index: np.ndarray, min_notional: np.ndarray, multiplier: np.ndarray,
               fill_close: bool, slippage_bps: float, taker_fee: float,
               allow_short: bool, cash0: float) -> Any:
    """Step the visited bars as `simulate` does; return the orders, fills and counts,
    and (last) the fills booked by `replay_kernel` — called from here so a run loads
    one compiled kernel from the cache, not two (see `runner.engine.fastpath` for how
    they become tables)."""
    m = cand_bar.shape[0]
    n_sym = opens.shape[0]
    n_pair = pair_rule.shape[0]

    o_cand = np.empty(m, np.int64)
    o_kind = np.empty(m, np.int8)
    o_buy = np.empty(m, np.bool_)
    o_qty = np.empty(m, np.float64)
    o_k = np.empty(m, np.int64)
    o_status = np.empty(m, np.int8)
    o_after = np.empty(m, np.float64)
    f_order = np.empty(m, np.int64)
    f_price = np.empty(m, np.float64)
    f_qty = np.empty(m, np.float64)
    f_fee = np.empty(m, np.float64)
    f_bar = np.empty(m, np.int64)
    f_k = np.empty(m, np.int64)
    f_at_open = np.empty(m, np.bool_)

    epos = np.zeros(n_sym, np.float64)  # the engine's positions
    ppos = np.zeros(n_sym, np.float64)  # the portfolio's quantities
    mark_bar = np.full(n_sym, -1, np.int64)
    last_order = np.full(n_pair, -10**9, np.int64)
    entries = np.zeros(n_pair, np.int64)
    working = np.zeros(n_pair, np.int64)
    pending = np.empty(m, np.int64)  # the book: order records in submission order
    npend = 0
    no = 0
    nf = 0
    cancelled = 0
    state_fill = -1
    state_sym = -1

    ptr = 0
    while ptr < m and cand_bar[ptr] < first:
        ptr += 1
    i = first
    visited = 0
    while i < n:
        visited += 1
        end = ptr
        while end < m and cand_bar[end] == i:
            end += 1
        if npend > 0:
            for s in range(n_sym):
                if not fresh[s, i]:
                    continue
                keep = 0
                for j in range(npend):
                    o = pending[j]
                    p = cand_pair[o_cand[o]]
                    if pair_sym[p] != s:
                        pending[keep] = o
                        keep += 1
                        continue
                    working[p] -= 1
                    # a market order at the open of the symbol's next fresh bar
                    nf = _execute(o, s, i, opens[s, i], True, bar_index[s, i],
                                  rule_close[pair_rule[p]], o_buy, o_qty, o_status, epos,
                                  ppos, f_order, f_price, f_qty, f_fee, f_bar, f_k,
                                  f_at_open, nf, multiplier[s], taker_fee, slippage_bps)
                    cancelled += o_status[o] == STATUS_CANCELLED
                npend = keep
        for s in range(n_sym):
            c_now = closes[s, i]
            if ppos[s] != 0.0 and c_now == c_now:
                mark_bar[s] = i
        for c in range(ptr, end):
            p = cand_pair[c]
            r = pair_rule[p]
            s = pair_sym[p]
            if not cand_when[c] or not fresh[s, i]:
                continue
            if i - last_order[p] <= rule_cooldown[r]:
                continue
            position = ppos[s]
            close = closes[s, i]
            mult = multiplier[s]
            mn = min_notional[s]
            if rule_close[r]:
                qty = abs(position) * rule_fraction[r]
                if qty <= _EPS:
                    continue
                buy = not position > 0
                o_cand[no] = c
                o_buy[no] = buy
                o_qty[no] = qty
                if mn == mn and abs(close) * qty * mult < mn * (1 - _EPS):
                    o_kind[no] = KIND_NOTIONAL_DROP
                    no += 1
                    continue
            else:
                buy = rule_buy[r]
                sign = 1.0 if buy else -1.0
                if position * sign <= _EPS and working[p] == 0:
                    entries[p] = 0
                if entries[p] >= rule_max_entries[r]:
                    continue
                if state_fill < 0:
                    state_fill = nf
                    state_sym = s
                v = cand_size[c]
                o_cand[no] = c
                o_buy[no] = buy
                o_qty[no] = v
                if not np.isfinite(v) or v <= 0:
                    o_kind[no] = KIND_SIZE_DROP
                    no += 1
                    continue
                if rule_notional[r]:
                    if not np.isfinite(close) or close <= 0:
                        o_kind[no] = KIND_SIZE_DROP
                        no += 1
                        continue
                    qty = v / (close * mult)
                else:
                    qty = v
                if qty <= 0 or (mn == mn and abs(close) * qty * mult < mn * (1 - _EPS)):
                    o_kind[no] = KIND_SIZE_DROP
                    no += 1
                    continue
                o_qty[no] = qty
                signed = qty if buy else -qty
                if not (position * signed < 0
                        and abs(signed) <= abs(position) * (1 + _EPS)):
                    after = position + signed
                    if not allow_short and after < -_EPS * _py_max(1.0, abs(signed)):
                        o_kind[no] = KIND_RISK_REJECT
                        o_after[no] = after
                        no += 1
                        continue
            k = bar_index[s, i]
            o_k[no] = k
            o_status[no] = STATUS_OPEN
            if not (np.isfinite(qty) and qty > 0):
                o_kind[no] = KIND_REJECTED
                no += 1
                continue
            o_kind[no] = KIND_PLACED
            o = no
            no += 1
            last_order[p] = i
            if fill_close:
                nf = _execute(o, s, i, close, False, k, rule_close[r], o_buy, o_qty,
                              o_status, epos, ppos, f_order, f_price, f_qty, f_fee, f_bar,
                              f_k, f_at_open, nf, mult, taker_fee, slippage_bps)
                if o_status[o] == STATUS_CANCELLED:
                    cancelled += 1
                    continue
            else:
                pending[npend] = o
                npend += 1
                working[p] += 1
            if not rule_close[r]:
                entries[p] += 1
        ptr = end
        if npend > 0:
            i += 1
        else:
            i = cand_bar[ptr] if ptr < m else n
    f_sym = np.empty(nf, np.int64)
    f_buy = np.empty(nf, np.bool_)
    for j in range(nf):
        f_sym[j] = pair_sym[cand_pair[o_cand[f_order[j]]]]
        f_buy[j] = o_buy[f_order[j]]
    book = replay_kernel(f_sym, f_buy, f_qty[:nf].copy(), f_price[:nf].copy(),
                         f_fee[:nf].copy(), f_bar[:nf].copy(), multiplier, cash0)
    return (no, o_cand, o_kind, o_buy, o_qty, o_k, o_status, o_after,
            nf, f_order, f_price, f_qty, f_fee, f_bar, f_k, f_at_open,
            mark_bar, ppos, visited, cancelled, state_fill, state_sym, book)


@njit(cache=True)
def replay_kernel(f_sym: np.ndarray, f_buy: np.ndarray, f_qty: np.ndarray,
                  f_price: np.ndarray, f_fee: np.ndarray, f_bar: np.ndarray,
                  multiplier: np.ndarray, cash0: float) -> Any:
    """Book the fills as `Portfolio.apply` does (cash, net positions, average prices,
    round trips), with the same operations in the same order; return the closed
    trades and the account after each bar with fills."""
    nf = f_sym.shape[0]
    n_sym = multiplier.shape[0]
    q = np.zeros(n_sym)
    avg = np.zeros(n_sym)
    trip_open = np.zeros(n_sym, np.bool_)
    trip_long = np.zeros(n_sym, np.bool_)
    trip_entry_fill = np.zeros(n_sym, np.int64)
    entry_qty = np.zeros(n_sym)
    exit_qty = np.zeros(n_sym)
    exit_value = np.zeros(n_sym)
    exit_single = np.zeros(n_sym)
    gross = np.zeros(n_sym)
    tfees = np.zeros(n_sym)
    t_sym = np.empty(nf, np.int64)
    t_long = np.empty(nf, np.bool_)
    t_qty = np.empty(nf)
    t_entry_fill = np.empty(nf, np.int64)
    t_entry_price = np.empty(nf)
    t_exit_fill = np.empty(nf, np.int64)
    t_exit_price = np.empty(nf)
    t_pnl = np.empty(nf)
    t_fees = np.empty(nf)
    nt = 0
    s_bar = np.empty(nf + 1, np.int64)
    s_cash = np.empty(nf + 1)
    s_q = np.empty((nf + 1, n_sym))
    s_avg = np.empty((nf + 1, n_sym))
    ns = 0
    cash = cash0
    for j in range(nf):
        s = f_sym[j]
        qty = f_qty[j]
        price = f_price[j]
        fee = f_fee[j]
        m = multiplier[s]
        sign = 1.0 if f_buy[j] else -1.0
        cash -= fee
        close_qty = 0.0
        if q[s] != 0.0 and (q[s] > 0) != (sign > 0):
            held = abs(q[s])
            close_qty = held if qty >= held * (1 - _EPS) else qty
        open_qty = _py_max(0.0, qty - close_qty)
        if open_qty <= _EPS * qty:
            open_qty = 0.0
        close_fee = fee * close_qty / qty if qty > 0 else 0.0
        open_fee = fee - close_fee
        if close_qty > 0.0:
            direction = 1.0 if q[s] > 0 else -1.0
            pnl = close_qty * (price - avg[s]) * direction * m
            cash += pnl
            exit_qty[s] += close_qty
            exit_value[s] += close_qty * price
            if exit_qty[s] == close_qty:
                exit_single[s] = price
            elif exit_single[s] != price:
                exit_single[s] = np.nan
            gross[s] += pnl
            tfees[s] += close_fee
            remaining = q[s] - direction * close_qty
            if abs(remaining) <= _EPS * _py_max(close_qty, abs(q[s])):
                t_sym[nt] = s
                t_long[nt] = trip_long[s]
                t_qty[nt] = entry_qty[s]
                t_entry_fill[nt] = trip_entry_fill[s]
                t_entry_price[nt] = avg[s]
                t_exit_fill[nt] = j
                t_exit_price[nt] = (exit_single[s] if exit_single[s] == exit_single[s]
                                    else exit_value[s] / exit_qty[s])
                t_pnl[nt] = gross[s] - tfees[s]
                t_fees[nt] = tfees[s]
                nt += 1
                q[s] = 0.0
                avg[s] = 0.0
                trip_open[s] = False
            else:
                q[s] = remaining
        if open_qty > 0.0:
            if not trip_open[s]:
                trip_open[s] = True
                trip_long[s] = sign > 0
                trip_entry_fill[s] = j
                entry_qty[s] = 0.0
                exit_qty[s] = 0.0
                exit_value[s] = 0.0
                exit_single[s] = np.nan
                gross[s] = 0.0
                tfees[s] = 0.0
            held = abs(q[s])
            avg[s] = price if held == 0.0 else (held * avg[s] + open_qty * price) / (
                held + open_qty)
            q[s] += sign * open_qty
            entry_qty[s] += open_qty
            tfees[s] += open_fee
        elif close_qty == 0.0 and trip_open[s]:
            tfees[s] += fee
        if j + 1 == nf or f_bar[j + 1] != f_bar[j]:
            s_bar[ns] = f_bar[j]
            s_cash[ns] = cash
            s_q[ns, :] = q
            s_avg[ns, :] = avg
            ns += 1
    return (nt, t_sym, t_long, t_qty, t_entry_fill, t_entry_price, t_exit_fill,
            t_exit_price, t_pnl, t_fees, ns, s_bar, s_cash, s_q, s_avg, cash, q)
