"""Shared fixtures: a registry of built-ins plus the test venue, with no autoload.

Tests never depend on what happens to be pip-installed on the machine: entry-point
autoloading is off unless a test turns it on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.plugins import Registry, load_registry

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_PLUGINS = "tests.fixtures.limitedx"
EXAMPLE_PLUGIN = "runner_example_plugin"
"""The example third-party distribution in examples/, which `make setup` installs."""


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(autoload=False, extra=[TEST_PLUGINS])


@pytest.fixture(scope="session")
def example_plugin_registry() -> Registry:
    return load_registry(autoload=False, extra=[TEST_PLUGINS, EXAMPLE_PLUGIN])


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs: built-ins, the test venue and the example plugin
    (whose strategy in examples/ the CLI tests validate)."""
    env = {"RUNNER_DISABLE_PLUGIN_AUTOLOAD": "1",
           "RUNNER_PLUGINS": f"{TEST_PLUGINS},{EXAMPLE_PLUGIN}"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
