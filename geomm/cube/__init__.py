"""Analysis-ready Sentinel-1/Sentinel-2 cubes on one chip-aligned grid.

``build_cube`` pairs each S2 acquisition with the closest S1 pass, loads both
onto one UTM grid with geomm's own reader (lazy Dask tasks; odc-stac is kept
as the reference reader to compare against), harmonizes S2 reflectance,
converts S1 to dB and derives a clear-sky mask; ``write_cube`` writes it to
Zarr v3 block by block (resumable); ``open_cube`` opens it with its CRS;
``quicklook`` draws one time step (``pick_time`` says which). Pixels come
from a :class:`Reader` (``GeommReader`` by default, ``OdcReader`` the
odc-stac reference): block requests in, mosaicked arrays and a validity mask
out, no Zarr or Dask inside (docs/cube.md, "The reader seam").

The names below load on first use (PEP 562): ``import geomm.cube``, and a
command that needs only ``parse_size`` or ``verify_cube``, costs no Dask,
xarray or Zarr import until a name that needs one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geomm._lazy import lazy_names

if TYPE_CHECKING:
    from geomm.cube._build import CubeConfig, CubePlan, build_cube, plan_cube
    from geomm.cube._composite import CompositeError, CompositeSpec, composite
    from geomm.cube._geomm_reader import GeommReader
    from geomm.cube._grid import (
        DEFAULT_MAX_SIZE,
        CubeGrid,
        CubeSize,
        GridError,
        cube_grid,
        cube_size,
        parse_size,
        utm_crs_for,
    )
    from geomm.cube._load import RESAMPLING, LoadOptions
    from geomm.cube._make import CubeRun, dask_scheduler, make_cube
    from geomm.cube._manifest import DamagedChunk, VerifyReport
    from geomm.cube._odc_reader import OdcReader
    from geomm.cube._open import open_cube, verify_cube
    from geomm.cube._pairing import Acquisition, Pair, PairingRule, pair_items
    from geomm.cube._quicklook import QuicklookError, pick_time, quicklook
    from geomm.cube._reader import (
        Block,
        BlockRequest,
        GridWindow,
        Mosaic,
        PixelWindow,
        Reader,
        Sensor,
    )
    from geomm.cube._store import CubeStoreError, WriteReport, write_cube

_EXPORTS = {
    "CubeConfig": "geomm.cube._build",
    "CubePlan": "geomm.cube._build",
    "build_cube": "geomm.cube._build",
    "plan_cube": "geomm.cube._build",
    "CompositeError": "geomm.cube._composite",
    "CompositeSpec": "geomm.cube._composite",
    "composite": "geomm.cube._composite",
    "DEFAULT_MAX_SIZE": "geomm.cube._grid",
    "CubeGrid": "geomm.cube._grid",
    "CubeSize": "geomm.cube._grid",
    "GridError": "geomm.cube._grid",
    "cube_grid": "geomm.cube._grid",
    "cube_size": "geomm.cube._grid",
    "parse_size": "geomm.cube._grid",
    "utm_crs_for": "geomm.cube._grid",
    "RESAMPLING": "geomm.cube._load",
    "LoadOptions": "geomm.cube._load",
    "CubeRun": "geomm.cube._make",
    "dask_scheduler": "geomm.cube._make",
    "make_cube": "geomm.cube._make",
    "DamagedChunk": "geomm.cube._manifest",
    "VerifyReport": "geomm.cube._manifest",
    "open_cube": "geomm.cube._open",
    "verify_cube": "geomm.cube._open",
    "Acquisition": "geomm.cube._pairing",
    "Pair": "geomm.cube._pairing",
    "PairingRule": "geomm.cube._pairing",
    "pair_items": "geomm.cube._pairing",
    "QuicklookError": "geomm.cube._quicklook",
    "pick_time": "geomm.cube._quicklook",
    "quicklook": "geomm.cube._quicklook",
    "CubeStoreError": "geomm.cube._store",
    "WriteReport": "geomm.cube._store",
    "write_cube": "geomm.cube._store",
    "Block": "geomm.cube._reader",
    "BlockRequest": "geomm.cube._reader",
    "GridWindow": "geomm.cube._reader",
    "Mosaic": "geomm.cube._reader",
    "PixelWindow": "geomm.cube._reader",
    "Reader": "geomm.cube._reader",
    "Sensor": "geomm.cube._reader",
    "GeommReader": "geomm.cube._geomm_reader",
    "OdcReader": "geomm.cube._odc_reader",
}
"""Public name -> the private module that defines it."""


__all__ = [
    "DEFAULT_MAX_SIZE",
    "RESAMPLING",
    "Acquisition",
    "Block",
    "BlockRequest",
    "CompositeError",
    "CompositeSpec",
    "CubeConfig",
    "CubeGrid",
    "CubePlan",
    "CubeRun",
    "CubeSize",
    "CubeStoreError",
    "DamagedChunk",
    "GeommReader",
    "GridError",
    "GridWindow",
    "LoadOptions",
    "Mosaic",
    "OdcReader",
    "Pair",
    "PairingRule",
    "PixelWindow",
    "QuicklookError",
    "Reader",
    "Sensor",
    "VerifyReport",
    "WriteReport",
    "build_cube",
    "composite",
    "cube_grid",
    "cube_size",
    "dask_scheduler",
    "make_cube",
    "open_cube",
    "pair_items",
    "parse_size",
    "pick_time",
    "plan_cube",
    "quicklook",
    "utm_crs_for",
    "verify_cube",
    "write_cube",
]
"""The public names: the keys of ``_EXPORTS`` (a literal list, for mypy and IDEs)."""


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, __all__)
