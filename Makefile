# The two commands a new user runs: `make run` and `make test`.
# Each creates .venv when missing and (re)installs only when pyproject.toml changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLES := resources/samples

.PHONY: run test bench lint typecheck package clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,train]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fracture-desktop $(SAMPLES)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy on fracture_desktop/core (configured in pyproject.toml); part of `make test`.
typecheck: $(STAMP)
	$(BIN)/python -m mypy

package:
	$(MAKE) -C build_scripts package

clean:
	rm -rf $(VENV) build dist
