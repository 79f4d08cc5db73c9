"""The state journal of paper and live runs (`state.sqlite`); see `store.Journal`."""

from runner.journal.store import Event, Journal, JournalError

__all__ = ["Event", "Journal", "JournalError"]
