"""geomm's own COG reader: one Dask task per (acquisition, Dask chunk), all bands at once.

Why not odc-stac's loader (ARCHITECTURE.md's first choice)? It builds one task
per band and chunk and warps each band with GDAL on its own, recomputing the
same coordinate transform 13 times per tile and date; on the 2-core reference
machine GDAL warp then dominates a cube build (see docs/benchmarks.md). Most
sources here need no general warp at all:

* a Sentinel-2 tile in the cube's UTM zone at 10 m is a plain window read;
* its 20 m and 60 m bands are an axis-aligned upsampling;
* a Sentinel-1 RTC scene in the same zone is an axis-aligned sub-pixel shift;

so only the first is free of resampling, and the others' sample positions
are exact affine ones; sources from another UTM zone need a CRS transform,
computed every 16 px and interpolated. Either way the positions are
computed once per source grid and task and shared by every band (and by
later dates while cached), and OpenCV's ``remap`` samples them
(:mod:`geomm.cube._resample`). A task covers several Zarr chunks and reads
each band's window once, so COG tiles that straddle chunks are decoded once.
Radiometry (baseline offset, dB) is applied per item, before mosaicking,
because it is a property of the item.

Tasks carry plain data (hrefs, grids, offsets) and sign hrefs right before
reading, so they pickle to Dask workers and survive long jobs.
"""

from __future__ import annotations

import functools
import math
import os
import resource
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import dask.array as da
import numpy as np
import pystac
import rasterio
from affine import Affine
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from pyproj import CRS, Transformer
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geomm.cube._gdal import credentials_hint, reader_env, source_env
from geomm.cube._grid import CubeGrid
from geomm.cube._radiometry import clear_from_scl, harmonize_s2
from geomm.cube._resample import resample, upsamples_by_2
from geomm.cube._scratch import scratch, scratch_pool
from geomm.errors import AssetReadError, ProfileError
from geomm.stac import S1_BANDS, S2_BANDS, ItemBands, Profile

__all__ = [
    "BandSource",
    "ItemSource",
    "item_source",
    "mosaic_order",
    "read_s1_block",
    "read_s2_block",
    "s1_array",
    "s2_array",
]

_TOL = 1e-6


@dataclass(frozen=True)
class BandSource:
    """One asset of one item: where it is and on which grid."""

    href: str
    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    nodata: float | None
    item_id: str = ""
    """For error messages: which scene the asset belongs to."""
    band: str = ""
    """For error messages: the canonical band."""
    gdal: tuple[tuple[str, str], ...] = ()
    """GDAL settings its storage needs (S3 endpoint, signing), from the item."""


@dataclass(frozen=True)
class ItemSource:
    """One item's assets in output-layer order, with its radiometry."""

    item_id: str
    bands: tuple[BandSource, ...]
    """S2: B01..B12 then SCL (if present); S1: VV, VH."""
    dn_offset: int = 0
    """S2 DN still to subtract (baseline 04.00)."""
    units: str | None = None
    """S1 units of the stored pixels: linear or db."""
    has_scl: bool = False


def item_source(item: pystac.Item, verdict: ItemBands) -> ItemSource:
    """The reading plan of one item, from its STAC projection metadata.

    Falls back to the file header when an asset lacks ``proj:*`` fields.
    """
    if verdict.sensor == "sentinel-2":
        missing = [b for b in S2_BANDS if b not in verdict.bands]
        if missing:
            raise ProfileError(f"S2 item {item.id!r} lacks band(s) {missing}")
        names = list(S2_BANDS) + (["SCL"] if "SCL" in verdict.bands else [])
    else:
        verdict.require_geocoded()
        missing = [b for b in S1_BANDS if b not in verdict.bands]
        if missing:
            raise ProfileError(f"S1 item {item.id!r} lacks band(s) {missing}")
        if verdict.units not in ("linear", "db"):
            raise ProfileError(
                f"S1 item {item.id!r} holds {verdict.units!r} values; geomm needs calibrated "
                "backscatter (linear gamma0 or dB), e.g. sentinel-1-rtc"
            )
        names = list(S1_BANDS)
    bands = tuple(_band_source(item, verdict, name) for name in names)
    return ItemSource(
        item_id=item.id,
        bands=bands,
        dn_offset=verdict.dn_offset,
        units=verdict.units,
        has_scl="SCL" in names,
    )


