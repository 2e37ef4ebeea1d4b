"""Read plans: which source window a block needs and where its pixel centres fall in it.

A plan is computed once per (source grid, block) and shared by every band
on that grid (an S2 tile's four 10 m bands, its six 20 m bands...) and, while
cached, by later dates of the same tile. Sources in the cube's CRS are
axis-aligned: their positions are exact affine ones, and a 10 m tile in the
cube's zone is a plain window copy. Sources from another UTM zone need a CRS
transform, computed exactly every 16 px and interpolated in between.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from geomm.cube._reader import GridWindow, PixelWindow
from geomm.cube._resample import Layout, upsamples_by_2
from geomm.cube._sources import ItemSource, SourceGrid

__all__ = ["PlanCache", "ReadPlan", "mosaic_order", "plan_read", "same_crs"]

_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class ReadPlan:
    """How one block samples one source grid."""

    window: PixelWindow
    """The source window to read: every sample and its bilinear neighbours."""
    rows: np.ndarray
    """Sample rows relative to the window, in source pixel-centre coordinates."""
    cols: np.ndarray
    """Sample columns, likewise."""
    layout: Layout
    """``COPY`` / ``SEPARABLE``: 1-D ``rows`` (H,) and ``cols`` (W,); ``GENERAL``:
    C-contiguous float32 (H, W) maps, as OpenCV takes them."""

    @property
    def nbytes(self) -> int:
        """Memory held by the positions."""
        return int(self.rows.nbytes + self.cols.nbytes)


def mosaic_order(sources: Sequence[ItemSource], crs: str) -> list[ItemSource]:
    """The items of one acquisition in the order they fill a block.

    Items already in the cube's CRS come first (their pixels are window
    copies or axis-aligned resamplings: no warp blur, and cheapest), then
    those from another zone; by id within each. The first valid pixel wins,
    and a block that is full stops reading, so a block inside a native-zone
    tile never reads its neighbouring-zone twin.
    """
    return sorted(sources, key=lambda s: not all(same_crs(b.crs, crs) for b in s.bands))


@functools.lru_cache(maxsize=64)
def same_crs(a: str, b: str) -> bool:
    """Whether two CRS names (codes or WKT) are the same CRS."""
    return bool(CRS.from_user_input(a) == CRS.from_user_input(b))


class PlanCache:
    """Plans by key, the least recently used dropped beyond a byte budget; thread-safe.

    Bounded by bytes, not by count: a plan's maps grow with the task's area.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._plans: OrderedDict[Hashable, tuple[ReadPlan | None, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Drop every plan."""
        with self._lock:
            self._plans.clear()
            self._bytes = 0

    def get(self, key: Hashable, make: Callable[[], ReadPlan | None]) -> ReadPlan | None:
        """The plan of ``key``, made (and kept) on a miss."""
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key][0]
        plan = make()  # outside the lock: another thread may make the same plan meanwhile
        size = 0 if plan is None else plan.nbytes
        with self._lock:
            if key not in self._plans:
                self._plans[key] = (plan, size)
                self._bytes += size
                while self._bytes > self.budget and len(self._plans) > 1:
                    _, (_, freed) = self._plans.popitem(last=False)
                    self._bytes -= freed
        return plan


PLANS = PlanCache(64 * 2**20)
"""A few task-sized warped grids (a plan's maps take 8 bytes per block pixel):
a plan serves every band of its grid in one task and is reused by later
dates while it fits. Densifying a plan's maps again is cheap next to reading,
so a larger budget buys little and costs memory that grows with the task
(docs/benchmarks.md)."""


def plan_read(source: SourceGrid, block: GridWindow) -> ReadPlan | None:
    """Which window of ``source`` a block needs and where its pixel centres fall in it.

    None where the block misses the source. Cached (:data:`PLANS`): the
    bands of a tile on one grid, and that tile on every date, share one plan
    per block. Positions are relative to the window: float32 maps (8 bytes
    per pixel of the block), or 1-D for window copies and exact 2x upsampling.
    """
    return PLANS.get((source, block), lambda: _make_plan(source, block))


@dataclass(frozen=True, eq=False)
class _Positions:
    """A block's sample positions in a source grid, before the window is cut."""

    rows: np.ndarray
    """Rows relative to ``base_row``: 1-D float64 (separable) or a float32 map."""
    cols: np.ndarray
    """Columns relative to ``base_col``, likewise."""
    layout: Layout
    """``SEPARABLE`` or ``GENERAL``."""
    low: tuple[float, float]
    """Smallest (row, col), absolute."""
    high: tuple[float, float]
    """Largest (row, col), absolute."""
    base_row: int = 0
    """Whole-pixel row the maps are relative to (float32 precision)."""
    base_col: int = 0
    """Whole-pixel column, likewise."""


def _make_plan(source: SourceGrid, block: GridWindow) -> ReadPlan | None:
    src = Affine(*source.transform)
    aligned = same_crs(source.crs, block.grid.crs) and abs(src.b) < _TOL and abs(src.d) < _TOL
    pos = _separable_positions(source, block) if aligned else _warped_positions(source, block)
    row_lo = max(int(math.floor(pos.low[0])), 0)
    row_hi = min(int(math.floor(pos.high[0])) + 2, source.shape[0])
    col_lo = max(int(math.floor(pos.low[1])), 0)
    col_hi = min(int(math.floor(pos.high[1])) + 2, source.shape[1])
    if row_hi <= row_lo or col_hi <= col_lo:
        return None
    window = PixelWindow(row_lo, row_hi, col_lo, col_hi)
    if pos.layout is Layout.GENERAL:  # relative to the window (whole-pixel shifts)
        rows, cols = pos.rows, pos.cols
        rows -= np.float32(row_lo - pos.base_row)
        cols -= np.float32(col_lo - pos.base_col)
        return ReadPlan(window=window, rows=rows, cols=cols, layout=Layout.GENERAL)
    rows, cols = pos.rows - row_lo, pos.cols - col_lo
    if _unit_steps(rows) and _unit_steps(cols):
        # the block is a window of the source grid: no resampling
        return ReadPlan(window=window, rows=rows, cols=cols, layout=Layout.COPY)
    if upsamples_by_2(rows, cols):  # stays 1-D: it takes resize (see _resample)
        return ReadPlan(window=window, rows=rows, cols=cols, layout=Layout.SEPARABLE)
    # OpenCV's remap takes full maps: expand them once, here, for every date
    map_rows, map_cols = (
        np.ascontiguousarray(m)
        for m in np.meshgrid(rows.astype(np.float32), cols.astype(np.float32), indexing="ij")
    )
    return ReadPlan(window=window, rows=map_rows, cols=map_cols, layout=Layout.GENERAL)


def _separable_positions(source: SourceGrid, block: GridWindow) -> _Positions:
    """Axis-aligned positions in a source grid of the cube's CRS (exact, float64)."""
    west, _, _, north = block.grid.bounds
    res = block.grid.resolution
    src = Affine(*source.transform)
    px = block.pixels
    # pixel-centre coordinates: col = (x - c) / a - 0.5, row = (y - f) / e - 0.5
    cols = (west + (np.arange(px.col0, px.col1) + 0.5) * res - src.c) / src.a - 0.5
    rows = (north - (np.arange(px.row0, px.row1) + 0.5) * res - src.f) / src.e - 0.5
    return _Positions(
        rows=rows,
        cols=cols,
        layout=Layout.SEPARABLE,
        low=(rows.min(), cols.min()),
        high=(rows.max(), cols.max()),
    )


def _warped_positions(source: SourceGrid, block: GridWindow) -> _Positions:
    """Positions in a source grid of another CRS: float32 maps from coarse knots."""
    coarse_rows, coarse_cols = _coarse_positions(source, block)
    height, width = block.pixels.shape
    # densified relative to an integer base near the window's start (float32
    # resolves ~1e-4 px there), then the window is the maps' own range
    base_row, base_col = math.floor(np.nanmin(coarse_rows)), math.floor(np.nanmin(coarse_cols))
    rows = _densify(coarse_rows - base_row, height, width)
    cols = _densify(coarse_cols - base_col, height, width)
    lo_row, hi_row = (base_row + v for v in _value_range(rows))
    lo_col, hi_col = (base_col + v for v in _value_range(cols))
    return _Positions(
        rows=rows,
        cols=cols,
        layout=Layout.GENERAL,
        low=(lo_row, lo_col),
        high=(hi_row, hi_col),
        base_row=base_row,
        base_col=base_col,
    )


def _unit_steps(pos: np.ndarray) -> bool:
    """Positions are consecutive whole pixels (0, 1, 2... from an integer offset)."""
    return bool(
        pos.size
        and abs(pos[0] - round(pos[0])) < 1e-6
        and np.allclose(np.diff(pos), 1.0, atol=1e-9)
    )


_COARSE = 16
"""Exact CRS transforms every 16 px, bilinear in between: UTM-to-UTM maps are
smooth enough that this is exact to far below a millimetre, and 16 x 16 times
fewer transforms."""

_ZOOM = np.array([[1 / _COARSE, 0, 0], [0, 1 / _COARSE, 0]])
"""Inverse affine map from a block's pixels to its knot grid (see :func:`_densify`)."""


@functools.lru_cache(maxsize=64)
def _coarse_positions(source: SourceGrid, block: GridWindow) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel positions (rows, cols), float64, at the block's :func:`_knots`."""
    west, _, _, north = block.grid.bounds
    res = block.grid.resolution
    px = block.pixels
    x0, y0 = west + px.col0 * res, north - px.row0 * res
    ri, ci = _knots(px.height), _knots(px.width)
    gx, gy = np.meshgrid(x0 + (ci + 0.5) * res, y0 - (ri + 0.5) * res)
    to_source = _transformer(block.grid.crs, source.crs)
    sx, sy = (np.asarray(v, dtype=np.float64) for v in to_source.transform(gx, gy))
    inv = ~Affine(*source.transform)
    cols = inv.a * sx + inv.b * sy + inv.c - 0.5
    rows = inv.d * sx + inv.e * sy + inv.f - 0.5
    return rows, cols


def _knots(n: int) -> np.ndarray:
    """Every 16th pixel of n, through the first at or beyond the last pixel.

    Evenly spaced, so that :func:`_densify` is one ``warpAffine``; the last
    knot may lie up to 15 px past the block (the transform is defined there).
    """
    return np.arange(0, n - 1 + _COARSE, _COARSE)


def _densify(coarse: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of values at the knots of (h, w) to all of it, float32.

    OpenCV's ``warpAffine`` at a 1/16 scale: pixel j falls at knot position
    j/16, whose fraction (a multiple of 1/16) its fixed-point coordinates
    (1/32 steps) and interpolation table represent exactly; faster than two
    numpy gathers and a blend, with no temporaries. Values should be
    relative (a few thousand pixels at most), where float32 resolves ~1e-4 px.
    """
    dense: np.ndarray = cv2.warpAffine(
        np.ascontiguousarray(coarse, dtype=np.float32),
        _ZOOM,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return dense


def _value_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of a float32 map, ignoring NaN (positions outside a CRS's domain)."""
    low, high, _, _ = cv2.minMaxLoc(values)  # fast, but NaN-unaware
    if np.isfinite(low) and np.isfinite(high) and not np.isnan(values).any():
        return low, high
    return float(np.nanmin(values)), float(np.nanmax(values))


@functools.lru_cache(maxsize=32)
def _transformer(dst_crs: str, src_crs: str) -> Transformer:
    return Transformer.from_crs(dst_crs, src_crs, always_xy=True)
