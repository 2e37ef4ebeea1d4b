"""OpenCV ``remap`` kernels behind :func:`geomm.cube._resample.resample`.

Bilinear with nodata neighbours excluded and the valid weights renormalized
(as GDAL does), straight into integer output types where it can, and
nearest; positions are float maps in source pixel-centre coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import cv2
import numpy as np

from geomm.cube._scratch import scratch

__all__ = ["Out", "Planes", "bilinear", "cast_into", "nearest", "out_plane", "remappable"]


@dataclass(frozen=True, eq=False)
class Planes:
    """Resampled bands, one 2-D plane per band."""

    values: list[np.ndarray]
    """The samples (0 where invalid for bilinear)."""
    good: list[np.ndarray]
    """Their validity (bool); bands may share one mask array."""


_HALF = 0.5 - 1e-6

Out: TypeAlias = Sequence[np.ndarray] | None
"""Destination planes, one per band, or None for new arrays."""


def out_plane(out: Out, b: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Band ``b``'s destination: ``out[b]`` (checked) when given, else a new array."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    plane = out[b]
    if plane.shape != tuple(shape) or plane.dtype != dtype:
        raise ValueError(f"out[{b}] is {plane.dtype}{plane.shape}; resample writes {dtype}{shape}")
    return plane


def _remap(
    plane: np.ndarray,
    *,
    map_x: np.ndarray,
    map_y: np.ndarray,
    how: int,
    dst: np.ndarray | None = None,
) -> np.ndarray:
    """OpenCV remap with a constant 0 outside the window, into ``dst`` when given."""
    result: np.ndarray = cv2.remap(
        np.ascontiguousarray(plane),
        map_x,
        map_y,
        dst=dst,
        interpolation=how,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return result


def nearest(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    map_x: np.ndarray,
    map_y: np.ndarray,
    out: Out = None,
) -> Planes:
    """Nearest neighbour: the source pixel whose centre is closest.

    OpenCV rounds exact half-way positions to even; they do not occur for
    the 10/20/60 m grids (offsets of 1/4 and 1/12 pixel) and have measure zero
    across zones.
    """
    values, goods = [], []
    for b, (band, ok) in enumerate(zip(data, valid, strict=True)):
        good = _remap(ok.view(np.uint8), map_x=map_x, map_y=map_y, how=cv2.INTER_NEAREST)
        good = good.view(bool)
        value = out_plane(out, b, map_x.shape, band.dtype)
        _remap(band, map_x=map_x, map_y=map_y, how=cv2.INTER_NEAREST, dst=value)
        value[~good] = 0
        values.append(value)
        goods.append(good)
    return Planes(values, goods)


def bilinear(
    data: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    map_x: np.ndarray,
    map_y: np.ndarray,
    dtype: np.dtype,
    out: Out = None,
) -> Planes:
    """Bilinear at any positions: OpenCV's ``remap`` per band (GIL released).

    ``remap`` is much faster than scipy's ``map_coordinates`` and than
    separable numpy passes, and agrees with both to float32 rounding.
    OpenCV 5 interpolates float maps exactly (fixed-point maps from
    ``convertMaps`` would snap positions to 1/32 px and move nodata edges).

    When every pixel of the window is valid (the common case, also at a
    tile's edge) each band takes one ``remap`` straight into the output type
    (:func:`_bilinear_valid`). Otherwise data*mask and the mask are
    interpolated (a constant 0 border interpolates against zeros beyond the
    window, like a missing neighbour) and divided; the mask once when all
    bands share it (one tile, one footprint). Float intermediates live in
    scratch buffers (:mod:`geomm.cube._scratch`).
    """
    if all(ok.all() for ok in valid):
        return _bilinear_valid(data, map_x=map_x, map_y=map_y, dtype=dtype, out=out)
    shape = map_x.shape
    maps = (map_x, map_y)
    shared = all(ok is valid[0] or np.array_equal(ok, valid[0]) for ok in valid[1:])
    weights = _weights(valid[0], maps) if shared else None
    values, goods = [], []
    for b, (band, ok) in enumerate(zip(data, valid, strict=True)):
        scale, good = weights if weights is not None else _weights(ok, maps)
        plane = out_plane(out, b, shape, dtype)
        value = plane if dtype == np.float32 else scratch("bilinear", shape, np.float32)
        _remap_linear(_masked(band, ok), maps, value)
        if value is plane:
            value *= scale
        elif dtype in _CV_INT:  # scale, round to nearest even, saturate: one OpenCV pass
            cv2.multiply(value, scale, dst=plane, dtype=_CV_INT[dtype])
        else:
            value *= scale
            cast_into(value, plane)
        values.append(plane)
        goods.append(good)
    return Planes(values, goods)


def _bilinear_valid(
    data: Sequence[np.ndarray],
    *,
    map_x: np.ndarray,
    map_y: np.ndarray,
    dtype: np.dtype,
    out: Out,
) -> Planes:
    """Bilinear when every source pixel is valid: one ``remap`` per band.

    Samples between pixel centres need no renormalization. A sample within a
    pixel of the window's edge has neighbours beyond it, which the constant
    0 border counts as missing: renormalizing the weights over those inside
    (as the masked path does) equals bilinear at the position clamped to the
    window, because the weights are separable. Those few samples are
    recomputed so (:func:`_fix_edges`); samples whose neighbours inside
    carry under half the weight are invalid and 0, as in the masked path.
    (A replicated border would give the same values in one call, but
    OpenCV takes its slow path for every sample outside the window then.)
    """
    h, w = data[0].shape
    shape = map_x.shape
    interior = (
        map_y.min() >= 0 and map_y.max() <= h - 1 and map_x.min() >= 0 and map_x.max() <= w - 1
    )
    values = []
    for b, band in enumerate(data):
        src = remappable(band, dtype)
        plane = out_plane(out, b, shape, dtype)
        direct = src.dtype == dtype
        sampled = _remap_linear(
            src, (map_x, map_y), plane if direct else scratch("bilinear", shape, np.float32)
        )
        values.append(plane if direct else cast_into(sampled, plane))
    if interior:
        good = np.ones(shape, dtype=bool)
    else:
        good = _fix_edges(data, values, map_x=map_x, map_y=map_y)
    return Planes(values, [good] * len(values))


def _fix_edges(
    data: Sequence[np.ndarray],
    values: Sequence[np.ndarray],
    *,
    map_x: np.ndarray,
    map_y: np.ndarray,
) -> np.ndarray:
    """Recompute samples near the window's edge as clamped bilinear; returns their validity.

    The weight of the neighbours inside the window, as the masked path
    computes it, decides validity; samples with every neighbour outside are
    already 0 (constant border), those partly outside are fixed up in place.
    """
    h, w = data[0].shape
    shape = map_x.shape
    ones = scratch("weights-mask", (h, w), np.float32)
    ones.fill(1)
    inside = _remap_linear(ones, (map_x, map_y), scratch("weights", shape, np.float32))
    good: np.ndarray = inside >= _HALF
    edge = np.flatnonzero((inside > 0) & (inside < 1 - 1e-6))  # 1-D: far cheaper than 2-D
    if edge.size:
        rows, cols = np.divmod(edge, shape[1])
        keep = good[rows, cols]
        x, y = map_x[rows, cols], map_y[rows, cols]
        for band, plane in zip(data, values, strict=True):
            fixed = np.where(keep, _clamped_bilinear(band, x=x, y=y), 0)
            plane[rows, cols] = cast_into(fixed, np.empty(fixed.shape, plane.dtype))
    return good


def _clamped_bilinear(band: np.ndarray, *, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples at positions clamped to the band, float64 (for a few samples)."""
    h, w = band.shape
    x = np.clip(x.astype(np.float64), 0, w - 1)
    y = np.clip(y.astype(np.float64), 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.intp), max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    top = band[y0, x0] * (1 - fx) + band[y0, x1] * fx
    bottom = band[y1, x0] * (1 - fx) + band[y1, x1] * fx
    result: np.ndarray = top * (1 - fy) + bottom * fy
    return result


def _remap_linear(
    plane: np.ndarray, maps: tuple[np.ndarray, np.ndarray], dst: np.ndarray | None = None
) -> np.ndarray:
    """Bilinear ``remap`` at ``maps`` = (x, y) positions, 0 outside the window."""
    return _remap(plane, map_x=maps[0], map_y=maps[1], how=cv2.INTER_LINEAR, dst=dst)


def remappable(band: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The band as OpenCV interpolates it.

    In ``dtype`` when it already is an integer of that type (OpenCV rounds
    to nearest), else as float32.
    """
    if band.dtype == dtype and dtype.kind in "ui" and dtype.itemsize <= 2:
        return band
    return band.astype(np.float32, copy=False)


def _masked(band: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """float32 band with 0 at invalid pixels (NaN nodata included), in a scratch buffer."""
    masked = scratch("masked", band.shape, np.float32)
    if band.dtype.kind == "f":
        masked.fill(0)
        np.copyto(masked, band, where=ok, casting="same_kind")
    else:
        np.multiply(band, ok, out=masked, dtype=np.float32)
    return masked


def _weights(ok: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample (1/(valid weight), validity), 0 where valid neighbours carry under half of it.

    The scale is a scratch buffer: use it before the next call.
    """
    mask = scratch("weights-mask", ok.shape, np.float32)
    np.copyto(mask, ok)
    scale = _remap_linear(mask, maps, scratch("weights", maps[0].shape, np.float32))
    good = scale >= _HALF
    np.maximum(scale, np.float32(_HALF), out=scale)
    np.reciprocal(scale, out=scale)
    scale *= good
    return scale, good


_CV_INT = {
    np.dtype(np.uint8): cv2.CV_8U,
    np.dtype(np.uint16): cv2.CV_16U,
    np.dtype(np.int16): cv2.CV_16S,
}
"""Integer outputs OpenCV's arithmetic writes with ``saturate_cast``: round half to
even (as ``np.rint``), then clip to the type's range."""


def cast_into(value: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """Float samples into ``plane``'s dtype (rounded and clipped for integers); returns ``plane``.

    Rounds ``value`` in place when ``plane`` is an integer type.
    """
    if value is plane:
        return plane
    if plane.dtype.kind in "ui" and value.dtype.kind == "f":
        info = np.iinfo(plane.dtype)
        np.rint(value, out=value)
        np.clip(value, info.min, info.max, out=value)
    np.copyto(plane, value, casting="unsafe")
    return plane
