"""``build_cube``: search results in, a lazy analysis-ready xarray Dataset out.

This module only coordinates: the profile decides radiometry
(:mod:`geomm.stac`), :mod:`geomm.cube._pairing` decides which S1 pass goes
with which S2 acquisition, :mod:`geomm.cube._grid` fixes the pixel grid and
:mod:`geomm.cube._read` turns each acquisition into lazy Dask arrays
(:mod:`geomm.cube._load`, through odc-stac, with ``engine="odc"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from numbers import Integral

import dask.array as da
import numpy as np
import pandas as pd
import pystac
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr

from geomm._version import __version__
from geomm.aoi import Aoi
from geomm.cube._composite import CompositeSpec, composite
from geomm.cube._grid import CubeGrid, crs_problem, cube_grid, grid_option_problem
from geomm.cube._load import LoadOptions, load_s1, load_s2
from geomm.cube._pairing import Pair, PairingRule, pair_items
from geomm.cube._read import item_source, mosaic_order, s1_array, s2_array
from geomm.errors import EmptyResultError, OptionError
from geomm.stac import S1_BANDS, S2_BANDS, Profile

__all__ = ["CubeConfig", "build_cube"]


@dataclass(frozen=True)
class CubeConfig:
    """Everything that shapes a cube besides its scenes."""

    crs: str | None = None
    """Cube CRS; default the UTM zone of the AOI centroid."""
    resolution: float = 10.0
    """Pixel size in metres."""
    chip_size: int = 120
    """Chip edge in pixels (multiple of 8); chip edges fix the grid."""
    chunk_chips: int = 8
    """Zarr chunk edge in chips (8 x 120 px = 960 px: ~22 MB of S2 per chunk)."""
    task_chunks: int = 2
    """Dask chunk edge in Zarr chunks: one task reads ``task_chunks`` x
    ``task_chunks`` chunks of one acquisition at once, so COG tiles that
    straddle chunks are decoded once (a third less decoding than chunk by
    chunk at the defaults); its work arrays are task-sized. It is also the
    unit a resumed run redoes, and a store resumes only with the chunking it
    began with (warped values may differ by rounding between chunkings)."""
    pairing: PairingRule = field(default_factory=PairingRule)
    """How S1 passes are matched to S2 acquisitions."""
    load: LoadOptions = field(default_factory=LoadOptions)
    """Resampling and masking options."""
    composite: CompositeSpec | None = None
    """Reduce to one image per period (e.g. monthly medians) instead of every date."""

    def __post_init__(self) -> None:
        if problem := grid_option_problem(self.chip_size, self.chunk_chips, self.resolution):
            raise OptionError(problem)
        if self.crs is not None and (problem := crs_problem(self.crs)):
            raise OptionError(problem)
        if not (isinstance(self.task_chunks, Integral) and self.task_chunks >= 1):
            raise OptionError(f"task_chunks must be a whole number >= 1, got {self.task_chunks!r}")

    def grid(self, aoi: Aoi) -> CubeGrid:
        """The chip-aligned grid of this configuration over ``aoi``."""
        return cube_grid(
            aoi,
            crs=self.crs,
            resolution=self.resolution,
            chip_size=self.chip_size,
            chunk_chips=self.chunk_chips,
        )


def build_cube(
    items: Iterable[pystac.Item],
    *,
    aoi: Aoi,
    profile: Profile,
    config: CubeConfig | None = None,
) -> xr.Dataset:
    """Pair, co-register and harmonize S1 and S2 items into a lazy cube.

    Args:
        items: S1 and S2 items (e.g. ``geomm.stac.search(...).items``).
        aoi: area of interest; the cube covers its chip-aligned bounds.
        profile: provider profile that maps the items' assets.
        config: grid, pairing and resampling options.

    Returns:
        Dataset with ``s2(time, s2_band, y, x)`` uint16 reflectance x 10000,
        ``s1(time, s1_band, y, x)`` float32 dB, ``clear(time, y, x)`` bool,
        and per-time ``s1_time``, ``s1_lag_days``, ``s1_orbit_state``,
        ``s1_relative_orbit``; Dask-backed, nothing read yet.

    Raises:
        EmptyResultError: no S2 acquisition found a partner (or no S2 at all).
        NotGeocodedError: an S1 item is in radar geometry.
    """
    config = config or CubeConfig()
    items = list(items)
    verdict = {item.id: profile.describe(item) for item in items}
    s2_items = [i for i in items if verdict[i.id].sensor == "sentinel-2"]
    s1_items = [i for i in items if verdict[i.id].sensor == "sentinel-1"]
    for item in s1_items:
        verdict[item.id].require_geocoded()
    if not s2_items:
        raise EmptyResultError(
            "no Sentinel-2 scenes among the items; a cube's time axis is the S2 acquisitions"
        )
    pairs = pair_items(s2_items, s1_items, rule=config.pairing)
    if not pairs:
        raise EmptyResultError(
            f"none of {len(s2_items)} Sentinel-2 scene(s) has a Sentinel-1 pass within "
            f"+-{config.pairing.max_lag_days:g} days; widen the dates, raise max_lag_days, "
            "or keep unpaired dates"
        )
    grid = config.grid(aoi)
    if config.load.engine == "odc":
        s2, s1, clear = _odc_planes(pairs, verdict, grid, profile, config.load)
    else:
        s2, s1, clear = _geomm_planes(
            pairs, verdict, grid, profile, config.load, config.task_chunks
        )
    times = pd.DatetimeIndex([_naive_utc(p.s2.time) for p in pairs], name="time")
    y, x = _pixel_centres(grid)
    ds = xr.Dataset(
        {
            "s2": (("time", "s2_band", "y", "x"), s2),
            "s1": (("time", "s1_band", "y", "x"), s1),
            "clear": (("time", "y", "x"), clear),
        },
        coords={"y": y, "x": x},
    ).assign_coords(
        time=times,
        s2_band=np.array(S2_BANDS, dtype=object),
        s1_band=np.array(S1_BANDS, dtype=object),
    )
    # One chunk holds all bands of a time step: the unit a reader wants.
    ds = ds.chunk({"time": 1, "s2_band": -1, "s1_band": -1})
    ds = ds.assign(**_pair_variables(pairs))
    # CF grid mapping (spatial_ref + grid_mapping on every pixel variable), so
    # xr.open_zarr(..., decode_coords="all").rio.crs works after a round trip.
    ds = ds.drop_vars("spatial_ref", errors="ignore").rio.write_crs(grid.crs)
    for name in ("s2", "s1", "clear"):
        ds[name].attrs["grid_mapping"] = "spatial_ref"
    ds.attrs.update(_provenance(pairs, profile, grid, config))
    _describe_variables(ds, any("SCL" in verdict[i.id].bands for i in s2_items))
    if config.composite is not None:
        ds = composite(ds, period=config.composite.period, method=config.composite.method)
    return ds


def _geomm_planes(pairs, verdict, grid, profile, options, task_chunks):
    """(s2, s1, clear) Dask arrays through geomm's reader (:mod:`geomm.cube._read`)."""

    def plan(items) -> list:
        return mosaic_order([item_source(i, verdict[i.id]) for i in items], grid.crs)

    s2_plans = [plan(p.s2.items) for p in pairs]
    raw = s2_array(
        s2_plans, grid, profile, options.snow_is_clear, task_chunks, options.s2_resampling
    )
    passes: dict[str, int] = {}
    s1_plans = []
    for p in pairs:
        if p.s1 is not None and p.s1.key not in passes:
            passes[p.s1.key] = len(s1_plans)
            s1_plans.append(plan(p.s1.items))
    s1_plans.append([])  # an empty pass (all NaN) for unpaired S2 dates
    per_pass = s1_array(s1_plans, grid, profile, task_chunks, options.s1_resampling)
    index = [passes[p.s1.key] if p.s1 is not None else len(s1_plans) - 1 for p in pairs]
    s1 = (
        da.take(per_pass, index, axis=0)
        if index != list(range(len(index)))
        else per_pass[: len(index)]
    )
    return raw[:, : len(S2_BANDS)], s1, raw[:, len(S2_BANDS)].astype(bool)


