"""Did-you-mean hints, shared by every place that rejects a name.

Most unknown names are typos or wrong capitalization (`ethusdt.close`,
`America/chicago`), so a case-insensitive exact match is tried before fuzzy
matching; both only run on the error path, so their cost never reaches a valid
strategy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` most likely meant, or `None` if nothing is close."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = word.casefold()
    if folded in by_folded:
        return by_folded[folded]
    matches = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    return by_folded[matches[0]] if matches else None


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """A hint such as `did you mean "fast"?`, or `None` if nothing is close."""
    match = closest(word, candidates)
    return None if match is None else f'did you mean "{match}"?'
