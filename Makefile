# `make demo` and `make test` do all set-up on a fresh machine: a local .venv, the package, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench soak emulator clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/session-reaper demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	scripts/ensure-chromium
	scripts/ensure-postgres
	$(BIN)/pytest -q -n 3 --dist loadgroup $(PYTEST_ARGS)

test: lint types unit

# Figures go to docs/benchmarks.md (each script rewrites only its own section) and benchmarks/results.json.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.emulator_load
	SESSION_REAPER_TEST_POSTGRES_URL=$${SESSION_REAPER_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	  $(BIN)/python -m benchmarks.ledger_write
	SESSION_REAPER_TEST_POSTGRES_URL=$${SESSION_REAPER_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	  $(BIN)/python -m benchmarks.journal_calls --write-docs
	$(BIN)/python -m benchmarks.api_cost --write-docs
	$(BIN)/python -m benchmarks.compare
	$(BIN)/python -m benchmarks.events_throughput
	$(BIN)/python -m benchmarks.scale

# A virtual week of `serve --apply` under a fault schedule (~17 min wall); not part of `make test`
# (tests/test_soak_smoke.py runs its one-hour smokes there). Figures: benchmarks/results.json "soak";
# docs/reliability.md. The events mode with its socket faults, at a speed-up one serve keeps up with (120x,
# 84 min; run R): make soak SOAK_ARGS="--mode events --wall 5040".
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)

emulator: $(STAMP)
	$(BIN)/session-reaper emulator

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