def _odc_planes(pairs, verdict, grid, profile, options):
    """(s2, s1, clear) Dask arrays through odc-stac (reference engine)."""
    s2_planes, clear_planes, s1_planes = [], [], []
    s1_cache: dict[str, xr.DataArray] = {}
    for pair in pairs:
        s2, clear = load_s2(
            pair.s2.items, [verdict[i.id] for i in pair.s2.items], grid, profile, options
        )
        s2_planes.append(s2.data)
        clear_planes.append(clear.data)
        if pair.s1 is None:
            shape = (len(S1_BANDS), *s2.shape[1:])
            s1_planes.append(
                da.full(shape, np.nan, dtype=np.float32, chunks=((len(S1_BANDS),), *s2.chunks[1:]))
            )
            continue
        if pair.s1.key not in s1_cache:
            s1_cache[pair.s1.key] = load_s1(
                pair.s1.items, [verdict[i.id] for i in pair.s1.items], grid, profile, options
            )
        s1_planes.append(s1_cache[pair.s1.key].data)
    return da.stack(s2_planes), da.stack(s1_planes), da.stack(clear_planes)


def _pixel_centres(grid: CubeGrid) -> tuple[np.ndarray, np.ndarray]:
    west, _, _, north = grid.bounds
    height, width = grid.shape
    y = north - (np.arange(height) + 0.5) * grid.resolution
    x = west + (np.arange(width) + 0.5) * grid.resolution
    return y, x


