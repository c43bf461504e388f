# The two commands a new user runs: `make run` and `make test`.
# Each creates .venv when missing and (re)installs only when pyproject.toml changed: `make run`
# the app's runtime dependencies alone (ONNX Runtime reads the model: no torch, a short
# install), `make test` also the dev and train extras (PyTorch among them: a few minutes).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
SAMPLES := resources/samples

.PHONY: run test bench lint typecheck package clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves the package's own modules uncompiled; compiling them here spares
# the viewer's first start that (0.1 s of its cold start: docs/PACKAGING.md) and, where
# PYTHONDONTWRITEBYTECODE is set, every start until the sources change.
COMPILE := $(BIN)/python -m compileall -q fracture_desktop

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(COMPILE)
	touch $@

# Everything `make run` needs too, so a later `make run` installs nothing.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,train]"
	$(COMPILE)
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/fracture-desktop $(SAMPLES)

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

# mypy on fracture_desktop/core (configured in pyproject.toml); part of `make test`.
typecheck: $(TEST_STAMP)
	$(BIN)/python -m mypy

package:
	$(MAKE) -C build_scripts package

clean:
	rm -rf $(VENV) build dist
