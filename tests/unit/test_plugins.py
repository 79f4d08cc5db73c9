"""The plugin manager: built-ins first, entry points, failures reported by name."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

from runner.plugins import BUILTIN_PLUGINS, build_registry, get_plugin_manager, load_registry


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests install fake distributions with entry points."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fake_runner_")]:
        del sys.modules[name]


def install(site: Path, dist: str, module: str, source: str) -> None:
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[runner]\n{module} = {module}\n", encoding="utf-8")


GOOD = """
    from runner import ExchangeDef, hookimpl
    @hookimpl
    def register_exchanges():
        return [ExchangeDef(name="fakex")]
"""


def test_builtins_register_through_the_hooks() -> None:
    registry = load_registry(autoload=False)
    assert [p.name for p in registry.plugins] == list(BUILTIN_PLUGINS)
    assert {"sma", "ema", "wma", "rsi", "atr", "macd", "bbands", "stoch", "adx",
            "vwap"} <= set(registry.indicators)
    assert set(registry.exchanges) == {"sim"}
    assert set(registry.data_sources) == {"parquet", "csv"}
    assert "crosses_above" in registry.functions
    assert registry.owners[("indicators", "sma")] == "runner.indicators"
    assert not registry.problems


def test_entry_point_plugin_is_autoloaded_with_its_version(site: Path) -> None:
    install(site, "fake-runner-good", "fake_runner_good", GOOD)
    registry = load_registry(autoload=True)
    info = next(p for p in registry.plugins if p.name == "fake_runner_good")
    assert info.version == "1.2.3" and "fake-runner-good" in info.source
    assert info.registers == {"exchanges": ["fakex"]}
    assert "fakex" in registry.exchanges


def test_autoload_can_be_disabled(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "fake-runner-good", "fake_runner_good", GOOD)
    monkeypatch.setenv("RUNNER_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "fakex" not in load_registry().exchanges


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_load(site: Path) -> None:
    install(site, "fake-runner-broken", "fake_runner_broken", "raise ImportError('no numpy')")
    install(site, "fake-runner-good", "fake_runner_good", GOOD)
    registry = load_registry(autoload=True)
    broken = next(p for p in registry.plugins if p.name == "fake_runner_broken")
    assert broken.error is not None and "no numpy" in broken.error
    assert any("fake_runner_broken" in p for p in registry.problems)
    assert "fakex" in registry.exchanges and "sma" in registry.indicators


def test_a_hook_that_raises_is_reported(site: Path) -> None:
    install(site, "fake-runner-raises", "fake_runner_raises", """
        from runner import hookimpl
        @hookimpl
        def register_indicators():
            raise RuntimeError("boom")
    """)
    registry = load_registry(autoload=True)
    assert any("fake_runner_raises" in p and "boom" in p for p in registry.problems)
    assert "sma" in registry.indicators


def test_a_name_claimed_twice_names_both_plugins_and_keeps_the_first(site: Path) -> None:
    install(site, "fake-runner-clash", "fake_runner_clash", """
        from runner import ExchangeDef, hookimpl
        @hookimpl
        def register_exchanges():
            return [ExchangeDef(name="sim", description="impostor")]
    """)
    registry = load_registry(autoload=True)
    assert any('"sim"' in p and "runner.sim" in p and "fake_runner_clash" in p
               for p in registry.problems)
    assert registry.exchanges["sim"].description != "impostor"


def test_a_wrong_definition_type_is_reported(site: Path) -> None:
    install(site, "fake-runner-wrong", "fake_runner_wrong", """
        from runner import hookimpl
        @hookimpl
        def register_indicators():
            return ["sma"]
    """)
    registry = load_registry(autoload=True)
    assert any("fake_runner_wrong" in p and "IndicatorDef" in p for p in registry.problems)


def test_a_misspelt_hook_fails_check_pending(site: Path) -> None:
    (site / "fake_runner_typo.py").write_text(
        "from runner import hookimpl\n@hookimpl\ndef register_indicator():\n    return []\n",
        encoding="utf-8")
    with pytest.raises(pluggy.PluginValidationError):
        get_plugin_manager(autoload=False, extra=["fake_runner_typo"])


def test_each_call_builds_a_fresh_manager() -> None:
    pm1, infos1 = get_plugin_manager(autoload=False)
    pm2, _ = get_plugin_manager(autoload=False)
    assert pm1 is not pm2
    assert build_registry(pm1, infos1).exchanges.keys() == {"sim"}
