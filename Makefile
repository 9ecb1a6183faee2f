# tradetalk: `make run` starts the demo, `make test` runs the whole suite.
# Both set up .venv on first use; only Python 3.11+ and make are needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install install-bench lint typecheck pytest pytest-compiled-shield \
	shield-compiled bench bench-quick bench-shield clean

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

# The contact shield compiled with mypyc (optional, needs a C compiler): the wheel a production
# install with TRADETALK_COMPILE_SHIELD=1 gets, built in build/shield-wheel and unpacked into
# build/shield-compiled, away from src/ (whose .py files stay what the editable install runs).
SHIELD_COMPILED := build/shield-compiled
shield-compiled: install
	rm -rf build/shield-wheel $(SHIELD_COMPILED)
	TRADETALK_COMPILE_SHIELD=1 $(BIN)/python -m pip wheel --quiet --no-deps -w build/shield-wheel .
	$(BIN)/python -m pip install --quiet --no-deps --target $(SHIELD_COMPILED) \
		build/shield-wheel/tradetalk-*.whl

# The shield's tests again, against the compiled build, where a C compiler and Python's headers
# are there to make it (TRADETALK_EXPECT_COMPILED_SHIELD makes them check that the compiled
# modules were imported).
HAVE_CC := $(shell $(PYTHON) -c 'import os, shutil, sysconfig as s; cc = (s.get_config_var("CC") or "cc").split()[0]; h = os.path.join(s.get_paths()["include"], "Python.h"); print(1 if shutil.which(cc) and os.path.exists(h) else "")')
pytest-compiled-shield: install
ifeq ($(HAVE_CC),1)
	$(MAKE) shield-compiled
	PYTHONPATH=$(SHIELD_COMPILED) TRADETALK_EXPECT_COMPILED_SHIELD=1 $(BIN)/pytest -n 2 tests/protection
else
	@echo "no C compiler or Python headers: the compiled shield is neither built nor tested"
endif

test: lint typecheck pytest pytest-compiled-shield

# Every benchmark in turn (about 16 minutes here); JSON and logs in bench/results/, plots in
# bench/results/plots/. bench-quick: the same at small sizes, a smoke run of a minute or two.
# The shield's benchmark measures the compiled build, as production runs it, where a C compiler
# can make it (bench/run_all.py's TRADETALK_BENCH_COMPILED_SHIELD).
bench: install-bench
ifeq ($(HAVE_CC),1)
	$(MAKE) shield-compiled
	TRADETALK_BENCH_COMPILED_SHIELD=1 $(BIN)/python bench/run_all.py
else
	$(BIN)/python bench/run_all.py
endif

bench-quick: install-bench
	$(BIN)/python bench/run_all.py --quick

# The shield's benchmark on the compiled build (bench/scan.py's "shield_build" says which ran).
bench-shield: install-bench shield-compiled
	PYTHONPATH=$(SHIELD_COMPILED) $(BIN)/python bench/scan.py

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache
