"""A progress bar for long work on a terminal, and silence when piped (DESIGN §5).

    with progress_bar("backtest") as update:
        work(progress=update)          # update(done, total), as often as convenient

On a terminal (stderr is a TTY) this draws a transient rich progress bar that is
gone when the work ends; otherwise `update` does nothing and rich is not imported,
so piped and CI runs pay nothing for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Update = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    return None


@contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[Update]:
    """Yield an `update(done, total)` callback drawing a bar while the block runs."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield _quiet
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
