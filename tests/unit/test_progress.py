"""The progress bar: silent and rich-free when piped, drawing on a terminal."""

from __future__ import annotations

import sys

import pytest

from runner.progress import progress_bar


def test_piped_output_gets_a_silent_callback(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("work", enabled=False) as update:
        update(1, 2)
        update(2, 2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_terminal_gets_a_transient_bar() -> None:
    with progress_bar("work", enabled=True) as update:
        for done in range(0, 101, 10):
            update(done, 100)
    assert "rich" in sys.modules


def test_default_follows_whether_stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with progress_bar("work") as update:
        assert update.__name__ == "_quiet"
