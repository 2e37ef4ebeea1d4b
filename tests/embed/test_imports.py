"""``import geomm.embed`` stays light: the runner, tables, Dask and torch load on first use."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(run.stdout.split())


def test_importing_geomm_embed_loads_no_runner_table_dask_or_torch() -> None:
    loaded = _modules_after("import geomm.embed")
    heavy = {"torch", "torchgeo", "geopandas", "dask", "distributed", "geomm.cube", "geomm.chips"}
    assert not heavy & loaded, heavy & loaded
    assert "geomm.embed._run" not in loaded and "geomm.embed._table" not in loaded


def test_names_load_on_first_use_and_the_accessor_is_registered() -> None:
    code = (
        "import xarray as xr, geomm.embed as e\n"
        "assert hasattr(xr.Dataset(), 'geomm')\n"
        "assert e.ModelSpec().name == 'croma-base' and 'make_embeddings' in dir(e)\n"
        "from geomm.embed import embed_cube, read_table\n"
    )
    loaded = _modules_after(code)
    assert "geomm.embed._run" in loaded and "torch" not in loaded


def test_listing_models_does_not_import_torch() -> None:
    loaded = _modules_after("import geomm.models as m\nm.list_models()")
    assert not {"torch", "torchgeo", "xarray", "pyarrow", "dask"} & loaded