def mosaic_order(sources: Sequence[ItemSource], crs: str) -> list[ItemSource]:
    """The items of one acquisition in the order they fill a block.

    Items already in the cube's CRS come first (their pixels are window
    copies or axis-aligned resamplings: no warp blur, and cheapest), then
    those from another zone; by id within each. The first valid pixel wins,
    and a block that is full stops reading, so a block inside a native-zone
    tile never reads its neighbouring-zone twin.
    """
    return sorted(sources, key=lambda s: not all(_same_crs(b.crs, crs) for b in s.bands))


def read_s2_block(
    sources: Sequence[ItemSource],
    grid: CubeGrid,
    rows: slice,
    cols: slice,
    profile: Profile,
    snow_is_clear: bool,
    out: np.ndarray | None = None,
    method: str = "bilinear",
) -> np.ndarray:
    """One S2 acquisition over a block: (13, h, w) uint16 = 12 bands harmonized + clear.

    Written into ``out`` when given (a view of a task's array), else a new one.
    ``method`` resamples the reflectance bands (``bilinear`` or ``nearest``);
    SCL is always nearest.
    """
    h, w = rows.stop - rows.start, cols.stop - cols.start
    nb = len(S2_BANDS)
    if out is None:
        out = np.empty((nb + 1, h, w), dtype=np.uint16)  # 12 bands, then clear
    refl = out[:nb]
    if not sources:
        refl.fill(0)
    scl = np.zeros((h, w), dtype=np.uint8)
    have_scl = False
    for k, src in enumerate(sources):
        if k == 0:  # resampled straight into the block
            box = (slice(0, h), slice(0, w))
        else:  # into scratch planes, over the box of what earlier items left empty
            lowest = np.minimum.reduce(refl, axis=0)
            if lowest.min() > 0:  # full: later items cannot add anything
                break
            box = _bounding_box((lowest == 0) | (scl == 0) if have_scl else lowest == 0)
        shape = (box[0].stop - box[0].start, box[1].stop - box[1].start)
        sub_rows = slice(rows.start + box[0].start, rows.start + box[0].stop)
        sub_cols = slice(cols.start + box[1].start, cols.start + box[1].stop)
        groups = _grid_groups(src.bands[:nb])  # one source grid at a time
        if k > 0:  # and at most 3 bands of it into scratch: less memory per task
            groups = [g[j : j + 3] for g in groups for j in range(0, len(g), 3)]
        for group in groups:
            dest = (
                [refl[i] for i in group]
                if k == 0
                else list(scratch("s2-later", (len(group), *shape), np.uint16))
            )
            sampled = _sample_bands(
                [src.bands[i] for i in group],
                grid,
                sub_rows,
                sub_cols,
                profile,
                method,
                np.uint16,
                dest,
            )
            for i, (values, _) in zip(group, sampled, strict=True):
                if values is None:  # the item misses the box: nothing to add
                    if k == 0:
                        refl[i].fill(0)
                    continue
                harmonize_s2(values, src.dn_offset, out=values)  # resampled DN, 0 if invalid
                if k > 0:
                    np.copyto(refl[i][box], values, where=refl[i][box] == 0)
        if src.has_scl:
            have_scl = True
            ((values, good),) = _sample_bands(
                src.bands[nb:], grid, sub_rows, sub_cols, profile, "nearest"
            )
            if values is not None:
                np.copyto(scl[box], values.astype(np.uint8), where=(scl[box] == 0) & good)
    clear = np.minimum.reduce(refl, axis=0) != 0  # every band valid
    if have_scl:
        clear &= clear_from_scl(scl, snow_is_clear=snow_is_clear)
    out[nb] = clear
    return out


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices around the True pixels of a 2-D mask (not all False)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def read_s1_block(
    sources: Sequence[ItemSource],
    grid: CubeGrid,
    rows: slice,
    cols: slice,
    profile: Profile,
    out: np.ndarray | None = None,
    method: str = "bilinear",
) -> np.ndarray:
    """One S1 pass over a block: (2, h, w) float32 dB, NaN where no data.

    Linear power is resampled as is; dB sources are resampled in linear
    power too (converted before, back after), so averages stay physical.
    Written into ``out`` when given, else a new array. ``method``:
    ``bilinear`` or ``nearest``.
    """
    h, w = rows.stop - rows.start, cols.stop - cols.start
    nb = len(S1_BANDS)
    if out is None:
        out = np.empty((nb, h, w), dtype=np.float32)
    out.fill(np.nan)  # stays where no item covers the block
    for k, src in enumerate(sources):
        if k and not np.isnan(out).any():
            break
        pre = _db_to_linear if src.units == "db" else None
        # the first item straight into the block, later ones into scratch planes
        dest = list(out) if k == 0 else list(scratch("s1-power", (nb, h, w), np.float32))
        sampled = _sample_bands(src.bands, grid, rows, cols, profile, method, pre=pre, out=dest)
        for i, (power, good) in enumerate(sampled):
            if power is None:
                continue
            # valid samples with power > 0 not yet filled by an earlier item
            # (``good`` may be shared between bands: not changed in place)
            take = np.greater(power, 0, out=scratch("s1-take", (h, w), bool))
            take &= good
            if k:
                take &= np.isnan(out[i])
            np.log10(power, out=power, where=take)
            power *= 10.0
            if k:
                np.copyto(out[i], power, where=take)
            else:  # ``power`` is the block's plane
                np.copyto(power, np.float32(np.nan), where=~take)
    return out


