"""Blocks: the chips of one cube chunk, read together.

A cube's Zarr chunks (and Dask chunks) are ``chunk_chips x chunk_chips``
chips in y/x with all bands, one time each (:mod:`geomm.cube._blocks`).
Reading chip by chip would fetch and decompress each chunk once per chip;
grouping chips by chunk (:func:`chip_blocks`) and loading the block's region
once (:func:`read_block`) reads every chunk exactly once. Blocks are plain,
picklable data, so they are the unit of work on a Dask cluster:
:func:`read_block_from_store` opens the store in the worker.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geomm.chips._chip import Chip, ChipError, CubeLayout, cube_layout

if TYPE_CHECKING:
    import xarray as xr  # annotations only: chips cost no xarray import

__all__ = ["BlockData", "ChipBlock", "chip_blocks", "read_block", "read_block_from_store"]

_PIXEL_VARS = ("s2", "s1", "clear")


@dataclass(frozen=True)
class ChipBlock:
    """The chips of one cube chunk: the unit of one read."""

    name: str
    """Stable name ``r<row>_c<col>``: global chip row and column of the chunk's
    north-west chip, zero-padded (e.g. ``r04438_c00228``); unique within a cube
    and the same on every run, so it names per-block output files."""
    y: slice
    """Pixel rows of the chunk in the cube."""
    x: slice
    """Pixel columns of the chunk in the cube."""
    chips: tuple[Chip, ...]
    """The requested chips inside the chunk (at least one), in the order given."""

    def __hash__(self) -> int:
        # slices are unhashable before Python 3.12.
        return hash((self.name, self.y.start, self.y.stop, self.x.start, self.x.stop, self.chips))

    def __dask_tokenize__(self) -> tuple[object, ...]:
        """Same Dask key for the same block on every run."""
        ids = tuple(c.chip_id for c in self.chips)
        window = (self.y.start, self.y.stop, self.x.start, self.x.stop)
        return ("geomm.chips.ChipBlock", self.name, window, ids)


@dataclass(frozen=True)
class BlockData:
    """Pixels and per-chip statistics of one block, chip axis second."""

    chips: tuple[Chip, ...]
    """The block's chips; index ``c`` of every array below."""
    times: np.ndarray
    """(T,) datetime64[ns]: the cube's S2 acquisition times."""
    s1_times: np.ndarray
    """(T,) datetime64[ns]: the paired S1 acquisition, NaT where unpaired."""
    s2: np.ndarray
    """(T, C, 12, H, W) uint16 reflectance x 10000, 0 = nodata."""
    s1: np.ndarray
    """(T, C, 2, H, W) float32 VV, VH in dB, NaN = nodata."""
    clear_fraction: np.ndarray
    """(T, C) float32: share of the chip's pixels that are clear (mean of ``clear``)."""
    s1_coverage: np.ndarray
    """(T, C) float32: share of the chip's pixels where both VV and VH are finite."""
    s2_bands: tuple[str, ...] = ()
    """Names of the ``s2`` bands in array order (the cube's ``s2_band``; empty: unknown)."""
    s1_bands: tuple[str, ...] = ()
    """Names of the ``s1`` bands in array order (the cube's ``s1_band``; empty: unknown)."""


