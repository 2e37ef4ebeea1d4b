"""Start-up costs nothing: importing a layer does not import what only its work needs.

Measured as the set of modules an import pulls in (deterministic), not as a
time (noisy on a shared machine): each layer has a list of heavy packages it
must leave for the functions that use them. bench/startup.py measures the
times; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY_ML = ["torch", "torchvision", "torchgeo", "open_clip", "sklearn", "matplotlib"]
HEAVY_ARRAYS = ["xarray", "dask.array", "dask.distributed", "zarr", "rioxarray", "odc.stac"]
HEAVY_TABLES = ["geopandas", "pyarrow", "pandas"]

BUDGET = {
    "geomm": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES + ["rasterio", "pystac"],
    "geomm.errors": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES + ["rasterio", "pystac", "numpy"],
    "geomm.stac": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES + ["rasterio"],
    "geomm.cube": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES,
    "geomm.chips": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES,
    "geomm.models": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES,
    # importing geomm.embed registers the ds.geomm accessor (documented): xarray, and
    # pandas (and pyarrow, which pandas loads when installed) with it, are its price
    "geomm.embed": HEAVY_ML + [m for m in HEAVY_ARRAYS if m != "xarray"] + ["geopandas"],
    "geomm.contrastive": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES,
    "geomm.cli": HEAVY_ML + HEAVY_ARRAYS + HEAVY_TABLES + ["rasterio", "pystac"],
}


def _imported_by(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(BUDGET))
def test_importing_a_layer_leaves_heavy_modules_for_later(module: str) -> None:
    loaded = _imported_by(module)
    assert sorted(m for m in BUDGET[module] if m in loaded) == []