# --------------------------------------------------------------------------- sampling


def _sample_bands(
    bands: Sequence[BandSource],
    grid: CubeGrid,
    rows: slice,
    cols: slice,
    profile: Profile,
    method: str,
    dtype: type | None = None,
    out: Sequence[np.ndarray] | None = None,
    pre=None,
) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
    """Resample each band onto the block; bands on one grid share one plan.

    ``dtype`` is the bilinear output type and ``out`` the bands' destination
    planes (see :func:`geomm.cube._resample.resample`); a band whose source
    misses the block leaves its plane untouched.

    Returns one (values, good) per band, (None, None) where the band's
    source does not overlap the block.
    """
    result: list[tuple[np.ndarray | None, np.ndarray | None]] = [(None, None)] * len(bands)
    for members in _grid_groups(bands):
        first = bands[members[0]]
        plan = _plan(
            first.crs,
            first.transform,
            first.shape,
            grid,
            rows.start,
            rows.stop,
            cols.start,
            cols.stop,
        )
        if plan is None:
            continue
        window, src_rows, src_cols, layout = plan
        planes, valid = [], []
        for slot, i in enumerate(members):
            data, ok = _read_window(bands[i], window, profile, slot)
            planes.append(pre(data) if pre is not None else data)
            valid.append(ok)
        values, good = resample(
            planes,
            valid,
            src_rows,
            src_cols,
            layout=layout,
            method=method,
            dtype=dtype,
            out=None if out is None else [out[i] for i in members],
        )
        for k, i in enumerate(members):
            result[i] = (values[k], good[k])
    return result


def _grid_groups(bands: Sequence[BandSource]) -> list[list[int]]:
    """Indices of the bands on each source grid (CRS, transform, shape), in band order."""
    groups: dict[tuple, list[int]] = {}
    for i, band in enumerate(bands):
        groups.setdefault((band.crs, band.transform, band.shape), []).append(i)
    return list(groups.values())


