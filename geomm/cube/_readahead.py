"""Reading a cube's first blocks while the rest of the job starts up.

A ``geomm cube`` process spends its first second importing Dask, xarray and
Zarr and building the graph and the store; until then no scene is read. Once
the sources are described (:func:`geomm.cube.plan_cube`, which needs none of
those), the blocks the writer asks for first can be read on threads: COG
decoding and resampling release the GIL, so they run beside the imports
instead of after them. The graph's tasks take a block from here when it was
read ahead (:func:`read_chunk` makes the same chunk either way) and read it
themselves otherwise.

Only :func:`geomm.cube.make_cube` reads ahead, and only for a fresh store
written on local threads: a resumed store may have those blocks already, and
a cluster's tasks run in other processes. A pickled read-ahead (a graph sent
to a cluster) is an empty one, so tasks there read plainly. This module
imports no Dask.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from geomm.cube._reader import BlockRequest, PixelWindow, Reader

__all__ = ["ReadAhead", "chunk_edges", "read_chunk"]


def chunk_edges(size: int, step: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the blocks along one axis of ``size`` pixels."""
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def read_chunk(reader: Reader[Any], request: BlockRequest[Any], layers: int) -> np.ndarray:
    """One block of one acquisition, as the (1, layers, h, w) chunk the cube stores.

    The reader writes the bands straight into the chunk; the validity layer,
    when ``layers`` has room for it, follows them.
    """
    sensor = request.mosaic.sensor
    bands = len(sensor.bands)
    out = np.empty((layers, *request.window.pixels.shape), dtype=sensor.dtype)
    block = reader.read_block(request, out=out[:bands])
    if layers > bands:
        out[bands] = block.valid
    return out[None]


_Key = tuple[int, PixelWindow, int]


class ReadAhead:
    """Chunks read on a few threads before any task asks for them.

    Keyed by the request's mosaic object and window: the graph is built from
    the same mosaic objects in this process. Every chunk is handed out once;
    :meth:`close` drops what was never taken.
    """

    def __init__(self, *, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="geomm-read-ahead")
        self._futures: dict[_Key, Future[np.ndarray]] = {}
        self._lock = threading.Lock()

    def submit(
        self, reader: Reader[Any], requests: Sequence[BlockRequest[Any]], layers: int
    ) -> None:
        """Start reading ``requests`` (in this order) as chunks of ``layers`` layers."""
        with self._lock:
            for request in requests:
                key = _key(request, layers)
                if key not in self._futures:
                    self._futures[key] = self._pool.submit(read_chunk, reader, request, layers)

    def take(self, request: BlockRequest[Any], layers: int) -> np.ndarray | None:
        """The chunk read ahead for ``request`` (waiting for it), or None if there is none.

        A read that failed raises its error here, in the task that needed it.
        """
        with self._lock:
            future = self._futures.pop(_key(request, layers), None)
        return None if future is None else future.result()

    def close(self) -> None:
        """Cancel the reads not started and wait for the running ones; drop every chunk."""
        with self._lock:
            futures, self._futures = self._futures, {}
        for future in futures.values():
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # a graph pickled for other processes carries an empty read-ahead
        return (_empty, ())


def _empty() -> ReadAhead:
    return ReadAhead(workers=1)


def _key(request: BlockRequest[Any], layers: int) -> _Key:
    return (id(request.mosaic), request.window.pixels, layers)