def chip_blocks(ds: xr.Dataset, chips: Sequence[Chip]) -> list[ChipBlock]:
    """Group ``chips`` by the cube chunk they fall in.

    Chunk edges are the Dask chunks of the cube's pixel variables (those of
    its Zarr store when opened with :func:`geomm.cube.open_cube`), or,
    for a loaded cube, every ``chunk_chips`` chips from its north-west
    corner.

    Args:
        ds: the cube the chips were cut from (:func:`cube_chips`).
        chips: any chips of that cube; duplicates are dropped.

    Returns:
        Non-empty blocks, north to south then west to east; chips inside a
        block keep the order given.

    Raises:
        ChipError: a chip is not one of this cube's chips, or the cube's
            chunks straddle chips.
    """
    layout = cube_layout(ds)
    y_edges, x_edges = _chunk_edges(ds, layout)
    groups: dict[tuple[int, int], list[Chip]] = {}
    seen: set[str] = set()
    for chip in chips:
        _check_chip(layout, chip)
        if chip.chip_id in seen:
            continue
        seen.add(chip.chip_id)
        key = (_find(y_edges, chip.y.start), _find(x_edges, chip.x.start))
        groups.setdefault(key, []).append(chip)
    cs = layout.chip_size
    blocks = []
    for bi, bj in sorted(groups):
        y = slice(y_edges[bi], y_edges[bi + 1])
        x = slice(x_edges[bj], x_edges[bj + 1])
        row = layout.row0 - y.start // cs
        col = layout.col0 + x.start // cs
        blocks.append(ChipBlock(f"r{row:05d}_c{col:05d}", y, x, tuple(groups[bi, bj])))
    return blocks


