# `make demo` and `make test` do all set-up on a fresh machine: a local .venv, the package, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench emulator clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/session-reaper demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

test: lint types unit

bench: $(STAMP)
	$(BIN)/python benchmarks/emulator_load.py

emulator: $(STAMP)
	$(BIN)/session-reaper emulator

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
