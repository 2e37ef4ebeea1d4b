"""The pixel writes of a cube store: spatial blocks of chunks, each an independent region.

A block covers one Dask chunk in y and x, all times and all bands; its
writes touch only its own Zarr chunks, so blocks can be written in any
order, a few at a time, and one marked done is never rewritten
(:func:`write_blocks`). Where the values go to Zarr unchanged, each Dask
chunk is written Zarr chunk by Zarr chunk straight into the arrays, past
xarray's encoder; else through xarray's region writes.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import dask
import dask.base
import dask.threaded
import numpy as np
import zarr
from dask.delayed import delayed
from zarr.codecs import BloscCodec

if TYPE_CHECKING:
    import xarray as xr
    from zarr.abc.codec import BytesBytesCodec

__all__ = [
    "Block",
    "chunk_edge",
    "compressors",
    "cube_blocks",
    "pixel_names",
    "scheduler",
    "write_blocks",
    "zarr_chunks",
]

_compute = cast("Callable[..., tuple[object, ...]]", dask.base.compute)
"""``dask.compute``, typed (dask's own is not)."""


@dataclass(frozen=True)
class Block:
    """One spatial block of chunks: a Zarr region covering all times and bands."""

    row: int
    """Index of the block among the blocks in y."""
    col: int
    """Index of the block among the blocks in x."""
    y: slice
    """Pixel rows of the block."""
    x: slice
    """Pixel columns of the block."""

    @property
    def name(self) -> str:
        """Marker file name: the block's pixel extent.

        Extents, not block indices: a run resumed with other Dask chunks
        (``task_chunks``) has other blocks, and only an identical one counts
        as done.
        """
        return f"y{self.y.start:06d}-{self.y.stop:06d}_x{self.x.start:06d}-{self.x.stop:06d}"


def cube_blocks(ds: xr.Dataset) -> list[Block]:
    """The spatial blocks of ``ds``: one per Dask chunk in y and x."""
    pixels = next(v for v in ds.data_vars.values() if {"y", "x"} <= set(v.dims))
    sizes = pixels.chunksizes
    ys = _edges(sizes["y"]) if sizes else [(0, ds.sizes["y"])]
    xs = _edges(sizes["x"]) if sizes else [(0, ds.sizes["x"])]
    return [
        Block(r, c, slice(y0, y1), slice(x0, x1))
        for r, (y0, y1) in enumerate(ys)
        for c, (x0, x1) in enumerate(xs)
    ]


def pixel_names(ds: xr.Dataset) -> list[str]:
    """The variables written block by block: those with y and x dimensions."""
    return [str(n) for n, v in ds.data_vars.items() if {"y", "x"} <= set(v.dims)]


def write_blocks(
    pixels: xr.Dataset,
    path: Path,
    todo: list[Block],
    *,
    done_dir: Path,
    blocks_per_batch: int,
    progress: Callable[[Block], None] | None = None,
) -> None:
    """Write the ``todo`` blocks of ``pixels`` into the store, marking each in ``done_dir``.

    Blocks are written a few at a time in one Dask computation, so the
    threads (or cluster workers) stay busy across block boundaries; each
    batch is marked done only once all its writes have returned.
    """
    targets = direct_targets(pixels, path)
    for start in range(0, len(todo), blocks_per_batch):
        batch = todo[start : start + blocks_per_batch]
        writes = [w for block in batch for w in _block_writes(pixels, path, block, targets)]
        _compute(*writes, scheduler=scheduler())
        for block in batch:
            (done_dir / block.name).touch()
            if progress:
                progress(block)


def direct_targets(pixels: xr.Dataset, path: Path) -> dict[Hashable, zarr.Array[Any]] | None:
    """The store's Zarr arrays, when the pixel variables may bypass xarray's encoder.

    That is when their values go to Zarr unchanged (numbers or booleans of the
    stored type, no scale/offset encoding) and every Dask chunk starts on a
    Zarr chunk boundary, so no two tasks share a Zarr chunk. Else ``None``:
    xarray's region writes (which check chunk safety themselves).
    """
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    targets: dict[Hashable, zarr.Array[Any]] = {}
    for name, var in pixels.data_vars.items():
        stored = group[str(name)]
        if not isinstance(stored, zarr.Array) or var.chunks is None:
            return None
        # every chunk is written, even an all-fill one: no comparison pass per chunk
        array = stored.with_config({"write_empty_chunks": True})
        if (
            var.dtype.kind not in "biuf"
            or array.dtype != var.dtype
            or any(k in var.encoding for k in ("scale_factor", "add_offset"))
            or not _aligned(var.chunks, array.chunks)
        ):
            return None
        targets[name] = array
    return targets


def _aligned(dask_chunks: tuple[tuple[int, ...], ...], zarr_chunks: tuple[int, ...]) -> bool:
    return all(
        start % size == 0
        for sizes, size in zip(dask_chunks, zarr_chunks, strict=True)
        for start, _ in _edges(sizes)
    )


def _block_writes(
    pixels: xr.Dataset,
    path: Path,
    block: Block,
    targets: dict[Hashable, zarr.Array[Any]] | None,
) -> list[object]:
    """Dask objects that write one block of every pixel variable when computed.

    With ``targets``, one task per Dask chunk writes it Zarr chunk by Zarr
    chunk from contiguous arrays, so Zarr encodes them as they are (given a
    larger array, it would allocate and fill each chunk in its single I/O
    thread, then copy into it). Otherwise an xarray region write.
    """
    region = pixels.isel(y=block.y, x=block.x)
    if targets is None:
        return [
            region.to_zarr(
                path,
                region={"time": slice(None), "y": block.y, "x": block.x},
                zarr_format=3,
                consolidated=False,
                write_empty_chunks=True,
                compute=False,
            )
        ]
    writes: list[object] = []
    for name, var in region.data_vars.items():
        base = [block.y.start if d == "y" else block.x.start if d == "x" else 0 for d in var.dims]
        starts = [[start for start, _ in _edges(sizes)] for sizes in var.data.chunks]
        pieces = var.data.to_delayed(optimize_graph=False)  # keep shared reads shared
        for index in np.ndindex(*pieces.shape):
            origin = tuple(int(b + s[i]) for b, s, i in zip(base, starts, index, strict=True))
            # the Zarr array is bound, not passed: Dask would walk its fields
            # (a dataclass) looking for collections at every call
            write = functools.partial(write_chunks, array=targets[name], origin=origin)
            writes.append(delayed(write, pure=False)(pieces[index]))
    return writes


def write_chunks(values: np.ndarray, array: zarr.Array[Any], origin: tuple[int, ...]) -> None:
    """Write ``values`` at ``origin`` (on a chunk boundary) one Zarr chunk at a time."""
    counts = [math.ceil(n / c) for n, c in zip(values.shape, array.chunks, strict=True)]
    for index in np.ndindex(*counts):
        local = tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(index, array.chunks, values.shape, strict=True)
        )
        target = tuple(slice(o + s.start, o + s.stop) for o, s in zip(origin, local, strict=True))
        chunk = values[local]
        if chunk.shape == tuple(array.chunks):
            chunk = np.ascontiguousarray(chunk)  # else Zarr pads it into a new chunk itself
        array[target] = chunk


