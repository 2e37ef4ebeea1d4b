"""Canonical radiometry: pure array functions, applied lazily to Dask blocks.

* Sentinel-2: reflectance x 10000 as uint16, 0 = nodata, with the
  processing-baseline 04.00 offset removed exactly once (the provider
  profile decides how many DN; these functions only subtract it).
* Sentinel-1: backscatter in dB (10*log10 of linear power), float32,
  NaN = nodata, never -inf.
* ``clear``: SCL says not cloud, shadow, saturated or nodata.
"""

from __future__ import annotations

import cv2
import numpy as np

from geomm.cube._scratch import scratch

__all__ = [
    "NOT_CLEAR_SCL",
    "SNOW_SCL",
    "clear_from_scl",
    "db_nodata_to_nan",
    "harmonize_s2",
    "s1_to_db",
]

NOT_CLEAR_SCL = (0, 1, 3, 8, 9, 10)
"""SCL classes that are never clear: nodata, saturated, cloud shadow, cloud
medium/high probability, thin cirrus."""

SNOW_SCL = 11
"""SCL snow/ice: not clear unless the caller says snow is a valid surface."""


def harmonize_s2(dn: np.ndarray, dn_offset: int, out: np.ndarray | None = None) -> np.ndarray:
    """Remove ``dn_offset`` from valid pixels; nodata (0) stays 0.

    Pixels darker than the offset (negative reflectance after BOA
    correction) become 1, the smallest valid value, so they are not
    mistaken for nodata. Whole-array passes without boolean indexing, so the
    work runs outside the GIL in Dask's threads. Float input (resampled DN)
    must already be rounded. ``out`` (uint16, the shape of ``dn``; may be
    ``dn`` itself) takes the result in place of a new array.
    """
    dn = np.asarray(dn)
    if out is not None and (out.shape != dn.shape or out.dtype != np.uint16):
        raise ValueError(f"out must be uint16{dn.shape}, got {out.dtype}{out.shape}")
    if dn.dtype == np.uint16 and dn.ndim >= 1 and 0 < dn_offset < 65535:
        # The reader's case: OpenCV's saturating uint16 arithmetic, no float
        # copy and no boolean temporaries (faster than numpy here).
        # OpenCV takes 2-D planes, strided rows included.
        if dn.ndim == 2:
            # OpenCV writes into ``out`` when its rows are contiguous
            plane = dn
            target = out if out is not None and out.strides[1] == out.itemsize else None
        else:
            plane = np.ascontiguousarray(dn).reshape(-1, dn.shape[-1])
            target = None
        # 1 where valid, 0 at nodata (taken before ``out`` may overwrite dn)
        # OpenCV's stubs name arrays only; a Python scalar is broadcast (as documented)
        valid = cv2.min(plane, 1, dst=scratch("harmonize", plane.shape, np.uint16))  # type: ignore[call-overload]
        shifted = cv2.subtract(plane, dn_offset, dst=target)  # type: ignore[call-overload]
        cv2.max(shifted, valid, dst=shifted)  # ... -> 1 where DN was valid
        # a 2-D result is ``out`` itself when OpenCV wrote there (no copy below)
        result: np.ndarray = shifted if dn.ndim == 2 else shifted.reshape(dn.shape)
    elif dn_offset == 0:
        result = dn.astype(np.uint16, copy=False)
    else:
        work = dn.astype(np.float32 if dn.dtype.kind == "f" else np.int32)
        shifted = work - dn_offset
        np.maximum(shifted, 1, out=shifted)
        shifted *= work > 0
        result = shifted.astype(np.uint16)
    if out is None or result is out:
        return result
    np.copyto(out, result)
    return out


def s1_to_db(power: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """10*log10 of linear power as float32; nodata, NaN and power <= 0 become NaN."""
    power = np.asarray(power, dtype=np.float32)
    valid = np.isfinite(power) & (power > 0)
    if nodata is not None and np.isfinite(nodata):
        valid &= power != nodata
    out = np.full(power.shape, np.nan, dtype=np.float32)
    np.log10(power, out=out, where=valid)
    out[valid] *= 10.0
    return out


def db_nodata_to_nan(db: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """Backscatter already in dB: only map the nodata value and infinities to NaN."""
    db = np.array(db, dtype=np.float32, copy=True)
    if nodata is not None and np.isfinite(nodata):
        db[db == nodata] = np.nan
    db[~np.isfinite(db)] = np.nan
    return db


def clear_from_scl(scl: np.ndarray, *, snow_is_clear: bool = False) -> np.ndarray:
    """Boolean clear-sky mask from the Sentinel-2 scene classification."""
    bad = list(NOT_CLEAR_SCL) + ([] if snow_is_clear else [SNOW_SCL])
    scl = np.asarray(scl)
    if scl.dtype == np.uint8:  # a lookup table: one gather, no pass per class
        table = np.ones(256, dtype=bool)
        table[bad] = False
        mask: np.ndarray = table[scl]
        return mask
    return ~np.isin(scl, bad)
