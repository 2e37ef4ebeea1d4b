"""Analysis-ready Sentinel-1/Sentinel-2 cubes on one chip-aligned grid.

``build_cube`` pairs each S2 acquisition with the closest S1 pass, loads both
onto one UTM grid (odc-stac, Dask), harmonizes S2 reflectance, converts S1
to dB and derives a clear-sky mask; ``write_cube`` writes it to Zarr v3
block by block (resumable); ``open_cube`` opens it with its CRS.
"""

from geomm.cube._build import CubeConfig, build_cube
from geomm.cube._composite import CompositeError, CompositeSpec, composite
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
from geomm.cube._pairing import Acquisition, Pair, PairingRule, pair_items
from geomm.cube._quicklook import QuicklookError, quicklook
from geomm.cube._store import (
    CubeStoreError,
    DamagedChunk,
    VerifyReport,
    WriteReport,
    open_cube,
    verify_cube,
    write_cube,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "RESAMPLING",
    "Acquisition",
    "CompositeError",
    "CompositeSpec",
    "CubeConfig",
    "CubeGrid",
    "CubeRun",
    "CubeSize",
    "CubeStoreError",
    "DamagedChunk",
    "GridError",
    "LoadOptions",
    "Pair",
    "PairingRule",
    "QuicklookError",
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
    "quicklook",
    "utm_crs_for",
    "verify_cube",
    "write_cube",
]