def scheduler() -> Callable[..., Any] | None:
    """Dask's threaded ``get`` when no Dask cluster can be in use, else ``None``.

    Without a scheduler, and even with one named by a string, every
    ``compute`` first imports ``distributed`` to look for a client, a
    noticeable share of a small cube build; a callable skips that. There
    can be no client while ``distributed`` is not imported, and a scheduler
    set in ``dask.config`` is left to Dask.
    """
    if dask.config.get("scheduler", None) is not None or "distributed" in sys.modules:
        return None
    return cast("Callable[..., Any]", dask.threaded.get)


def compressors() -> tuple[BytesBytesCodec, ...]:
    """Blosc LZ4 with byte shuffle for pixel variables.

    Faster to write than zarr's default zstd at a similar ratio on
    reflectance and backscatter (docs/benchmarks.md).
    """
    return (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)


def chunk_edge(ds: xr.Dataset) -> int | None:
    """Zarr chunk edge in pixels from the cube's attributes (None: follow Dask)."""
    if "chip_size" in ds.attrs and "chunk_chips" in ds.attrs:
        return int(ds.attrs["chip_size"]) * int(ds.attrs["chunk_chips"])
    return None


def zarr_chunks(var: xr.DataArray, edge: int | None) -> tuple[int, ...]:
    """Zarr chunks of a pixel variable: ``edge`` in y and x, else its Dask chunks.

    A built cube's Dask chunks span several Zarr chunks (``task_chunks``);
    ``edge`` is used where every Dask chunk but the last is a whole number of
    it, so no two region writes share a Zarr chunk.
    """

    def size(dim: Hashable, dask_chunks: tuple[int, ...]) -> int:
        if edge and dim in ("y", "x") and all(c % edge == 0 for c in dask_chunks[:-1]):
            return min(edge, var.sizes[dim])
        return max(dask_chunks)

    return tuple(size(d, c) for d, c in zip(var.dims, var.chunks or (), strict=True))


def _edges(sizes: Iterable[int]) -> list[tuple[int, int]]:
    out, start = [], 0
    for size in sizes:
        out.append((start, start + size))
        start += size
    return out
