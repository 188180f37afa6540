# The two front-door commands: `make demo` and `make test`.
# Both bootstrap their own virtual environment (.venv) on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tufrepo demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks .github/scripts
	$(BIN)/ruff format --check src tests benchmarks .github/scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# tuf-js, the independent TUF client the tests check every published repository with.
TUFJS := tests/js/node_modules/.package-lock.json
$(TUFJS): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $(TUFJS)

unit: $(STAMP) $(TUFJS)
	$(BIN)/pytest -q -n auto --dist loadfile

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
