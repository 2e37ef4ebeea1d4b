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
	@echo "make lint   - ruff, mypy and the import-linter layer contracts"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.installed-base: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) -e '.[models]'
	@touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base

install-test: $(VENV)/.installed-test

# The main job, offline: embed the demo AOI of the bundled sample catalog
# (search -> S1/S2 cube -> CROMA-base -> GeoParquet), then a quicklook of the
# cube. CROMA-base's pretrained weights are used when their file is already
# in the torch hub cache; otherwise the demo says so and runs CROMA-base with
# random weights (a pipeline check: the numbers mean nothing).
demo: install
	@if $(BIN)/python -c "import sys; from geomm.models import model_info; \
		sys.exit(model_info('croma-base').weights_path() is None)"; then \
		echo "demo: CROMA-base pretrained weights found in the torch hub cache"; W=""; \
	else \
		echo "demo: CROMA-base weights are not in the torch hub cache and the demo stays offline:"; \
		echo "      running with RANDOM weights (a pipeline check; embeddings carry no meaning)."; \
		echo "      'geomm models' shows where the file goes; 'geomm embed' without --weights downloads it."; \
		W="--weights random"; \
	fi; \
	$(BIN)/geomm embed --catalog sample --aoi catalogs/sample/aoi.geojson \
		--start 2024-06-01 --end 2024-07-31 --model croma-base $$W \
		--out $(DEMO_OUT)/demo-embeddings.parquet --overwrite
	$(BIN)/geomm quicklook $(DEMO_OUT)/demo-embeddings.cube.zarr --out $(DEMO_OUT)/demo-quicklook.png
	@echo "Embeddings: $(DEMO_OUT)/demo-embeddings.parquet  (Python: geomm.embed.read_table('$(DEMO_OUT)/demo-embeddings.parquet'))"
	@echo "Cube: $(DEMO_OUT)/demo-embeddings.cube.zarr  (Python: geomm.open_cube('$(DEMO_OUT)/demo-embeddings.cube.zarr'))"
	@echo "Quicklook: $(DEMO_OUT)/demo-quicklook.png"

test: install-test
	$(BIN)/python -m pytest

# ruff (style, stale noqa, complexity), mypy (types; strict below the CLI)
# and import-linter (the layer contracts in pyproject.toml).
lint: install-test
	$(BIN)/ruff check geomm tests scripts bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
