"""Open COG handles, kept per thread, and window reads with their validity masks.

Opening a COG (header, overviews) is not free and a cube reads every asset
once per block; a kept handle also keeps GDAL's cache of decoded COG tiles,
which neighbouring blocks share (cube blocks and COG tiles do not line up).
Handles are per thread because GDAL datasets are not thread-safe, and per
process, so a reader object holds none and pickles as a plain value.
"""

from __future__ import annotations

import math
import os
import resource
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from geomm.cube._gdal import credentials_hint, source_env
from geomm.cube._scratch import scratch
from geomm.errors import AssetReadError

if TYPE_CHECKING:
    from geomm.cube._reader import PixelWindow
    from geomm.cube._sources import BandSource
    from geomm.stac import Profile

__all__ = ["WindowPixels", "forget", "handle_budget", "open_dataset", "read_window"]

_HANDLES = threading.local()


@dataclass(frozen=True, eq=False)
class WindowPixels:
    """One window of one asset, in scratch memory (:mod:`geomm.cube._scratch`)."""

    data: np.ndarray
    """The asset's values, in its own type."""
    valid: np.ndarray
    """Where they are data (not nodata, not NaN)."""


def handle_budget() -> int:
    """Open COG handles kept per thread: up to 512, within the open-file limit.

    A quarter of the soft RLIMIT_NOFILE is shared among as many threads as
    there are CPUs, so a 1024-file default never runs out of descriptors.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(16, min(512, soft // (4 * (os.cpu_count() or 1))))


_MAX_HANDLES = handle_budget()


def open_dataset(href: str) -> rasterio.DatasetReader:
    """An open dataset for ``href``, kept per thread (LRU, see :func:`handle_budget`).

    A signed href (new token) is a new key, so expired tokens age out of the cache.
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


def forget(href: str) -> None:
    """Drop a (possibly broken) handle from this thread's cache."""
    cache = getattr(_HANDLES, "cache", None)
    if cache is not None and href in cache:
        cache.pop(href).close()


def read_window(
    band: BandSource, *, window: PixelWindow, profile: Profile, slot: int = 0
) -> WindowPixels:
    """Read one window of one asset and its validity mask (nodata, NaN).

    Both are scratch arrays of ``slot`` (:mod:`geomm.cube._scratch`): the
    bands of one source grid are read into slots 0, 1, ... and resampled
    together before the next grid's are read.

    Raises:
        AssetReadError: the asset is missing, corrupt or unreachable (names
            the item, band and href; rasterio's own message is kept).
    """
    try:
        with source_env(band.gdal):
            ds = open_dataset(profile.sign(band.href))
            data: np.ndarray = ds.read(
                1,
                window=window.rasterio(),
                out=scratch(("window", slot), window.shape, ds.dtypes[0]),
            )
    except RasterioError as e:
        forget(profile.sign(band.href))
        hint = credentials_hint(band.href, band.gdal, str(e))
        raise AssetReadError(band.item_id, band.band, band.href, str(e), hint) from e
    return WindowPixels(data=data, valid=_valid(data, band.nodata, slot))


def _valid(data: np.ndarray, nodata: float | None, slot: int) -> np.ndarray:
    """Where ``data`` holds data, in the scratch array of ``slot``."""
    valid = scratch(("valid", slot), data.shape, bool)
    if nodata is None:
        if data.dtype.kind == "f":
            np.isfinite(data, out=valid)
        else:
            valid.fill(True)
    elif math.isnan(nodata):
        np.isnan(data, out=valid)
        np.logical_not(valid, out=valid)
    else:
        np.not_equal(data, nodata, out=valid)
        if data.dtype.kind == "f":
            valid &= np.isfinite(data)
    return valid
