# The two commands: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint typecheck system bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

system:
	bash scripts/setup-system.sh

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy

test: $(BIN)/.installed system lint typecheck
	BIN=$(BIN) bash scripts/run-tests.sh

# Two examples (and their fake upstreams), `watchkeeper up` on their specs, traffic, a
# fault after a minute; DEMO_SECONDS (default 300) bounds it, Ctrl-C stops it cleanly.
# `system` starts PostgreSQL and Redis on 127.0.0.1 (llm_gateway needs both).
demo: $(BIN)/.installed system
	$(BIN)/python examples/demo.py

bench: $(BIN)/.installed system
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