def _read_window(
    band: BandSource, window: Window, profile: Profile, slot: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Read one window of one asset and its validity mask (nodata, NaN).

    Both are scratch arrays of ``slot`` (:mod:`geomm.cube._scratch`): the
    bands of one source grid are read into slots 0, 1, ... and resampled
    together before the next grid's are read.

    Raises:
        AssetReadError: the asset is missing, corrupt or unreachable (names
            the item, band and href; rasterio's own message is kept).
    """
    shape = (int(window.height), int(window.width))
    try:
        with source_env(band.gdal):
            ds = _open(profile.sign(band.href))
            data = ds.read(1, window=window, out=scratch(("window", slot), shape, ds.dtypes[0]))
    except RasterioError as e:
        _forget(profile.sign(band.href))
        hint = credentials_hint(band.href, band.gdal, str(e))
        raise AssetReadError(band.item_id, band.band, band.href, str(e), hint) from e
    valid = scratch(("valid", slot), shape, bool)
    if band.nodata is None:
        if data.dtype.kind == "f":
            np.isfinite(data, out=valid)
        else:
            valid.fill(True)
    elif math.isnan(band.nodata):
        np.isnan(data, out=valid)
        np.logical_not(valid, out=valid)
    else:
        np.not_equal(data, band.nodata, out=valid)
        if data.dtype.kind == "f":
            valid &= np.isfinite(data)
    return data, valid


_HANDLES = threading.local()


def _handle_budget() -> int:
    """Open COG handles kept per thread: up to 512, within the open-file limit.

    A quarter of the soft RLIMIT_NOFILE is shared among as many threads as
    there are CPUs, so a 1024-file default never runs out of descriptors.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(16, min(512, soft // (4 * (os.cpu_count() or 1))))


_MAX_HANDLES = _handle_budget()


def _open(href: str) -> rasterio.DatasetReader:
    """An open dataset for ``href``, kept per thread (LRU, see :func:`_handle_budget`).

    Opening a COG costs about a millisecond (header, overviews) and a cube
    reads every asset once per block; a kept handle also keeps GDAL's cache
    of decoded COG tiles, which neighbouring blocks share (cube blocks and COG
    tiles do not line up). Handles are per thread because GDAL datasets are
    not thread-safe; a signed href (new token) is a new key, so expired
    tokens age out of the cache.
    """
    cache: OrderedDict[str, rasterio.DatasetReader] | None = getattr(_HANDLES, "cache", None)
    if cache is None:
        cache = _HANDLES.cache = OrderedDict()
    ds = cache.get(href)
    if ds is not None:
        cache.move_to_end(href)
        return ds
    ds = rasterio.open(href)
    cache[href] = ds
    while len(cache) > _MAX_HANDLES:
        _, old = cache.popitem(last=False)
        old.close()
    return ds


def _forget(href: str) -> None:
    """Drop a (possibly broken) handle from this thread's cache."""
    cache = getattr(_HANDLES, "cache", None)
    if cache is not None and href in cache:
        cache.pop(href).close()


class _PlanCache:
    """Plans by key, the least recently used dropped beyond a byte budget; thread-safe.

    Bounded by bytes, not by count: a plan's maps grow with the task's area.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._plans: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()
            self._bytes = 0

    def get(self, key: tuple, make):
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key][0]
        plan = make()  # outside the lock: another thread may make the same plan meanwhile
        size = 0 if plan is None else plan[1].nbytes + plan[2].nbytes
        with self._lock:
            if key not in self._plans:
                self._plans[key] = (plan, size)
                self._bytes += size
                while self._bytes > self.budget and len(self._plans) > 1:
                    _, (_, freed) = self._plans.popitem(last=False)
                    self._bytes -= freed
        return plan


_PLANS = _PlanCache(64 * 2**20)
"""A few task-sized warped grids (23 MB of maps each at 1680 px): a plan serves
every band of its grid in one task and is reused by later dates while it
fits. Densifying a plan's maps again costs ~5 ms, so a larger budget buys
little and costs memory that grows with the task (docs/benchmarks.md)."""


def _plan(
    crs: str,
    transform: tuple[float, ...],
    shape: tuple[int, int],
    grid: CubeGrid,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
):
    """Which source window a block needs and where its pixel centres fall in it.

    Cached (:data:`_PLANS`): the bands of a tile on one grid, and that tile
    on every date, share one plan per block. Positions are relative to the
    window: float32 maps (8 bytes per pixel of the block), or 1-D for window
    copies and exact 2x upsampling.
    """
    key = (crs, transform, shape, grid, r0, r1, c0, c1)
    return _PLANS.get(key, lambda: _make_plan(*key))


def _make_plan(crs, transform, shape, grid, r0, r1, c0, c1):
    west, _, _, north = grid.bounds
    res = grid.resolution
    src = Affine(*transform)
    if _same_crs(crs, grid.crs) and abs(src.b) < _TOL and abs(src.d) < _TOL:
        # pixel-centre coordinates: col = (x - c) / a - 0.5, row = (y - f) / e - 0.5
        cols = (west + (np.arange(c0, c1) + 0.5) * res - src.c) / src.a - 0.5
        rows = (north - (np.arange(r0, r1) + 0.5) * res - src.f) / src.e - 0.5
        lo_row, hi_row, lo_col, hi_col = rows.min(), rows.max(), cols.min(), cols.max()
        layout = "separable"
    else:
        coarse_rows, coarse_cols = _coarse_positions(
            grid.crs, crs, transform, west + c0 * res, north - r0 * res, res, r1 - r0, c1 - c0
        )
        # densified relative to an integer base near the window's start (float32
        # resolves ~1e-4 px there), then the window is the maps' own range
        base_row, base_col = math.floor(np.nanmin(coarse_rows)), math.floor(np.nanmin(coarse_cols))
        rows = _densify(coarse_rows - base_row, r1 - r0, c1 - c0)
        cols = _densify(coarse_cols - base_col, r1 - r0, c1 - c0)
        lo_row, hi_row = (base_row + v for v in _value_range(rows))
        lo_col, hi_col = (base_col + v for v in _value_range(cols))
        layout = "general"
    row_lo = max(int(math.floor(lo_row)), 0)
    row_hi = min(int(math.floor(hi_row)) + 2, shape[0])
    col_lo = max(int(math.floor(lo_col)), 0)
    col_hi = min(int(math.floor(hi_col)) + 2, shape[1])
    if row_hi <= row_lo or col_hi <= col_lo:
        return None
    window = Window(col_lo, row_lo, col_hi - col_lo, row_hi - row_lo)
    if layout == "general":  # relative to the window (whole-pixel shifts)
        rows -= np.float32(row_lo - base_row)
        cols -= np.float32(col_lo - base_col)
    else:
        rows, cols = rows - row_lo, cols - col_lo
        if _unit_steps(rows) and _unit_steps(cols):
            layout = "copy"  # the block is a window of the source grid: no resampling
        elif not upsamples_by_2(rows, cols):
            # OpenCV's remap takes full maps: expand them once, here, for every
            # date (2x upsampling stays 1-D: it takes resize, see _resample)
            rows, cols = (
                np.ascontiguousarray(m)
                for m in np.meshgrid(
                    rows.astype(np.float32), cols.astype(np.float32), indexing="ij"
                )
            )
            layout = "general"
    return window, rows, cols, layout


def _unit_steps(pos: np.ndarray) -> bool:
    """Positions are consecutive whole pixels (0, 1, 2... from an integer offset)."""
    return bool(
        pos.size
        and abs(pos[0] - round(pos[0])) < 1e-6
        and np.allclose(np.diff(pos), 1.0, atol=1e-9)
    )


@functools.lru_cache(maxsize=64)
def _same_crs(a: str, b: str) -> bool:
    return CRS.from_user_input(a) == CRS.from_user_input(b)


_COARSE = 16
"""Exact CRS transforms every 16 px, bilinear in between: UTM-to-UTM maps are
smooth enough that this is exact to far below a millimetre, and 256x cheaper."""

_ZOOM = np.array([[1 / _COARSE, 0, 0], [0, 1 / _COARSE, 0]])
"""Inverse affine map from a block's pixels to its knot grid (see :func:`_densify`)."""


@functools.lru_cache(maxsize=64)
def _coarse_positions(
    dst_crs: str,
    src_crs: str,
    transform: tuple[float, ...],
    x0: float,
    y0: float,
    res: float,
    height: int,
    width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel positions (rows, cols), float64, at the block's :func:`_knots`."""
    ri, ci = _knots(height), _knots(width)
    gx, gy = np.meshgrid(x0 + (ci + 0.5) * res, y0 - (ri + 0.5) * res)
    sx, sy = (
        np.asarray(v, dtype=np.float64) for v in _transformer(dst_crs, src_crs).transform(gx, gy)
    )
    inv = ~Affine(*transform)
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
    (1/32 steps) and interpolation table represent exactly; ~8x faster than
    two numpy gathers and a blend, with no temporaries. Values should be
    relative (a few thousand pixels at most), where float32 resolves ~1e-4 px.
    """
    return cv2.warpAffine(
        np.ascontiguousarray(coarse, dtype=np.float32),
        _ZOOM,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _value_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of a float32 map, ignoring NaN (positions outside a CRS's domain)."""
    low, high, _, _ = cv2.minMaxLoc(values)  # fast, but NaN-unaware
    if np.isfinite(low) and np.isfinite(high) and not np.isnan(values).any():
        return low, high
    return float(np.nanmin(values)), float(np.nanmax(values))


@functools.lru_cache(maxsize=32)
def _transformer(dst_crs: str, src_crs: str) -> Transformer:
    return Transformer.from_crs(dst_crs, src_crs, always_xy=True)


def _db_to_linear(db: np.ndarray) -> np.ndarray:
    return np.power(10.0, db.astype(np.float32) / 10.0, dtype=np.float32)


# --------------------------------------------------------------------------- metadata


def _band_source(item: pystac.Item, verdict: ItemBands, name: str) -> BandSource:
    band = verdict.bands[name]
    asset = item.assets[band.asset]
    fields = {**item.properties, **asset.extra_fields}
    crs = _proj_crs(fields)
    transform = fields.get("proj:transform")
    shape = fields.get("proj:shape")
    gdal = band.gdal  # the profile checked the endpoint the item names (geomm.stac._storage)
    if crs is None or transform is None or shape is None:
        try:
            with reader_env(), source_env(gdal), rasterio.open(band.href) as ds:  # header only
                crs = crs or ds.crs.to_string()
                transform = transform or list(ds.transform)[:6]
                shape = shape or [ds.height, ds.width]
        except RasterioError as e:
            hint = credentials_hint(band.href, gdal, str(e))
            raise AssetReadError(item.id, name, band.href, str(e), hint) from e
    return BandSource(
        href=band.href,
        crs=crs,
        transform=tuple(float(v) for v in list(transform)[:6]),
        shape=(int(shape[0]), int(shape[1])),
        nodata=band.nodata,
        item_id=item.id,
        band=name,
        gdal=gdal,
    )


def _proj_crs(fields: dict) -> str | None:
    if code := fields.get("proj:code"):
        return str(code)
    if epsg := fields.get("proj:epsg"):
        return f"EPSG:{epsg}"
    if wkt := fields.get("proj:wkt2"):
        return str(wkt)
    return None


# --------------------------------------------------------------------------- dask arrays


def s2_array(
    plans: Sequence[Sequence[ItemSource]],
    grid: CubeGrid,
    profile: Profile,
    snow_is_clear: bool,
    task_chunks: int = 1,
    method: str = "bilinear",
):
    """Lazy (time, 13, y, x) uint16: 12 harmonized bands + clear.

    One task per acquisition and ``task_chunks`` x ``task_chunks`` chunks
    (see :func:`_read_task`); ``method`` resamples the reflectance bands.
    """
    kwargs = {"profile": profile, "snow_is_clear": snow_is_clear, "method": method}
    return _array(
        "geomm-s2",
        [(read_s2_block, (plan, grid), kwargs) for plan in plans],
        grid,
        task_chunks,
        layers=len(S2_BANDS) + 1,
        dtype=np.uint16,
    )


def s1_array(
    plans: Sequence[Sequence[ItemSource]],
    grid: CubeGrid,
    profile: Profile,
    task_chunks: int = 1,
    method: str = "bilinear",
):
    """Lazy (pass, 2, y, x) float32 dB, one task per pass and ``task_chunks``^2 chunks."""
    kwargs = {"profile": profile, "method": method}
    return _array(
        "geomm-s1",
        [(read_s1_block, (plan, grid), kwargs) for plan in plans],
        grid,
        task_chunks,
        layers=len(S1_BANDS),
        dtype=np.float32,
    )


def _array(prefix: str, planes: list, grid: CubeGrid, task_chunks: int, *, layers: int, dtype):
    if task_chunks < 1:
        raise ValueError(f"task_chunks must be >= 1, got {task_chunks}")
    height, width = grid.shape
    ys = _chunk_edges(height, grid.chunk_px * task_chunks)
    xs = _chunk_edges(width, grid.chunk_px * task_chunks)
    name = f"{prefix}-{tokenize(planes, grid, task_chunks)}"
    dsk = {}
    for t, (func, args, kwargs) in enumerate(planes):
        for iy, (y0, y1) in enumerate(ys):
            for ix, (x0, x1) in enumerate(xs):
                dsk[(name, t, 0, iy, ix)] = (
                    _read_task,
                    func,
                    args,
                    kwargs,
                    slice(y0, y1),
                    slice(x0, x1),
                    (layers, np.dtype(dtype).str),
                )
    chunks = (
        (1,) * len(planes),
        (layers,),
        tuple(b - a for a, b in ys),
        tuple(b - a for a, b in xs),
    )
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[])
    return da.Array(graph, name, chunks, dtype=dtype)


def _read_task(func, args, kwargs: dict, rows: slice, cols: slice, out_spec) -> np.ndarray:
    """Run ``func`` once over a task's rows and cols (several Zarr chunks).

    One call per task, not per Zarr chunk: each band's COG window is read
    once, so tiles that straddle Zarr chunks (cube chunks and COG tiles do
    not line up) are decoded once (a third less decoding at 960 px chunks
    than chunk by chunk), and every kernel runs once per band. Work arrays
    are task-sized scratch buffers, reused across the task's bands and items
    (:mod:`geomm.cube._scratch`). GDAL's settings around the reads (a small
    tile cache, opens without sidecar probing, HTTP retries) are those of
    :func:`geomm.cube._gdal.reader_env`.
    """
    layers, dtype = out_spec
    out = np.empty((layers, rows.stop - rows.start, cols.stop - cols.start), dtype=dtype)
    with reader_env(), scratch_pool():
        func(*args, rows, cols, **kwargs, out=out)
    return out[None]


def _chunk_edges(size: int, step: int) -> list[tuple[int, int]]:
    return [(start, min(start + step, size)) for start in range(0, size, step)]
