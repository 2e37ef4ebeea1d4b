"""Lazy cube arrays from any reader: one Dask task per (acquisition, block).

The graph knows readers only through :class:`geomm.cube._reader.Reader`:
each task allocates its block, has the reader fill it and returns it. A
block spans ``reader.block_chunks(task_chunks)`` Zarr chunks along each
edge: one call per block, not per Zarr chunk, so geomm's reader reads each
band's COG window once and tiles that straddle Zarr chunks (cube chunks and
COG tiles do not line up) are decoded once, and every kernel runs once per
band.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.typing import Key

from geomm.cube._grid import CubeGrid
from geomm.cube._readahead import ReadAhead, chunk_edges, read_chunk
from geomm.cube._reader import BlockRequest, GridWindow, Mosaic, PixelWindow, Reader, Sensor

__all__ = ["mosaic_array"]

SourceT = TypeVar("SourceT")


def mosaic_array(
    reader: Reader[SourceT],
    mosaics: Sequence[Mosaic[SourceT]],
    *,
    sensor: Sensor,
    grid: CubeGrid,
    task_chunks: int,
    with_valid: bool = False,
    ahead: ReadAhead | None = None,
) -> da.Array:
    """Lazy (acquisition, layers, y, x) blocks of ``reader``, one task per acquisition and block.

    Layers are the sensor's bands, then (``with_valid``) each block's
    validity as 0/1 of the bands' type, so that one task yields both.
    Every mosaic is of ``sensor``. A task takes its block from ``ahead``
    when it was read there (:mod:`geomm.cube._readahead`).
    """
    if task_chunks < 1:
        raise ValueError(f"task_chunks must be >= 1, got {task_chunks}")
    if any(m.sensor is not sensor for m in mosaics):
        raise ValueError(f"every mosaic must be of {sensor}")
    layers = len(sensor.bands) + (1 if with_valid else 0)
    height, width = grid.shape
    edge = grid.chunk_px * reader.block_chunks(task_chunks)
    ys, xs = chunk_edges(height, edge), chunk_edges(width, edge)
    name = f"{reader.name}-{sensor.name.lower()}-{tokenize(reader, mosaics, grid, edge)}"
    dsk: dict[Key, Any] = {}
    for t, mosaic in enumerate(mosaics):
        for iy, (y0, y1) in enumerate(ys):
            for ix, (x0, x1) in enumerate(xs):
                window = GridWindow(grid, PixelWindow(y0, y1, x0, x1))
                request = BlockRequest(mosaic=mosaic, window=window)
                dsk[(name, t, 0, iy, ix)] = (_read_task, reader, request, layers, ahead)
    chunks = (
        (1,) * len(mosaics),
        (layers,),
        tuple(b - a for a, b in ys),
        tuple(b - a for a, b in xs),
    )
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[])
    # dask.array's Array constructor carries no annotations
    return da.Array(graph, name, chunks, dtype=sensor.dtype)  # type: ignore[no-untyped-call]


def _read_task(
    reader: Reader[SourceT],
    request: BlockRequest[SourceT],
    layers: int,
    ahead: ReadAhead | None,
) -> np.ndarray:
    """One block of one acquisition, as a (1, layers, h, w) chunk (read ahead, or now)."""
    chunk = ahead.take(request, layers) if ahead is not None else None
    return chunk if chunk is not None else read_chunk(reader, request, layers)
