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
``(row, col) = (0.0, 0.0)`` is the centre of its top-left pixel. Three
layouts: ``copy`` (the block is a window of the source grid), ``separable``
(axis-aligned: ``rows`` is (H,), ``cols`` is (W,)), ``general`` (``rows``,
``cols`` are (H, W), e.g. from another UTM zone).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["Layout", "resample"]

Layout = str  # "copy" | "separable" | "general"

_HALF = 0.5 - 1e-6


def resample(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    layout: Layout,
    method: str = "bilinear",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Resample bands ``data[b][r, c]`` (validity ``valid[b]``) at the positions.

    Bands come and go as lists of 2-D planes (a 3-D array works as input),
    so nothing is stacked. ``separable`` positions are expanded to a grid and
    take the same OpenCV kernels as ``general`` ones (remap beats separable
    numpy passes; its GIL is released).

    Returns:
        (values, good) per band: float32 values for bilinear (the source
        dtype for nearest), and their validity.
    """
    if layout == "copy":
        return _copy(data, valid, rows, cols, method)
    if layout == "separable":
        rows, cols = np.meshgrid(
            np.asarray(rows, dtype=np.float32), np.asarray(cols, dtype=np.float32), indexing="ij"
        )
    map_x = np.ascontiguousarray(cols, dtype=np.float32)
    map_y = np.ascontiguousarray(rows, dtype=np.float32)
    if method == "nearest":
        return _nearest(data, valid, map_x, map_y)
    return _bilinear(data, valid, map_x, map_y)


def _copy(data, valid, rows, cols, method):  # noqa: ANN001, ANN202
    """The block is a window of the source grid; pad where the source ends."""
    h, w = len(rows), len(cols)
    r0, c0 = int(round(rows[0])), int(round(cols[0]))
    values, goods = [], []
    for band, ok in zip(data, valid, strict=True):
        out = np.zeros((h, w), dtype=band.dtype if method == "nearest" else np.float32)
        good = np.zeros((h, w), dtype=bool)
        sr0, sc0 = max(r0, 0), max(c0, 0)
        sr1, sc1 = min(r0 + h, band.shape[0]), min(c0 + w, band.shape[1])
        if sr1 > sr0 and sc1 > sc0:
            dst = (slice(sr0 - r0, sr1 - r0), slice(sc0 - c0, sc1 - c0))
            out[dst] = band[sr0:sr1, sc0:sc1]
            good[dst] = ok[sr0:sr1, sc0:sc1]
        values.append(out)
        goods.append(good)
    return values, goods


def _remap(plane: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, how: int) -> np.ndarray:
    """OpenCV remap with a constant 0 outside the window."""
    return cv2.remap(
        np.ascontiguousarray(plane),
        map_x,
        map_y,
        interpolation=how,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def _nearest(data, valid, map_x, map_y):  # noqa: ANN001, ANN202
    """Nearest neighbour: the source pixel whose centre is closest.

    OpenCV rounds exact half-way positions to even; they do not occur for
    the 10/20/60 m grids (offsets of 1/4 and 1/12 pixel) and have measure zero
    across zones.
    """
    values, goods = [], []
    for band, ok in zip(data, valid, strict=True):
        good = _remap(ok.view(np.uint8), map_x, map_y, cv2.INTER_NEAREST).view(bool)
        value = _remap(band, map_x, map_y, cv2.INTER_NEAREST)
        value[~good] = 0
        values.append(value)
        goods.append(good)
    return values, goods


def _bilinear(data, valid, map_x, map_y):  # noqa: ANN001, ANN202
    """Bilinear at any positions: OpenCV's ``remap`` per band (GIL released).

    ``remap`` is ~20x faster than scipy's ``map_coordinates`` and ~8x faster
    than separable numpy passes, and agrees with both to float32 rounding.
    Fast path: when every pixel of the window is valid and every sample lies
    between source pixel centres, the kernel needs no renormalization and the
    bands are interpolated directly. Otherwise data*mask and the mask are
    interpolated (a constant 0 border interpolates against zeros beyond the
    window, like a missing neighbour) and divided; the mask once when all
    bands share it (one tile, one footprint).
    """
    h, w = data[0].shape
    interior = (
        map_y.min() >= 0 and map_y.max() <= h - 1 and map_x.min() >= 0 and map_x.max() <= w - 1
    )
    linear = cv2.INTER_LINEAR
    if interior and all(ok.all() for ok in valid):
        values = [_remap(band.astype(np.float32), map_x, map_y, linear) for band in data]
        return values, [np.ones(v.shape, dtype=bool) for v in values]
    shared = all(np.array_equal(ok, valid[0]) for ok in valid[1:])
    den_shared = _remap(valid[0].astype(np.float32), map_x, map_y, linear) if shared else None
    values, goods = [], []
    for band, ok in zip(data, valid, strict=True):
        num = _remap(np.where(ok, band, 0).astype(np.float32), map_x, map_y, linear)
        den = den_shared if shared else _remap(ok.astype(np.float32), map_x, map_y, linear)
        value, good = _normalize(num, den)
        values.append(value)
        goods.append(good)
    return values, goods


def _normalize(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Num / den where den carries at least half the weight; 0 elsewhere."""
    good = den >= _HALF
    out = num / np.maximum(den, _HALF)
    out *= good
    return out, good