def read_block(ds: xr.Dataset, block: ChipBlock, *, scheduler: str | None = None) -> BlockData:
    """Load a block's region once (all times, all bands) and split it into chips.

    Args:
        ds: the cube (lazy, loaded, or from :func:`geomm.cube.open_cube`).
        block: from :func:`chip_blocks` on the same cube.
        scheduler: Dask scheduler for the one load (default: the current
            one); ``"synchronous"`` inside a Dask worker task.

    Raises:
        ChipError: the cube lacks ``s2``, ``s1`` or ``clear``, or the block
            is not one of this cube's.
    """
    layout = cube_layout(ds)
    missing = [v for v in _PIXEL_VARS if v not in ds.data_vars]
    if missing:
        raise ChipError(
            f"the cube has no variable(s) {missing}; chips need s2, s1 and clear "
            "(a cube from geomm.cube.build_cube)"
        )
    for chip in block.chips:
        _check_chip(layout, chip)
        if not (block.y.start <= chip.y.start < chip.y.stop <= block.y.stop) or not (
            block.x.start <= chip.x.start < chip.x.stop <= block.x.stop
        ):
            raise ChipError(f"chip {chip.chip_id} lies outside block {block.name}")
    names = [*_PIXEL_VARS, *(["s1_time"] if "s1_time" in ds.data_vars else [])]
    region = ds[names].isel(y=block.y, x=block.x)
    # One compute for all variables: every chunk of the region is read once.
    region = region.compute(scheduler=scheduler) if scheduler else region.compute()
    s2 = _uint16(region["s2"].transpose("time", "s2_band", "y", "x").values)
    s1 = region["s1"].transpose("time", "s1_band", "y", "x").values.astype(np.float32, copy=False)
    clear = region["clear"].transpose("time", "y", "x").values.astype(bool, copy=False)
    times = region["time"].values.astype("datetime64[ns]")
    if "s1_time" in region:
        s1_times = region["s1_time"].values.astype("datetime64[ns]")
    else:
        s1_times = np.full(times.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    s1_valid = np.asarray(np.isfinite(s1).all(axis=1))
    windows = [_window(block, chip) for chip in block.chips]
    return BlockData(
        chips=tuple(block.chips),
        times=times,
        s1_times=s1_times,
        s2=np.stack([s2[:, :, wy, wx] for wy, wx in windows], axis=1),
        s1=np.stack([s1[:, :, wy, wx] for wy, wx in windows], axis=1),
        clear_fraction=_fraction(clear, windows),
        s1_coverage=_fraction(s1_valid, windows),
        s2_bands=_band_names(region, "s2_band"),
        s1_bands=_band_names(region, "s1_band"),
    )


def read_block_from_store(path: str | Path, block: ChipBlock) -> BlockData:
    """:func:`read_block` on the Zarr cube at ``path``, for Dask worker tasks.

    The store is opened lazily with :func:`geomm.cube.open_cube` once per
    process and path (cached), so a task carries only the path and the
    block; the load runs on the worker's own thread (synchronous scheduler).
    """
    return read_block(_open_store(str(Path(path).resolve())), block, scheduler="synchronous")


# --------------------------------------------------------------------------- internals


@functools.lru_cache(maxsize=8)
def _open_store(path: str) -> xr.Dataset:
    from geomm.cube import open_cube

    return open_cube(path)


def _chunk_edges(ds: xr.Dataset, layout: CubeLayout) -> tuple[list[int], list[int]]:
    """Pixel edges of the cube's chunks along y and x (first 0, last the size)."""
    cs = layout.chip_size
    height, width = layout.nrows * cs, layout.ncols * cs
    var = next((ds[v] for v in _PIXEL_VARS if v in ds.data_vars), None)
    sizes = var.chunksizes if var is not None else {}
    if sizes and "y" in sizes and "x" in sizes:
        y_edges = np.cumsum([0, *sizes["y"]]).tolist()
        x_edges = np.cumsum([0, *sizes["x"]]).tolist()
        if any(e % cs for e in (*y_edges, *x_edges)):
            raise ChipError(
                f"the cube's Dask chunks (y {sizes['y']}, x {sizes['x']}) straddle "
                f"{cs}-pixel chips; rechunk to whole chips, e.g. "
                f"ds.chunk({{'y': {cs * (layout.chunk_chips or 1)}, "
                f"'x': {cs * (layout.chunk_chips or 1)}}})"
            )
        return y_edges, x_edges
    if layout.chunk_chips is None:
        raise ChipError(
            "the cube is not chunked and has no 'chunk_chips' attribute, so its blocks are "
            "unknown; chunk it (ds.chunk) or set ds.attrs['chunk_chips']"
        )
    step = layout.chunk_chips * cs
    return _regular(height, step), _regular(width, step)


def _regular(size: int, step: int) -> list[int]:
    return [*range(0, size, step), size]


def _find(edges: list[int], start: int) -> int:
    return int(np.searchsorted(edges, start, side="right")) - 1


def _check_chip(layout: CubeLayout, chip: Chip) -> None:
    i, j = layout.row0 - chip.row, chip.col - layout.col0
    inside = 0 <= i < layout.nrows and 0 <= j < layout.ncols
    if not inside or layout.chip(i, j) != chip:
        raise ChipError(
            f"chip {chip.chip_id} (window y {chip.y.start}:{chip.y.stop}, x "
            f"{chip.x.start}:{chip.x.stop}) is not a chip of this cube; cut chips with "
            "cube_chips() from the same cube you read"
        )


def _window(block: ChipBlock, chip: Chip) -> tuple[slice, slice]:
    y0, x0 = chip.y.start - block.y.start, chip.x.start - block.x.start
    return (
        slice(y0, y0 + chip.y.stop - chip.y.start),
        slice(x0, x0 + chip.x.stop - chip.x.start),
    )


def _fraction(mask: np.ndarray, windows: list[tuple[slice, slice]]) -> np.ndarray:
    """(T, C) float32 mean of a (T, H, W) mask over each chip window."""
    out = np.empty((mask.shape[0], len(windows)), dtype=np.float32)
    for c, (wy, wx) in enumerate(windows):
        out[:, c] = mask[:, wy, wx].mean(axis=(1, 2), dtype=np.float64)
    return out


def _band_names(region: xr.Dataset, coord: str) -> tuple[str, ...]:
    return tuple(str(b) for b in region[coord].values) if coord in region.coords else ()


def _uint16(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind not in "ui":
        raise ChipError(
            f"cube variable s2 is {values.dtype}, expected uint16 reflectance x 10000 with "
            "0 = nodata; open cubes with geomm.cube.open_cube (no mask/scale decoding)"
        )
    return values.astype(np.uint16, copy=False)
