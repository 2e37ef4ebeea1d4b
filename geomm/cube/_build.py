"""``build_cube``: search results in, a lazy analysis-ready xarray Dataset out.

This module only coordinates: the profile decides radiometry
(:mod:`geomm.stac`), :mod:`geomm.cube._pairing` decides which S1 pass goes
with which S2 acquisition, :mod:`geomm.cube._grid` fixes the pixel grid, the
configured reader (``LoadOptions.reader``: :mod:`geomm.cube._reader`) reads
each acquisition block by block, and :mod:`geomm.cube._graph` makes those
blocks lazy Dask arrays.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

from geomm._version import __version__
from geomm.aoi import Aoi
from geomm.cube._composite import CompositeSpec, composite
from geomm.cube._grid import CubeGrid, crs_problem, cube_grid, grid_option_problem
from geomm.cube._load import LoadOptions
from geomm.cube._pairing import Pair, PairingRule, pair_items
from geomm.cube._readahead import ReadAhead
from geomm.cube._reader import BlockRequest, GridWindow, Mosaic, PixelWindow, Sensor
from geomm.errors import EmptyResultError, OptionError
from geomm.stac import S1_BANDS, S2_BANDS, ItemBands, Profile

if TYPE_CHECKING:
    import dask.array as da
    import pandas as pd
    import pystac
    import xarray as xr

__all__ = ["CubeConfig", "CubePlan", "build_cube", "plan_cube"]


@dataclass(frozen=True)
class CubeConfig:
    """Everything that shapes a cube besides its scenes."""

    crs: str | None = None
    """Cube CRS; default the UTM zone of the AOI centroid."""
    resolution: float = 10.0
    """Pixel size in metres."""
    chip_size: int = 120
    """Chip edge in pixels; chip edges fix the grid (a model may need a multiple of its patch)."""
    chunk_chips: int = 8
    """Zarr chunk edge in chips (8 x 120 px = 960 px: ~22 MB of S2 per chunk)."""
    task_chunks: int = 2
    """Dask chunk edge in Zarr chunks: one task reads ``task_chunks`` x
    ``task_chunks`` chunks of one acquisition at once, so COG tiles that
    straddle chunks are decoded once; its work arrays are task-sized. It is
    also the unit a resumed run redoes, and a store resumes only with the
    chunking it began with (warped values may differ by rounding between
    chunkings). A reader may read in its own unit instead
    (``Reader.block_chunks``: odc-stac's reads one Zarr chunk per task)."""
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

    The same as ``plan_cube(...).dataset()``.

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
    return plan_cube(items, aoi=aoi, profile=profile, config=config).dataset()


def plan_cube(
    items: Iterable[pystac.Item],
    *,
    aoi: Aoi,
    profile: Profile,
    config: CubeConfig | None = None,
) -> CubePlan:
    """What :func:`build_cube` builds, before any Dask, xarray or pixel: pairs, grid, sources.

    Every acquisition's sources are described by the configured reader
    (``LoadOptions.reader``); :meth:`CubePlan.dataset` makes the lazy cube
    and :meth:`CubePlan.read_ahead` starts reading its first blocks. Arguments
    and errors as for :func:`build_cube`.
    """
    config = config or CubeConfig()
    items = list(items)
    verdict = {item.id: profile.describe(item) for item in items}
    pairs = _pairs(items, verdict, config.pairing)
    grid = config.grid(aoi)
    options = config.load

    def mosaic(acquisition: Sequence[pystac.Item], sensor: Sensor, method: str) -> Mosaic[Any]:
        verdicts = [verdict[i.id] for i in acquisition]
        sources = options.reader.sources(acquisition, verdicts, grid=grid)
        snow = options.snow_is_clear if sensor is Sensor.S2 else False
        return Mosaic(sensor, tuple(sources), profile, method, snow_is_clear=snow)

    s2 = [mosaic(p.s2.items, Sensor.S2, options.s2_resampling) for p in pairs]
    passes: dict[str, int] = {}
    s1: list[Mosaic[Any]] = []
    for p in pairs:
        if p.s1 is not None and p.s1.key not in passes:
            passes[p.s1.key] = len(s1)
            s1.append(mosaic(p.s1.items, Sensor.S1, options.s1_resampling))
    s1.append(Mosaic(Sensor.S1, (), profile, options.s1_resampling))  # unpaired S2 dates
    index = [passes[p.s1.key] if p.s1 is not None else len(s1) - 1 for p in pairs]
    has_scl = any("SCL" in v.bands for v in verdict.values() if v.sensor == "sentinel-2")
    return CubePlan(pairs, grid, profile, config, tuple(s2), tuple(s1), tuple(index), has_scl)


def _pairs(
    items: list[pystac.Item], verdict: dict[str, ItemBands], rule: PairingRule
) -> list[Pair]:
    """The S2 acquisitions with their S1 passes; refuses item sets that make no cube."""
    s2_items = [i for i in items if verdict[i.id].sensor == "sentinel-2"]
    s1_items = [i for i in items if verdict[i.id].sensor == "sentinel-1"]
    for item in s1_items:
        verdict[item.id].require_geocoded()
    if not s2_items:
        raise EmptyResultError(
            "no Sentinel-2 scenes among the items; a cube's time axis is the S2 acquisitions"
        )
    pairs = pair_items(s2_items, s1_items, rule=rule)
    if not pairs:
        raise EmptyResultError(
            f"none of {len(s2_items)} Sentinel-2 scene(s) has a Sentinel-1 pass within "
            f"+-{rule.max_lag_days:g} days; widen the dates, raise max_lag_days, "
            "or keep unpaired dates"
        )
    return pairs


@dataclass(frozen=True, eq=False)
class CubePlan:
    """A cube with its sources described and nothing read: what :func:`plan_cube` returns."""

    pairs: list[Pair]
    """The S2 acquisitions (the cube's times) with their S1 passes."""
    grid: CubeGrid
    """The cube's pixel grid."""
    profile: Profile
    """The provider profile of the items."""
    config: CubeConfig
    """The options the cube is built with."""
    s2: tuple[Mosaic[Any], ...]
    """One S2 mosaic per time."""
    s1: tuple[Mosaic[Any], ...]
    """One S1 mosaic per distinct pass, then an empty one for unpaired dates."""
    s1_index: tuple[int, ...]
    """For each time, the index of its S1 mosaic in :attr:`s1`."""
    has_scl: bool
    """Whether the S2 items carry SCL (what ``clear`` is made of)."""

    def dataset(self, *, ahead: ReadAhead | None = None) -> xr.Dataset:
        """The lazy cube (what :func:`build_cube` returns); tasks take blocks from ``ahead``."""
        ds = _dataset(self.pairs, self.grid, self._planes(ahead))
        ds.attrs.update(_provenance(self.pairs, self.profile, self.grid, self.config))
        _describe_variables(ds, self.has_scl)
        spec = self.config.composite
        return ds if spec is None else composite(ds, period=spec.period, method=spec.method)

    def read_ahead(self, *, workers: int) -> ReadAhead:
        """Start reading the cube's first blocks on ``workers`` threads (one each).

        The first window of the grid, S2 times first: the writer's first
        Dask chunk. Pass the result to :meth:`dataset` and close it when the
        cube is written (:mod:`geomm.cube._readahead`).
        """
        ahead = ReadAhead(workers=workers)
        reader = self.config.load.reader
        edge = self.grid.chunk_px * reader.block_chunks(self.config.task_chunks)
        height, width = self.grid.shape
        first = GridWindow(self.grid, PixelWindow(0, min(edge, height), 0, min(edge, width)))
        wanted = [(m, len(S2_BANDS) + 1) for m in self.s2] + [(m, len(S1_BANDS)) for m in self.s1]
        for mosaic, layers in wanted[:workers]:
            ahead.submit(reader, [BlockRequest(mosaic=mosaic, window=first)], layers)
        return ahead

    def _planes(self, ahead: ReadAhead | None) -> _Planes:
        import dask.array as da

        from geomm.cube._graph import mosaic_array

        reader, chunks = self.config.load.reader, self.config.task_chunks
        raw = mosaic_array(
            reader, self.s2, sensor=Sensor.S2, grid=self.grid, task_chunks=chunks,
            with_valid=True, ahead=ahead,
        )  # fmt: skip
        per_pass = mosaic_array(
            reader, self.s1, sensor=Sensor.S1, grid=self.grid, task_chunks=chunks, ahead=ahead
        )
        index = list(self.s1_index)
        s1 = (
            da.take(per_pass, index, axis=0)
            if index != list(range(len(index)))
            else per_pass[: len(index)]
        )
        nb = len(S2_BANDS)
        return _Planes(s2=raw[:, :nb], s1=s1, clear=raw[:, nb].astype(bool))


@dataclass(frozen=True, eq=False)
class _Planes:
    """The cube's lazy pixel variables, one time step per pair."""

    s2: da.Array
    """(time, s2_band, y, x) uint16."""
    s1: da.Array
    """(time, s1_band, y, x) float32 dB."""
    clear: da.Array
    """(time, y, x) bool."""


def _dataset(pairs: list[Pair], grid: CubeGrid, planes: _Planes) -> xr.Dataset:
    """The cube's variables and coordinates, chunked as the store writes them, with its CRS."""
    import pandas as pd
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    times = pd.DatetimeIndex([_naive_utc(p.s2.time) for p in pairs], name="time")
    y, x = _pixel_centres(grid)
    ds = xr.Dataset(
        {
            "s2": (("time", "s2_band", "y", "x"), planes.s2),
            "s1": (("time", "s1_band", "y", "x"), planes.s1),
            "clear": (("time", "y", "x"), planes.clear),
        },
        coords={"y": y, "x": x},
    ).assign_coords(
        time=times,
        s2_band=np.array(S2_BANDS, dtype=object),
        s1_band=np.array(S1_BANDS, dtype=object),
    )
    # One chunk holds all bands of a time step: the unit a reader wants.
    ds = ds.chunk({"time": 1, "s2_band": -1, "s1_band": -1})
    ds = ds.assign(_pair_variables(pairs))
    # CF grid mapping (spatial_ref + grid_mapping on every pixel variable), so
    # xr.open_zarr(..., decode_coords="all").rio.crs works after a round trip.
    ds = ds.drop_vars("spatial_ref", errors="ignore").rio.write_crs(grid.crs)
    for name in ("s2", "s1", "clear"):
        ds[name].attrs["grid_mapping"] = "spatial_ref"
    cube: xr.Dataset = ds
    return cube


def _pixel_centres(grid: CubeGrid) -> tuple[np.ndarray, np.ndarray]:
    west, _, _, north = grid.bounds
    height, width = grid.shape
    y = north - (np.arange(height) + 0.5) * grid.resolution
    x = west + (np.arange(width) + 0.5) * grid.resolution
    return y, x


def _pair_variables(pairs: list[Pair]) -> dict[str, tuple[str, np.ndarray]]:
    """The per-time pair variables (S1 time, lag, orbit), as (dim, values)."""
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


def _provenance(
    pairs: list[Pair], profile: Profile, grid: CubeGrid, config: CubeConfig
) -> dict[str, object]:
    """The cube's provenance attributes (part of its resume fingerprint: keep them stable)."""
    return {
        "geomm_version": __version__,
        "provider": profile.name,
        "s2_items": json.dumps([list(p.s2.item_ids) for p in pairs]),
        "s1_items": json.dumps([list(p.s1.item_ids) if p.s1 else [] for p in pairs]),
        "pairing_rule": json.dumps(asdict(config.pairing)),
        "load_options": json.dumps(config.load.provenance()),
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


def _naive_utc(moment: dt.datetime) -> pd.Timestamp:
    import pandas as pd

    ts = pd.Timestamp(moment)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
