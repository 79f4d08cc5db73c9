"""Every shipped strategy validates clean, and the committed schema is not stale."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from runner.config.loader import load_file
from runner.config.schema import SCHEMA_FILENAME, build_schema
from runner.config.validate import expand_paths, validate_file
from runner.plugins import Registry, load_registry

ROOT = Path(__file__).resolve().parents[2]
VALID = sorted(expand_paths([str(ROOT / "strategies.d"), str(ROOT / "examples")])[0])
EXAMPLE_PLUGIN = ROOT / "examples" / "runner-example-plugin"
GOLDEN = sorted((ROOT / "tests/unit/config/cases").glob("*.yaml"))
SCHEMA_LEVEL = ("yaml-syntax", "unknown-field", "missing-field", "invalid-type",
                "not-a-mapping", "unknown-type")


def test_enough_strategies_ship() -> None:
    assert len(list((ROOT / "strategies.d").glob("*.yaml"))) >= 6
    assert list((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_shipped_strategy_validates_clean(path: Path, registry: Registry,
                                          example_plugin_registry: Registry) -> None:
    if EXAMPLE_PLUGIN in path.parents:
        registry = example_plugin_registry  # that strategy uses the plugin's indicator
    result = validate_file(path, registry)
    assert result.diagnostics == []
    assert result.strategy is not None


def builtin_schema() -> dict[str, object]:
    return build_schema(load_registry(autoload=False))


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "schemas" / SCHEMA_FILENAME).read_text(encoding="utf-8"))
    assert committed == builtin_schema(), "schemas/ is stale: run `make schema`"


def test_schema_is_draft_07() -> None:
    schema = builtin_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    text = json.dumps(schema)
    for keyword in ("$defs", "prefixItems", "unevaluatedProperties", "dependentRequired"):
        assert keyword not in text


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_schema_accepts_valid_files(path: Path, example_plugin_registry: Registry) -> None:
    schema = (build_schema(example_plugin_registry) if EXAMPLE_PLUGIN in path.parents
              else builtin_schema())
    validator = jsonschema.Draft7Validator(schema)
    data = load_file(path).data
    errors = list(validator.iter_errors(data))
    assert not errors, [e.message for e in errors]


def _schema_level(path: Path) -> bool:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    codes = {line.split("[", 1)[1].split("]", 1)[0] for line in expected.splitlines()
             if "error[" in line}
    return bool(codes & set(SCHEMA_LEVEL)) and "secret-in-file" not in codes


@pytest.mark.parametrize("path", [p for p in GOLDEN if _schema_level(p)], ids=lambda p: p.name)
def test_schema_rejects_schema_level_golden_cases(path: Path) -> None:
    validator = jsonschema.Draft7Validator(
        build_schema(load_registry(autoload=False, extra=["tests.fixtures.limitedx"])),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    loaded = load_file(path)
    if loaded.data is None:  # not YAML, or not a mapping: nothing for a schema to see
        assert loaded.diagnostics
        return
    assert list(validator.iter_errors(loaded.data)), f"{path.name} passed the schema"
