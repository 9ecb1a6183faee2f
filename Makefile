# tradetalk: `make run` starts the demo, `make test` runs the whole suite.
# Both set up .venv on first use; only Python 3.11+ and make are needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install install-bench lint typecheck pytest bench bench-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tradetalk needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The benchmarks' extras (matplotlib for the plots, scrubadub beside the shield).
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

install-bench: $(BENCH_STAMP)

run: install
	$(BIN)/tradetalk demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -n 2

test: lint typecheck pytest

# Every benchmark in turn (about 16 minutes here); JSON and logs in bench/results/, plots in
# bench/results/plots/. bench-quick: the same at small sizes, a smoke run of a minute or two.
bench: install-bench
	$(BIN)/python bench/run_all.py

bench-quick: install-bench
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
