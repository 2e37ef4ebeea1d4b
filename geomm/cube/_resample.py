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

import cv2
import numpy as np

__all__ = ["Layout", "resample"]

Layout = str  # "copy" | "separable" | "general"

_HALF = 0.5 - 1e-6


def resample(
    data: np.ndarray,
    valid: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    layout: Layout,
    method: str = "bilinear",
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a stack ``data[b, r, c]`` (validity ``valid``) at the positions.

    ``separable`` positions are expanded to a grid and take the same kernel
    as ``general`` ones: OpenCV's remap beats separable numpy passes.

    Returns:
        (values, good): float32 values for bilinear (the source dtype for
        nearest) of shape (bands, H, W), and their validity.
    """
    if layout == "copy":
        return _copy(data, valid, rows, cols, method)
    if layout == "separable":
        rows, cols = np.meshgrid(
            np.asarray(rows, dtype=np.float32), np.asarray(cols, dtype=np.float32), indexing="ij"
        )
    if method == "nearest":
        return _nearest(data, valid, rows, cols)
    return _bilinear(data, valid, rows, cols)


def _copy(data, valid, rows, cols, method):  # noqa: ANN001, ANN202
    """The block is a window of the source grid; pad where the source ends."""
    nb = data.shape[0]
    h, w = len(rows), len(cols)
    r0, c0 = int(round(rows[0])), int(round(cols[0]))
    out = np.zeros((nb, h, w), dtype=data.dtype if method == "nearest" else np.float32)
    good = np.zeros((nb, h, w), dtype=bool)
    sr0, sc0 = max(r0, 0), max(c0, 0)
    sr1, sc1 = min(r0 + h, data.shape[1]), min(c0 + w, data.shape[2])
    if sr1 > sr0 and sc1 > sc0:
        dst = (slice(None), slice(sr0 - r0, sr1 - r0), slice(sc0 - c0, sc1 - c0))
        out[dst] = data[:, sr0:sr1, sc0:sc1]
        good[dst] = valid[:, sr0:sr1, sc0:sc1]
    return out, good


def _nearest(data, valid, rows, cols):  # noqa: ANN001, ANN202
    """Nearest neighbour: the source pixel whose centre is closest (ties: rounding up)."""
    r = np.floor(rows + 0.5).astype(np.intp)
    c = np.floor(cols + 0.5).astype(np.intp)
    inside = (r >= 0) & (r < data.shape[1]) & (c >= 0) & (c < data.shape[2])
    r, c = np.where(inside, r, 0), np.where(inside, c, 0)
    values = data[:, r, c]
    good = valid[:, r, c] & inside
    values[~good] = 0
    return values, good


def _bilinear(data, valid, rows, cols):  # noqa: ANN001, ANN202
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
    map_x = np.ascontiguousarray(cols, dtype=np.float32)
    map_y = np.ascontiguousarray(rows, dtype=np.float32)

    def interp(plane: np.ndarray) -> np.ndarray:
        return cv2.remap(
            np.ascontiguousarray(plane, dtype=np.float32),
            map_x,
            map_y,
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )

    h, w = data.shape[1:]
    interior = (
        map_y.min() >= 0 and map_y.max() <= h - 1 and map_x.min() >= 0 and map_x.max() <= w - 1
    )
    if interior and valid.all():
        values = np.stack([interp(band) for band in data])
        return values, np.ones(values.shape, dtype=bool)
    shared = bool((valid == valid[:1]).all())
    den_shared = interp(valid[0]) if shared else None
    nums, dens = [], []
    for band in range(data.shape[0]):
        nums.append(interp(np.where(valid[band], data[band], 0)))
        dens.append(den_shared if shared else interp(valid[band]))
    return _normalize(np.stack(nums), np.stack(dens))


def _normalize(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    good = den >= _HALF
    out = np.zeros(num.shape, dtype=np.float32)
    np.divide(num, den, out=out, where=good)
    return out, good
