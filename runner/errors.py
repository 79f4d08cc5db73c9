"""The exception tree of `runner`.

    RunnerError                 base of everything runner raises on purpose
    ├── ConfigError             a strategy file is invalid; carries Diagnostic records
    ├── UsageError              the command line itself is wrong (exit 2)
    ├── PluginError             a plugin failed to load or registered a clashing name
    ├── ExchangeError           a venue or data source failed (exit 3)
    │   ├── TransientExchangeError   worth retrying (network, 5xx, rate limit)
    │   └── FatalExchangeError       not worth retrying (auth, rejected, bad symbol)
    ├── RiskLimitBreached       a risk limit halted the run (exit 4)
    └── InternalError           a bug in runner itself

A validation problem is not an exception: it is a `Diagnostic` record
(`runner.config.diagnostics`). `ConfigError` only wraps a batch of them for callers
that want to stop on the first invalid file. Every exception builds its message in
`__str__` from structured fields so callers can inspect them rather than parse text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.config.diagnostics import Diagnostic


class RunnerError(Exception):
    """Base of every error runner raises on purpose; `exit_code` is the CLI's."""

    exit_code = 3


class ConfigError(RunnerError):
    exit_code = 1

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__()
        self.diagnostics = tuple(diagnostics)

    def __str__(self) -> str:
        return "\n".join(d.render_line() for d in self.diagnostics)


class UsageError(RunnerError):
    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__()
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f" ({self.hint})" if self.hint else "")


class PluginError(RunnerError):
    exit_code = 3

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__()
        self.plugin = plugin
        self.message = message

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: {self.message}"


class ExchangeError(RunnerError):
    exit_code = 3

    def __init__(self, venue: str, message: str) -> None:
        super().__init__()
        self.venue = venue
        self.message = message

    def __str__(self) -> str:
        return f"{self.venue}: {self.message}"


class TransientExchangeError(ExchangeError):
    pass


class FatalExchangeError(ExchangeError):
    pass


class RiskLimitBreached(RunnerError):
    exit_code = 4

    def __init__(self, limit: str, reason: str) -> None:
        super().__init__()
        self.limit = limit
        self.reason = reason

    def __str__(self) -> str:
        return f"risk limit {self.limit} breached: {self.reason}"


class InternalError(RunnerError):
    exit_code = 3
