"""The compact metrics table printed at the end of a backtest.

On a terminal it is a rich table (two metric/value column pairs); piped, it is plain
aligned text with no escape codes, so logs and `grep` read it. rich is imported only
for a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from runner.report.format import TERMINAL_METRICS, format_value, lookup


def summary_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) of `TERMINAL_METRICS`."""
    return [(label, format_value(lookup(summary, key), kind))
            for label, key, kind in TERMINAL_METRICS]


def _pairs(rows: list[tuple[str, str]]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (2 * half - len(rows))
    return list(zip(left, right, strict=True))


def plain_summary(summary: Mapping[str, Any]) -> str:
    """The table as aligned plain text (labels left, values right), two pairs a line."""
    rows = summary_rows(summary)
    label_w = max(len(label) for label, _ in rows)
    value_w = max(len(value) for _, value in rows)
    lines = [f"{summary.get('name', '')} ({summary.get('mode', '')}): "
             f"{format_value(summary.get('start'), 'time')} → "
             f"{format_value(summary.get('end'), 'time')}"]
    for (la, va), (lb, vb) in _pairs(rows):
        line = f"{la:<{label_w}}  {va:>{value_w}}"
        if lb:
            line += f"    {lb:<{label_w}}  {vb:>{value_w}}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def print_summary(summary: Mapping[str, Any], stream: TextIO, *,
                  rich: bool | None = None) -> None:
    """Print the table: rich when `stream` is a terminal (or `rich=True`), else plain."""
    if rich is None:
        rich = stream.isatty()
    if not rich:
        stream.write(plain_summary(summary) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary.get('name', '')} ({summary.get('mode', '')}) "
                  f"{format_value(summary.get('start'), 'time')} → "
                  f"{format_value(summary.get('end'), 'time')}",
                  show_header=False, box=None, padding=(0, 1), title_justify="left")
    for _ in range(2):
        table.add_column(style="bold")
        table.add_column(justify="right")
    for (la, va), (lb, vb) in _pairs(summary_rows(summary)):
        table.add_row(la, _styled(va), lb, _styled(vb))
    Console(file=stream, highlight=False).print(table)


def _styled(value: str) -> str:
    return f"[red]{value}[/red]" if value.startswith("-") else value


__all__ = ["plain_summary", "print_summary", "summary_rows"]
