"""The status line of a streaming run on a terminal: equity, positions, last bar, lag.

Refreshed in place (`\\r`) twice a second on stderr when it is a terminal; nothing is
printed when output is piped, so logs and CI stay clean.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TextIO

from runner.runtime.executor import RunStats
from runner.runtime.session import Session


class StatusLine:
    def __init__(self, out: TextIO, session: Session, stats: RunStats,
                 every_s: float = 0.5) -> None:
        self.out = out
        self.session = session
        self.stats = stats
        self.every_s = every_s
        self._width = 0

    def text(self) -> str:
        status = self.session.status()
        parts = [f"equity {status.equity:,.2f}"]
        held = ", ".join(f"{s} {q:+g}" for s, q in status.positions.items()) or "flat"
        parts.append(held)
        if status.last_bar_ms is not None:
            close_ms = status.last_bar_ms + self.session.base_ms
            when = datetime.fromtimestamp(close_ms / 1000, UTC)
            parts.append(f"bar {when:%Y-%m-%d %H:%M}Z")
            parts.append(f"lag {max(0.0, time.time() - close_ms / 1000):,.1f}s")
        parts.append(f"bars {status.bars:,}")
        if self.stats.dropped or self.stats.late:
            parts.append(f"dropped {self.stats.dropped} late {self.stats.late}")
        if self.session.halted:
            parts.append("HALTED")
        return " | ".join(parts)

    def draw(self) -> None:
        line = self.text()
        pad = max(0, self._width - len(line))
        self.out.write("\r" + line + " " * pad)
        self.out.flush()
        self._width = len(line)

    def clear(self) -> None:
        if self._width:
            self.out.write("\r" + " " * self._width + "\r")
            self.out.flush()
            self._width = 0

    async def run(self) -> None:
        while True:
            self.draw()
            await asyncio.sleep(self.every_s)


__all__ = ["StatusLine"]
