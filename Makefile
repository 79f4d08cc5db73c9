# `make demo` and `make test` each set up what they need: a venv in .venv with the
# project, its dev dependencies and every plugin distribution under plugins/ and
# examples/ installed in editable mode. The venv is refreshed when a pyproject changes.

PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml examples/*/pyproject.toml))

.PHONY: setup native test lint types unit demo schema bench clean chromium

# two jobs: the kernels compile while ruff and mypy run (the tests wait for them)
MAKEFLAGS += --jobs=2

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml examples/*/pyproject.toml)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' $(foreach d,$(PLUGIN_DIRS),-e $(d))
	@touch $@

# the hot numba kernels compiled ahead of time (runner/native): a run then needs no
# numba; without a C compiler this says so and every kernel runs through the JIT
native: $(STAMP)
	@$(BIN)/python -m runner.native.build --if-stale || true

setup: $(STAMP) native

lint: $(STAMP)
	$(BIN)/ruff check .

PLUGIN_SRC := $(wildcard plugins/*/src)
PLUGIN_TESTS := $(wildcard plugins/*/tests)

types: $(STAMP)
	$(BIN)/mypy runner $(PLUGIN_SRC)

# on every core (pytest-xdist): about half the wall time on the 2-core CI machine
unit: setup
	$(BIN)/python -m pytest -q -n auto tests $(PLUGIN_TESTS)

# the report's browser test needs headless Chromium: installed when missing and apt-get
# can (as root); otherwise, or when the install fails, that test skips and says why
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && { apt-get update -qq >/dev/null 2>&1; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
		|| echo "chromium not installed: the report's browser test will skip"; }

test: lint types chromium unit

demo: setup
	$(BIN)/runner validate strategies.d/ examples/
	$(BIN)/runner run examples/sma_cross.yaml --mode backtest --out runs/demo --json

schema: setup
	RUNNER_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/runner schema --out schemas  # built-ins only: what tests/meta checks

bench: setup
	$(BIN)/python -m runner.bench.validate
	$(BIN)/python -m runner.bench.indicators
	$(BIN)/python -m runner.bench.backtest
	$(BIN)/python -m runner.bench.ticks
	$(BIN)/python -m runner.bench.paper
	$(BIN)/python -m runner.bench.report

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
