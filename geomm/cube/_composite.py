"""Per-period composites of a cube: medians of clear S2 pixels, S1 in linear power.

A monthly median of clear-sky reflectance is the usual way to get one
cloud-free image per period. Sentinel-1 is reduced in linear power, the
physical quantity, and converted back to dB: for a median the result is the
same as in dB (the map is monotone), but a mean of dB values would be the
geometric mean of the power, biased low under speckle. Working in linear
power keeps every reducer right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geomm.errors import CompositeError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CompositeError", "CompositeSpec", "composite"]

_METHODS = ("median", "mean")


@dataclass(frozen=True)
class CompositeSpec:
    """A per-period composite to make instead of keeping every acquisition."""

    method: str = "median"
    """``median`` or ``mean`` (S1 always reduced in linear power)."""
    period: str = "1M"
    """Period length: ``1M`` (calendar month), ``2W``, ``10D``, ``1Y``..."""

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise CompositeError(
                f"composite method must be one of {list(_METHODS)}, got {self.method!r}"
            )
        _pandas_freq(self.period)


def composite(ds: xr.Dataset, *, period: str = "1M", method: str = "median") -> xr.Dataset:
    """Reduce a cube to one image per ``period``.

    Args:
        ds: a cube from :func:`geomm.cube.build_cube` or :func:`geomm.cube.open_cube`.
        period: pandas-style period: ``1M`` (calendar month), ``2W``, ``10D``, ``1Y``, ...
        method: ``median`` or ``mean``.

    Returns:
        Dataset with the cube schema: ``s2`` uint16 (0 where no clear pixel in
        the period), ``s1`` float32 dB (NaN where no valid pixel), ``clear``
        (at least one clear S2 pixel), plus ``n_clear(time, y, x)`` (clear S2
        observations per pixel) and ``n_acquisitions(time)``. The time
        coordinate is the start of each period.
    """
    import xarray as xr  # here: a CompositeSpec (an option) is made without the array stack

    if method not in _METHODS:
        raise CompositeError(f"composite method must be one of {list(_METHODS)}, got {method!r}")
    freq = _pandas_freq(period)
    clear = ds.clear
    s2 = ds.s2.where(clear & (ds.s2 != 0)).astype(np.float32)
    s1_linear = 10.0 ** (ds.s1 / 10.0)
    grouped = {
        "s2": s2.resample(time=freq),
        "s1": s1_linear.resample(time=freq),
    }
    reducer = _quiet(np.nanmedian if method == "median" else np.nanmean)
    s2_c = grouped["s2"].reduce(reducer, dim="time")
    s1_c = grouped["s1"].reduce(reducer, dim="time")
    n_clear = clear.astype(np.uint16).resample(time=freq).sum().astype(np.uint16)
    n_acq = ds.time.resample(time=freq).count()
    out = xr.Dataset(
        {
            "s2": s2_c.round().fillna(0).astype(np.uint16),
            "s1": (10.0 * np.log10(s1_c)).astype(np.float32),
            "clear": n_clear > 0,
            "n_clear": n_clear,
            "n_acquisitions": n_acq.astype(np.int16),
        }
    )
    out = out.sel(time=out.n_acquisitions > 0)
    out.attrs.update(
        {k: v for k, v in ds.attrs.items() if k not in ("geomm_status", "geomm_fingerprint")}
    )
    out.attrs.update(composite_period=period, composite_method=method)
    for name in ("s2", "s1", "clear"):
        out[name].attrs.update(ds[name].attrs)
    if "spatial_ref" in ds.coords:
        out = out.assign_coords(spatial_ref=ds.spatial_ref)
    chunks = {"time": 1}
    if ds.s2.chunks:
        chunks.update(y=ds.s2.chunksizes["y"][0], x=ds.s2.chunksizes["x"][0])
    return out.chunk(chunks)


def _quiet(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Make a nan-reducer return NaN for all-NaN pixels without warning.

    Pixels never clear in a period are all-NaN; numpy warns for those. Filling
    them before reducing avoids the warning without touching global warning
    filters, which are not thread-safe under Dask's threaded scheduler.
    """

    def reduce(
        values: np.ndarray, axis: int | tuple[int, ...] | None = None, **kwargs: Any
    ) -> np.ndarray:
        empty = np.isnan(values).all(axis=axis, keepdims=True)
        result = func(np.where(empty, 0, values), axis=axis, **kwargs)
        return np.where(np.squeeze(empty, axis=axis), np.nan, result)

    return reduce


def _pandas_freq(period: object) -> str:
    """``1M`` -> ``1MS`` (month start), ``1Y`` -> ``1YS``; others pass through.

    The period must be a positive whole number of a pandas unit: ``0D`` would
    divide time by zero and ``-1M`` run backwards, so both are refused here,
    where the option is read.
    """
    m = re.fullmatch(r"\s*(\d*)\s*([A-Za-z]+)\s*", period) if isinstance(period, str) else None
    if not m:
        raise CompositeError(f"cannot read period {period!r}; use e.g. 1M, 2W, 10D or 1Y")
    count, unit = int(m.group(1) or "1"), m.group(2)
    if count < 1:
        raise CompositeError(
            f"period {period!r} is empty; it needs a positive count, e.g. 1M, 2W, 10D or 1Y"
        )
    unit = {"M": "MS", "Y": "YS", "A": "YS", "Q": "QS"}.get(unit.upper(), unit)
    import pandas as pd

    try:
        pd.tseries.frequencies.to_offset(f"{count}{unit}")
    except (ValueError, OverflowError):
        raise CompositeError(f"cannot read period {period!r}; use e.g. 1M, 2W, 10D or 1Y") from None
    return f"{count}{unit}"
