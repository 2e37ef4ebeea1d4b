"""Sampling stacks of source bands at arbitrary pixel positions, nodata-aware.

The cube reader resamples every band of one source grid (an S2 tile's four
10 m bands, its six 20 m bands...) with the *same* sample positions, so the
kernels here work on stacks ``(bands, rows, cols)`` and compute indices and
weights once per stack:

* bilinear, with nodata neighbours excluded and the weights of the valid ones
  renormalized (as GDAL does): ``sum(w * v * m) / sum(w * m)``; a sample is
  valid when its valid neighbours carry at least half the weight, so nodata
  edges move by at most half a source pixel;
* nearest, for classifications (SCL).

Positions are continuous pixel-centre coordinates in the source window:
``(row, col) = (0.0, 0.0)`` is the centre of its top-left pixel, laid out
as one of :class:`Layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from geomm.cube._reader import PixelWindow
from geomm.cube._remap import Out, Planes, bilinear, cast_into, nearest, out_plane, remappable
from geomm.cube._scratch import scratch

__all__ = ["Layout", "Planes", "resample", "upsamples_by_2"]


class Layout(Enum):
    """How sample positions are laid out (and so which kernel samples them)."""

    COPY = "copy"
    """The block is a window of the source grid: ``rows`` (H,), ``cols`` (W,), whole pixels."""
    SEPARABLE = "separable"
    """Axis-aligned: ``rows`` is (H,), ``cols`` is (W,)."""
    GENERAL = "general"
    """Any positions: ``rows``, ``cols`` are (H, W) (e.g. from another UTM zone)."""


def resample(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    rows: np.ndarray,
    cols: np.ndarray,
    layout: Layout,
    method: str = "bilinear",
    dtype: np.dtype | type | None = None,
    out: Out = None,
) -> Planes:
    """Resample bands ``data[b][r, c]`` (validity ``valid[b]``) at the positions.

    Bands come and go as lists of 2-D planes (a 3-D array works as input),
    so nothing is stacked. ``separable`` positions that upsample by exactly 2
    (a 20 m grid under a 10 m one) take OpenCV's ``resize`` where every
    neighbour is valid, bit-identical to ``remap`` and much faster; other
    ``separable`` positions are expanded to a grid and take the same OpenCV
    kernels as ``general`` ones (remap beats separable numpy passes; its GIL
    is released).

    Args:
        data: source planes (one per band), all of one shape.
        valid: their validity masks.
        rows: sample rows, in source pixel-centre coordinates.
        cols: sample columns, likewise.
        layout: how ``rows`` and ``cols`` are laid out (:class:`Layout`).
        method: ``bilinear`` or ``nearest``.
        dtype: bilinear output type: float32 (default) or an integer type,
            rounded to nearest and 0 where invalid. Integer sources of that
            type are then interpolated directly, without float copies
            (reflectance DN: a third of the passes).
        out: destination planes, one per band, of the output shape and
            dtype (views into a larger array are fine): the values are
            written there, so a caller's block needs no copy. New arrays
            when None.

    Returns:
        The planes: ``dtype`` values for bilinear (the source dtype for
        nearest; the ``out`` planes when given), and their validity.
    """
    kind = None if method == "nearest" else np.dtype(dtype or np.float32)
    if layout is Layout.COPY:
        return _copy(data, valid, rows=rows, cols=cols, kind=kind, out=out)
    if layout is Layout.SEPARABLE:
        zoomed = _zoom2(data, valid, rows=rows, cols=cols, kind=kind, out=out)
        if zoomed is not None:
            return zoomed
        rows, cols = np.meshgrid(
            np.asarray(rows, dtype=np.float32), np.asarray(cols, dtype=np.float32), indexing="ij"
        )
    map_x = np.ascontiguousarray(cols, dtype=np.float32)
    map_y = np.ascontiguousarray(rows, dtype=np.float32)
    if kind is None:
        return nearest(data, valid, map_x=map_x, map_y=map_y, out=out)
    return bilinear(data, valid, map_x=map_x, map_y=map_y, dtype=kind, out=out)


def _copy(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    rows: np.ndarray,
    cols: np.ndarray,
    kind: np.dtype | None,
    out: Out,
) -> Planes:
    """The block is a window of the source grid; pad where the source ends.

    ``kind``: the bilinear output type, None for nearest (the source's type).
    """
    h, w = len(rows), len(cols)
    r0, c0 = int(round(rows[0])), int(round(cols[0]))
    values, goods = [], []
    for b, (band, ok) in enumerate(zip(data, valid, strict=True)):
        value = out_plane(out, b, (h, w), band.dtype if kind is None else kind)
        good = np.zeros((h, w), dtype=bool)
        sr0, sc0 = max(r0, 0), max(c0, 0)
        sr1, sc1 = min(r0 + h, band.shape[0]), min(c0 + w, band.shape[1])
        if sr1 > sr0 and sc1 > sc0:
            dst = (slice(sr0 - r0, sr1 - r0), slice(sc0 - c0, sc1 - c0))
            if sr1 - sr0 < h or sc1 - sc0 < w:
                value.fill(0)
            value[dst] = band[sr0:sr1, sc0:sc1]
            good[dst] = ok[sr0:sr1, sc0:sc1]
            if kind is not None:
                value[dst] *= good[dst]  # 0 where invalid, as for the other layouts
        else:
            value.fill(0)
        values.append(value)
        goods.append(good)
    return Planes(values, goods)


@dataclass(frozen=True)
class _Zoom:
    """Where 2x-upsampled samples fall: the output range on the window's 2x grid."""

    inner: PixelWindow
    """The output samples that lie on the window's 2x grid."""
    crop: PixelWindow
    """The same samples in the 2x-upsampled window."""
    shape: tuple[int, int]
    """Output (h, w)."""

    @property
    def partial(self) -> bool:
        """Some output samples lie off the window's 2x grid."""
        return self.inner != PixelWindow(0, self.shape[0], 0, self.shape[1])


def _zoom_geometry(rows: np.ndarray, cols: np.ndarray, window: tuple[int, ...]) -> _Zoom | None:
    """The :class:`_Zoom` of exact 2x positions over a window of shape ``window``, else None."""
    d0_rows, d0_cols = _half_phase(rows), _half_phase(cols)
    if d0_rows is None or d0_cols is None:
        return None
    h, w = window
    shape = (len(rows), len(cols))
    ra, rb = _on_window(d0_rows, shape[0], 2 * h)
    ca, cb = _on_window(d0_cols, shape[1], 2 * w)
    return _Zoom(
        inner=PixelWindow(ra, rb, ca, cb),
        crop=PixelWindow(d0_rows + ra, d0_rows + rb, d0_cols + ca, d0_cols + cb),
        shape=shape,
    )


def _zoom2(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    rows: np.ndarray,
    cols: np.ndarray,
    kind: np.dtype | None,
    out: Out = None,
) -> Planes | None:
    """Exact 2x upsampling where positions are ``(d0 + j + 0.5) / 2 - 0.5``, else None.

    That is OpenCV's ``resize`` convention (pixel centres, half-pixel phase)
    shifted by ``d0`` output pixels, which is where 10 m pixel centres fall
    on a 20 m grid that shares their corners. Output pixels off the window's
    2x grid (a tile's edge inside the block) are invalid and 0: their
    nearest source pixel is outside, and their valid neighbours carry a
    quarter of the weight; the outermost ones on it carry three quarters,
    and ``resize`` clamps them to the edge pixel, which is the renormalized
    value. Bilinear (``kind`` a type) only when every pixel is valid (no
    renormalization inside); nearest (``kind`` None) always (it copies
    values and masks).
    """
    zoom = _zoom_geometry(rows, cols, data[0].shape)
    if zoom is None or (kind is not None and not all(ok.all() for ok in valid)):
        return None
    if kind is None:
        return _zoom2_nearest(data, valid, zoom=zoom, out=out)
    on_window = np.zeros(zoom.shape, dtype=bool)  # bilinear validity, shared by the bands
    on_window[zoom.inner.index] = True
    rows_in, cols_in = zoom.inner.index
    values = []
    for b, band in enumerate(data):
        value = out_plane(out, b, zoom.shape, kind)
        if zoom.partial:
            value.fill(0)
        if rows_in.stop > rows_in.start and cols_in.stop > cols_in.start:
            h, w = band.shape
            src = remappable(band, kind)
            zoomed = cv2.resize(
                src,
                (2 * w, 2 * h),
                dst=scratch("zoom2", (2 * h, 2 * w), src.dtype),
                interpolation=cv2.INTER_LINEAR,
            )
            cast_into(zoomed[zoom.crop.index], value[zoom.inner.index])
        values.append(value)
    return Planes(values, [on_window] * len(values))


def _zoom2_nearest(
    data: Sequence[np.ndarray], valid: Sequence[np.ndarray], *, zoom: _Zoom, out: Out
) -> Planes:
    """Nearest 2x upsampling: the source pixel of output m is m // 2."""
    values, goods = [], []
    for b, (band, ok) in enumerate(zip(data, valid, strict=True)):
        value = out_plane(out, b, zoom.shape, band.dtype)
        if zoom.partial:
            value.fill(0)
        value[zoom.inner.index] = _repeat2(band)[zoom.crop.index]
        good = np.zeros(zoom.shape, dtype=bool)
        good[zoom.inner.index] = _repeat2(ok)[zoom.crop.index]
        value[~good] = 0
        values.append(value)
        goods.append(good)
    return Planes(values, goods)


def _on_window(d0: int, n: int, size: int) -> tuple[int, int]:
    """Output range [a, b) of n samples at 2x-grid offset d0 that lie on a 2x grid of ``size``."""
    a = min(max(0, -d0), n)
    return a, max(a, min(n, size - d0))


def upsamples_by_2(rows: np.ndarray, cols: np.ndarray) -> bool:
    """Separable positions that :func:`resample` serves with ``resize`` (exact 2x)."""
    return _half_phase(rows) is not None and _half_phase(cols) is not None


def _half_phase(pos: np.ndarray) -> int | None:
    """``d0`` if 1-D positions are ``(d0 + j + 0.5) / 2 - 0.5`` (j = 0, 1, ...), else None.

    ``d0`` may be negative: the first samples then lie before the window.
    """
    pos = np.asarray(pos, dtype=np.float64)
    phase = 2 * pos[0] + 0.5
    if pos.size < 2 or abs(phase - round(phase)) > 1e-6:
        return None
    d0 = int(round(phase))
    if not np.allclose(pos, (d0 + np.arange(pos.size) + 0.5) / 2 - 0.5, rtol=0, atol=1e-6):
        return None
    return d0


def _repeat2(plane: np.ndarray) -> np.ndarray:
    """Each pixel as a 2 x 2 block (nearest-neighbour 2x upsampling)."""
    return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)
