# geomm developer entry points. `make demo` and `make test` work on a fresh
# clone: they create .venv, install geomm with the tested pins
# (requirements/constraints.txt) and run. Override the interpreter with
# `make PYTHON=python3.12 ...`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c $(CONSTRAINTS)
DEMO_OUT ?= out

.PHONY: demo test install install-test lint clean help

help:
	@echo "make demo   - create .venv, install geomm, run the main job on the bundled sample catalog (offline)"
	@echo "make test   - install the test extras and run the whole test suite"
	@echo "make lint   - ruff over the package and tests"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.installed-base: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base

install-test: $(VENV)/.installed-test

# The furthest stage built so far: an S1/S2 cube of the sample catalog over the
# demo AOI, and a quicklook of it.
demo: install
	$(BIN)/geomm cube --catalog sample --aoi catalogs/sample/aoi.geojson \
		--start 2024-06-01 --end 2024-07-31 --out $(DEMO_OUT)/demo-cube.zarr --overwrite
	$(BIN)/geomm quicklook $(DEMO_OUT)/demo-cube.zarr --out $(DEMO_OUT)/demo-quicklook.png
	@echo "Cube: $(DEMO_OUT)/demo-cube.zarr  (Python: geomm.cube.open_cube('$(DEMO_OUT)/demo-cube.zarr'))"
	@echo "Quicklook: $(DEMO_OUT)/demo-quicklook.png"

test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check geomm tests scripts

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
