"""odc-stac as a cube reader: the independent reference for geomm's own.

Each block of an acquisition (the S2 tiles of one solar day, or the S1
slices of one pass) is one ``odc.stac.load`` call onto the block's GeoBox,
so scenes from a neighbouring UTM zone are reprojected by GDAL into the
cube CRS and mosaicked in one plane (no seam at the zone boundary).
Radiometry is then applied per item group, because the baseline-04.00
offset is a property of each item, not of the acquisition.

Why per block, through the same :class:`geomm.cube._reader.Reader`
protocol as geomm's reader, rather than one lazy odc-stac array per
acquisition: the cube's graph (:mod:`geomm.cube._graph`) then treats both
readers alike, and a block can be read without Dask at all. A block is one
Zarr chunk (:meth:`OdcReader.block_chunks`): odc-loader reads chunk by chunk
anyway (one GDAL warp per band and chunk), and with the same chunk GeoBoxes
as an odc-stac load of the whole cube chunked by Zarr chunks, values and
the cube's Dask chunks are what that load gives. Each call loads its
chunk on the calling thread (Dask's synchronous scheduler); blocks run in
parallel as the cube's tasks.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geomm.cube._radiometry import clear_from_scl, db_nodata_to_nan, harmonize_s2, s1_to_db
from geomm.cube._reader import Block, BlockRequest, GridWindow, Mosaic, Sensor, empty_block
from geomm.errors import ProfileError
from geomm.stac import S1_BANDS, S2_BANDS, ItemBands

if TYPE_CHECKING:
    import pystac
    import xarray as xr

    from geomm.cube._grid import CubeGrid
    from geomm.stac import Profile

__all__ = ["OdcGroup", "OdcReader"]

# odc-loader warps into plain numpy buffers; rasterio then warns that the
# in-memory destination "has no geotransform" although odc passes one. The
# warning may be raised in any thread that reads (Dask's, a cluster's),
# where catch_warnings cannot reach, so it is silenced for that one call
# site only.
warnings.filterwarnings(
    "ignore",
    message="Dataset has no geotransform",
    module="rasterio.warp",
)


@dataclass(frozen=True, eq=False)
class OdcGroup:
    """Items of one acquisition that share asset keys and radiometry: one odc-stac load."""

    items: tuple[pystac.Item, ...]
    """The STAC items, as odc-stac takes them."""
    verdict: ItemBands
    """The profile's verdict on the first (they agree on assets and radiometry)."""


@dataclass(frozen=True)
class OdcReader:
    """odc-stac's loader behind the reader protocol.

    Kept as an independent reference for tests and benchmarks; it also takes
    GDAL's other resampling names, such as ``cubic``.
    """

    @property
    def name(self) -> str:
        """``odc``, as cubes record it."""
        return "odc"

    @property
    def resampling(self) -> None:
        """Any name GDAL knows (odc-stac checks it when it loads)."""
        return None

    def block_chunks(self, task_chunks: int) -> int:
        """One Zarr chunk per block, whatever ``task_chunks`` (module docstring)."""
        return 1

    def sources(
        self, items: Sequence[pystac.Item], verdicts: Sequence[ItemBands], *, grid: CubeGrid
    ) -> tuple[OdcGroup, ...]:
        """The items, in groups that share asset keys and radiometry."""
        groups = _groups(items, verdicts)
        for group in groups:
            if group.verdict.sensor == "sentinel-1":
                _check_s1(group.verdict)
        return groups

    def read_block(
        self, request: BlockRequest[OdcGroup], *, out: np.ndarray | None = None
    ) -> Block:
        """The request's block (see :class:`geomm.cube._reader.Reader`)."""
        mosaic = request.mosaic
        if not mosaic.sources:
            return empty_block(mosaic.sensor, request.window.pixels.shape, out)
        if mosaic.sensor is Sensor.S2:
            block = _s2_block(mosaic, request.window)
        else:
            block = _s1_block(mosaic, request.window)
        if out is None:
            return block
        np.copyto(out, block.data)
        return Block(data=out, valid=block.valid)


def _s2_block(mosaic: Mosaic[OdcGroup], window: GridWindow) -> Block:
    """Harmonized reflectance and clear; first valid pixel wins, like odc's fuser."""
    refl, scl = _s2_group(mosaic.sources[0], mosaic, window)
    for group in mosaic.sources[1:]:
        other_refl, other_scl = _s2_group(group, mosaic, window)
        refl = np.where(refl != 0, refl, other_refl)
        if scl is not None and other_scl is not None:
            scl = np.where(scl != 0, scl, other_scl)
    refl = refl.astype(np.uint16)
    clear = (refl != 0).all(axis=0)
    if scl is not None:
        clear = clear & clear_from_scl(scl, snow_is_clear=mosaic.snow_is_clear)
    return Block(data=refl, valid=clear)


