"""Secrets never leak (DESIGN §8): after a faulted live run against FakeBinance with
distinctive credentials, neither the API key nor the secret is in any file the run
wrote (outputs, the journal's SQLite bytes, its WAL) nor in what it printed or logged
(stdout, stderr, every log record at DEBUG)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from live_market import assert_books_agree
from test_binance_live_e2e import run_with_faults

from runner.plugins import Registry, load_registry

KEY = "KEYzq8Rk2uXw7LmN4pVt9sYb3HcJ6dFgA1eQ5oWiU0rTyE"
SECRET = "SECRETmB7xP2kL9qZ4wV6nR1tY8uC3jH5gF0dS2aE7iO"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(autoload=False, extra=["runner_binance.plugin"])


def test_no_credential_in_any_file_output_or_log(registry: Registry, tmp_path: Path,
                                                 capfd: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    measured, market, out = run_with_faults(registry, tmp_path, 60, seed=3, api_key=KEY,
                                            api_secret=SECRET)
    try:
        outcome = measured.outcome
        assert outcome is not None and outcome.stopped
        # the run did trade with these credentials (signed calls verified server-side)
        assert market.call(lambda: len(market.venue.submitted)) > 10
        assert market.call(lambda: market.fake.signature_failures) == 0
        market.call(lambda: assert_books_agree(market.venue, outcome.journal, out))
    finally:
        market.__exit__(None, None, None)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite") for p in files) and (out / "fills.csv").is_file()
    needles = [s.encode() for s in (KEY, SECRET)] + [
        s.encode("utf-16-le") for s in (KEY, SECRET)]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"a credential is in {path}"
    captured = capfd.readouterr()
    texts = [captured.out, captured.err, caplog.text,
             *(repr(r.args) for r in caplog.records), repr(outcome)]
    for text in texts:
        assert KEY not in text and SECRET not in text
    assert caplog.records, "nothing was logged: the log check would prove nothing"
