"""geomm's own COG reader: one call per (acquisition, block), all bands at once.

Why not odc-stac's loader (ARCHITECTURE.md's first choice)? It builds one task
per band and chunk and warps each band with GDAL on its own, recomputing the
same coordinate transform for each of the 13 bands per tile and date; on
the 2-core reference machine GDAL warp then dominates a cube build (see
docs/benchmarks.md). Most sources here need no general warp at all:

* a Sentinel-2 tile in the cube's UTM zone at 10 m is a plain window read;
* its 20 m and 60 m bands are an axis-aligned upsampling;
* a Sentinel-1 RTC scene in the same zone is an axis-aligned sub-pixel shift;

so only the first is free of resampling, and the others' sample positions
are exact affine ones; sources from another UTM zone need a CRS transform,
computed every 16 px and interpolated. Either way the positions are
computed once per source grid and block and shared by every band (and by
later dates while cached: :mod:`geomm.cube._plan`), and OpenCV's ``remap``
samples them (:mod:`geomm.cube._resample`). A block covers several Zarr
chunks (``CubeConfig.task_chunks``) and reads each band's window once, so
COG tiles that straddle chunks are decoded once. The mosaicking kernels are
in :mod:`geomm.cube._kernels`, the file handles in :mod:`geomm.cube._handles`.

Requests carry plain data (hrefs, grids, offsets: :mod:`geomm.cube._sources`)
and hrefs are signed right before reading, so requests pickle to Dask
workers and survive long jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from geomm.cube._gdal import reader_env
from geomm.cube._kernels import read_s1_block, read_s2_block
from geomm.cube._plan import mosaic_order
from geomm.cube._reader import Block, BlockRequest, Sensor
from geomm.cube._scratch import scratch_pool
from geomm.cube._sources import ItemSource, item_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pystac

    from geomm.cube._grid import CubeGrid
    from geomm.stac import ItemBands

__all__ = ["RESAMPLING", "GeommReader"]

RESAMPLING = ("bilinear", "nearest")
"""Resampling methods of geomm's reader."""


@dataclass(frozen=True)
class GeommReader:
    """geomm's reader (the default): window copies and OpenCV kernels, all bands per call.

    Each call runs with the reader's GDAL settings
    (:func:`geomm.cube._gdal.reader_env`: a small tile cache, opens without
    sidecar probing, HTTP retries) and a pool of scratch buffers reused
    across the block's bands and items (:mod:`geomm.cube._scratch`), inside
    a Dask task or from a plain loop alike.
    """

    @property
    def name(self) -> str:
        """``geomm``, as cubes record it."""
        return "geomm"

    @property
    def resampling(self) -> tuple[str, ...]:
        """``bilinear`` and ``nearest``."""
        return RESAMPLING

    def block_chunks(self, task_chunks: int) -> int:
        """``task_chunks``: a block reads each COG window once for all its chunks."""
        return task_chunks

    def sources(
        self, items: Sequence[pystac.Item], verdicts: Sequence[ItemBands], *, grid: CubeGrid
    ) -> tuple[ItemSource, ...]:
        """The items' grids and radiometry (from STAC metadata), in mosaic order."""
        plans = [item_source(i, v) for i, v in zip(items, verdicts, strict=True)]
        return tuple(mosaic_order(plans, grid.crs))

    def read_block(
        self, request: BlockRequest[ItemSource], *, out: np.ndarray | None = None
    ) -> Block:
        """The request's block (see :class:`geomm.cube._reader.Reader`)."""
        mosaic = request.mosaic
        with reader_env(), scratch_pool():
            if mosaic.sensor is Sensor.S2:
                return read_s2_block(
                    mosaic.sources,
                    block=request.window,
                    profile=mosaic.profile,
                    snow_is_clear=mosaic.snow_is_clear,
                    method=mosaic.resampling,
                    out=out,
                )
            return read_s1_block(
                mosaic.sources,
                block=request.window,
                profile=mosaic.profile,
                method=mosaic.resampling,
                out=out,
            )