def _s2_group(
    group: OdcGroup, mosaic: Mosaic[OdcGroup], window: GridWindow
) -> tuple[np.ndarray, np.ndarray | None]:
    """One group's harmonized (12, h, w) reflectance and its SCL (None without)."""
    verdict = group.verdict
    keys = [verdict.bands[b].asset for b in S2_BANDS]
    scl_key = verdict.bands["SCL"].asset if "SCL" in verdict.bands else None
    extra = [scl_key] if scl_key else []
    ds = _odc_load(
        group.items,
        keys + extra,
        window=window,
        profile=mosaic.profile,
        resampling={**{k: mosaic.resampling for k in keys}, **{k: "nearest" for k in extra}},
        dtype={**{k: "uint16" for k in keys}, **{k: "uint8" for k in extra}},
        nodata={k: 0 for k in keys + extra},
    )
    dn = np.stack([ds[k].values[0] for k in keys])
    scl = ds[scl_key].values[0] if scl_key else None
    return harmonize_s2(dn, verdict.dn_offset), scl


def _s1_block(mosaic: Mosaic[OdcGroup], window: GridWindow) -> Block:
    """Backscatter in dB; first valid pixel wins."""
    s1 = _s1_group(mosaic.sources[0], mosaic, window)
    for group in mosaic.sources[1:]:
        s1 = np.where(~np.isnan(s1), s1, _s1_group(group, mosaic, window))
    return Block(data=s1, valid=~np.isnan(s1).any(axis=0))


def _s1_group(group: OdcGroup, mosaic: Mosaic[OdcGroup], window: GridWindow) -> np.ndarray:
    """One group's (2, h, w) float32 dB, NaN nodata."""
    verdict = group.verdict
    keys = [verdict.bands[b].asset for b in S1_BANDS]
    nodata = verdict.bands["VV"].nodata
    ds = _odc_load(
        group.items,
        keys,
        window=window,
        profile=mosaic.profile,
        resampling={k: mosaic.resampling for k in keys},
        dtype={k: "float32" for k in keys},
        nodata={k: (np.nan if nodata is None else nodata) for k in keys},
    )
    raw = np.stack([ds[k].values[0] for k in keys])
    if verdict.units == "linear":
        return s1_to_db(raw, nodata)
    return db_nodata_to_nan(raw, nodata)


def _check_s1(verdict: ItemBands) -> None:
    """Refuse S1 items odc-stac cannot make a cube of (when the cube is planned)."""
    verdict.require_geocoded()
    missing = [b for b in S1_BANDS if b not in verdict.bands]
    if missing:
        raise ProfileError(f"S1 item {verdict.item_id!r} lacks band(s) {missing}")
    if verdict.units not in ("linear", "db"):
        raise ProfileError(
            f"S1 item {verdict.item_id!r} holds {verdict.units!r} values; geomm needs "
            "calibrated backscatter (linear gamma0 or dB), e.g. sentinel-1-rtc"
        )


def _groups(items: Sequence[pystac.Item], verdicts: Sequence[ItemBands]) -> tuple[OdcGroup, ...]:
    """Split an acquisition into items that share asset keys and radiometry."""
    groups: dict[Hashable, tuple[list[pystac.Item], ItemBands]] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        signature = (
            verdict.collection,
            verdict.dn_offset,
            verdict.units,
            tuple((b, a.asset, a.nodata) for b, a in verdict.bands.items()),
        )
        groups.setdefault(signature, ([], verdict))[0].append(item)
    return tuple(OdcGroup(tuple(members), verdict) for members, verdict in groups.values())


def _odc_load(
    items: Sequence[pystac.Item],
    keys: Sequence[str],
    *,
    window: GridWindow,
    profile: Profile,
    resampling: dict[str, str],
    dtype: dict[str, str],
    nodata: dict[str, float],
) -> xr.Dataset:
    """The assets ``keys`` of ``items`` on the block's GeoBox, as one time step, loaded."""
    import odc.stac

    collection = items[0].collection_id or "unknown"
    stac_cfg = {
        collection: {
            "assets": {k: {"data_type": dtype[k], "nodata": nodata[k]} for k in keys},
        }
    }
    px = window.pixels
    with warnings.catch_warnings():
        # odc-stac warns about assets without raster metadata (PC S2); the profile
        # supplied data type and nodata through stac_cfg.
        warnings.simplefilter("ignore", UserWarning)
        ds = odc.stac.load(
            items,
            bands=list(keys),
            geobox=window.grid.geobox[px.rows, px.cols],
            groupby=_one_group,
            resampling=resampling,
            chunks={"x": px.width, "y": px.height},
            stac_cfg=stac_cfg,
            patch_url=profile.sign if profile.signing != "none" else None,
            fail_on_error=True,
        )
    loaded: xr.Dataset = ds.compute(scheduler="synchronous")
    return loaded


def _one_group(item: pystac.Item, parsed: object, index: int) -> int:
    """odc-stac groupby key: everything passed in is one acquisition plane."""
    return 0
