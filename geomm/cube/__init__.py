"""Analysis-ready Sentinel-1/Sentinel-2 cubes on one chip-aligned grid.

``build_cube`` pairs each S2 acquisition with the closest S1 pass, loads both
onto one UTM grid (odc-stac, Dask), harmonizes S2 reflectance, converts S1
to dB and derives a clear-sky mask; ``write_cube`` writes it to Zarr v3
block by block (resumable); ``open_cube`` opens it with its CRS.
"""

from geomm.cube._build import CubeConfig, build_cube
from geomm.cube._composite import CompositeError, CompositeSpec, composite
from geomm.cube._grid import CubeGrid, GridError, cube_grid, utm_crs_for
from geomm.cube._load import RESAMPLING, LoadOptions
from geomm.cube._make import CubeRun, dask_scheduler, make_cube
from geomm.cube._pairing import Acquisition, Pair, PairingRule, pair_items
from geomm.cube._quicklook import QuicklookError, quicklook
from geomm.cube._store import CubeStoreError, WriteReport, open_cube, write_cube

__all__ = [
    "RESAMPLING",
    "Acquisition",
    "CompositeError",
    "CompositeSpec",
    "CubeConfig",
    "CubeGrid",
    "CubeRun",
    "CubeStoreError",
    "GridError",
    "LoadOptions",
    "Pair",
    "PairingRule",
    "QuicklookError",
    "WriteReport",
    "build_cube",
    "composite",
    "cube_grid",
    "dask_scheduler",
    "make_cube",
    "open_cube",
    "pair_items",
    "quicklook",
    "utm_crs_for",
    "write_cube",
]