def _pair_variables(pairs: list[Pair]) -> dict[str, xr.DataArray]:
    s1_time = [
        np.datetime64(_naive_utc(p.s1.time), "ns") if p.s1 else np.datetime64("NaT", "ns")
        for p in pairs
    ]
    lag = [np.float32(p.lag_days) if p.lag_days is not None else np.float32(np.nan) for p in pairs]
    state = np.array([(p.s1.orbit_state or "") if p.s1 else "" for p in pairs], dtype=object)
    rel = [int(p.s1.relative_orbit) if p.s1 and p.s1.relative_orbit else -1 for p in pairs]
    return {
        "s1_time": ("time", np.array(s1_time, dtype="datetime64[ns]")),
        "s1_lag_days": ("time", np.array(lag, dtype=np.float32)),
        "s1_orbit_state": ("time", state),
        "s1_relative_orbit": ("time", np.array(rel, dtype=np.int16)),
    }


def _provenance(pairs: list[Pair], profile: Profile, grid: CubeGrid, config: CubeConfig) -> dict:
    return {
        "geomm_version": __version__,
        "provider": profile.name,
        "s2_items": json.dumps([list(p.s2.item_ids) for p in pairs]),
        "s1_items": json.dumps([list(p.s1.item_ids) if p.s1 else [] for p in pairs]),
        "pairing_rule": json.dumps(asdict(config.pairing)),
        "load_options": json.dumps(asdict(config.load)),
        "chip_size": grid.chip_size,
        "chunk_chips": grid.chunk_chips,
        "resolution": grid.resolution,
        "chip_grid_origin": json.dumps({"col0": grid.col0, "row0": grid.row0}),
        "crs": grid.crs,
    }


def _describe_variables(ds: xr.Dataset, has_scl: bool) -> None:
    ds.s2.attrs.update(
        long_name="Sentinel-2 L2A surface reflectance x 10000",
        scale_factor_note="reflectance = value / 10000 (baseline-04.00 offset already removed)",
        nodata=0,
    )
    ds.s1.attrs.update(long_name="Sentinel-1 backscatter", units="dB", nodata="NaN")
    ds.clear.attrs.update(
        long_name="clear sky and valid S2 data",
        source="SCL not in 0,1,3,8,9,10 (11 unless snow counts as clear) and all bands valid"
        if has_scl
        else "all S2 bands valid (no SCL in these items)",
    )
    ds.s1_lag_days.attrs.update(long_name="S1 time minus S2 time", units="days")


def _naive_utc(moment) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
