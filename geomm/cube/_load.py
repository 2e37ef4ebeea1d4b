"""Lazy loading of one acquisition onto the cube grid, through odc-stac.

Each acquisition (the S2 tiles of one solar day, or the S1 slices of one
pass) is one ``odc.stac.load`` call onto the cube's GeoBox, so scenes from a
neighbouring UTM zone are reprojected by GDAL into the cube CRS and
mosaicked in one plane (no seam at the zone boundary). Radiometry is then
applied per item group, because the baseline-04.00 offset is a property of
each item, not of the acquisition.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pystac
import xarray as xr

from geomm.cube._grid import CubeGrid
from geomm.cube._radiometry import clear_from_scl, db_nodata_to_nan, harmonize_s2, s1_to_db
from geomm.errors import OptionError, ProfileError
from geomm.stac import S1_BANDS, S2_BANDS, ItemBands, Profile

__all__ = ["RESAMPLING", "LoadOptions", "load_s1", "load_s2"]

RESAMPLING = ("bilinear", "nearest")
"""Resampling methods of geomm's reader."""

# odc-loader warps into plain numpy buffers; rasterio then warns that the
# in-memory destination "has no geotransform" although odc passes one. The
# warning is raised inside Dask worker threads, where catch_warnings cannot
# reach, so it is silenced for that one call site only.
warnings.filterwarnings(
    "ignore",
    message="Dataset has no geotransform",
    module="rasterio.warp",
)


@dataclass(frozen=True)
class LoadOptions:
    """How pixels are resampled onto the cube grid."""

    s2_resampling: str = "bilinear"
    """20 m and 60 m reflectance bands to 10 m, and scenes from another grid:
    ``bilinear`` (smooth, no blocky 60 m steps, exact where source and cube
    pixel centres coincide) or ``nearest`` (every value a source value).
    SCL is always nearest."""
    s1_resampling: str = "bilinear"
    """S1 onto the cube grid, in linear power (before dB): ``bilinear`` or
    ``nearest``."""
    snow_is_clear: bool = False
    """Count SCL 11 (snow/ice) as clear."""
    engine: str = "geomm"
    """``geomm``: geomm's reader (one task per acquisition and block, all bands,
    separable kernels where grids align); ``odc``: odc-stac's loader, kept as
    an independent reference for tests and benchmarks (it also takes GDAL's
    other resampling names, such as ``cubic``)."""

    def __post_init__(self) -> None:
        if self.engine not in ("geomm", "odc"):
            raise OptionError(f"engine must be 'geomm' or 'odc', got {self.engine!r}")
        if self.engine == "geomm":
            for name in ("s2_resampling", "s1_resampling"):
                method = getattr(self, name)
                if method not in RESAMPLING:
                    raise OptionError(
                        f"{name} must be one of {list(RESAMPLING)}, got {method!r} "
                        "(odc-stac's other methods need engine='odc')"
                    )


def load_s2(
    items: Sequence[pystac.Item],
    verdicts: Sequence[ItemBands],
    grid: CubeGrid,
    profile: Profile,
    options: LoadOptions,
) -> tuple[xr.DataArray, xr.DataArray]:
    """One S2 acquisition as (s2[band, y, x] uint16 harmonized, clear[y, x] bool), lazy."""
    planes: list[tuple[xr.DataArray, xr.DataArray | None]] = []
    for group_items, verdict in _groups(items, verdicts):
        keys = [verdict.bands[b].asset for b in S2_BANDS]
        scl_key = verdict.bands["SCL"].asset if "SCL" in verdict.bands else None
        ds = _odc_load(
            group_items,
            keys + ([scl_key] if scl_key else []),
            grid,
            profile,
            resampling={
                **{k: options.s2_resampling for k in keys},
                **({scl_key: "nearest"} if scl_key else {}),
            },
            dtype={**{k: "uint16" for k in keys}, **({scl_key: "uint8"} if scl_key else {})},
            nodata={**{k: 0 for k in keys}, **({scl_key: 0} if scl_key else {})},
        )
        dn = xr.concat([ds[k] for k in keys], dim="s2_band").isel(time=0, drop=True)
        refl = dn.copy(data=dn.data.map_blocks(harmonize_s2, verdict.dn_offset, dtype=np.uint16))
        scl = ds[scl_key].isel(time=0, drop=True) if scl_key else None
        planes.append((refl, scl))
    refl, scl = planes[0]
    for other_refl, other_scl in planes[1:]:  # first valid pixel wins, like odc's fuser
        refl = refl.where(refl != 0, other_refl)
        if scl is not None and other_scl is not None:
            scl = scl.where(scl != 0, other_scl)
    refl = refl.assign_coords(s2_band=list(S2_BANDS)).astype(np.uint16)
    valid = (refl != 0).all("s2_band")
    if scl is not None:
        sky = scl.copy(
            data=scl.data.map_blocks(
                clear_from_scl, snow_is_clear=options.snow_is_clear, dtype=bool
            )
        )
        clear = valid & sky
    else:
        clear = valid
    return refl, clear


def load_s1(
    items: Sequence[pystac.Item],
    verdicts: Sequence[ItemBands],
    grid: CubeGrid,
    profile: Profile,
    options: LoadOptions,
) -> xr.DataArray:
    """One S1 pass as s1[band, y, x] float32 dB (NaN nodata), lazy."""
    planes = []
    for group_items, verdict in _groups(items, verdicts):
        verdict.require_geocoded()
        missing = [b for b in S1_BANDS if b not in verdict.bands]
        if missing:
            raise ProfileError(f"S1 item {verdict.item_id!r} lacks band(s) {missing}")
        keys = [verdict.bands[b].asset for b in S1_BANDS]
        nodata = verdict.bands["VV"].nodata
        ds = _odc_load(
            group_items,
            keys,
            grid,
            profile,
            resampling={k: options.s1_resampling for k in keys},
            dtype={k: "float32" for k in keys},
            nodata={k: (np.nan if nodata is None else nodata) for k in keys},
        )
        raw = xr.concat([ds[k] for k in keys], dim="s1_band").isel(time=0, drop=True)
        if verdict.units == "linear":
            db = raw.data.map_blocks(s1_to_db, nodata, dtype=np.float32)
        elif verdict.units == "db":
            db = raw.data.map_blocks(db_nodata_to_nan, nodata, dtype=np.float32)
        else:
            raise ProfileError(
                f"S1 item {verdict.item_id!r} holds {verdict.units!r} values; geomm needs "
                "calibrated backscatter (linear gamma0 or dB), e.g. sentinel-1-rtc"
            )
        planes.append(raw.copy(data=db))
    s1 = planes[0]
    for other in planes[1:]:
        s1 = s1.where(~np.isnan(s1), other)
    return s1.assign_coords(s1_band=list(S1_BANDS))


def _groups(
    items: Sequence[pystac.Item], verdicts: Sequence[ItemBands]
) -> list[tuple[list[pystac.Item], ItemBands]]:
    """Split an acquisition into items that share asset keys and radiometry."""
    groups: dict[tuple, tuple[list[pystac.Item], ItemBands]] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        signature = (
            verdict.collection,
            verdict.dn_offset,
            verdict.units,
            tuple((b, a.asset, a.nodata) for b, a in verdict.bands.items()),
        )
        groups.setdefault(signature, ([], verdict))[0].append(item)
    return list(groups.values())


def _odc_load(
    items: Sequence[pystac.Item],
    keys: Sequence[str],
    grid: CubeGrid,
    profile: Profile,
    *,
    resampling: dict[str, str],
    dtype: dict[str, str],
    nodata: dict[str, float],
) -> xr.Dataset:
    import odc.stac

    collection = items[0].collection_id or "unknown"
    stac_cfg = {
        collection: {
            "assets": {k: {"data_type": dtype[k], "nodata": nodata[k]} for k in keys},
        }
    }
    with warnings.catch_warnings():
        # odc-stac warns about assets without raster metadata (PC S2); the profile
        # supplied data type and nodata through stac_cfg.
        warnings.simplefilter("ignore", UserWarning)
        return odc.stac.load(
            items,
            bands=list(keys),
            geobox=grid.geobox,
            groupby=_one_group,
            resampling=resampling,
            chunks={"x": grid.chunk_px, "y": grid.chunk_px},
            stac_cfg=stac_cfg,
            patch_url=profile.sign if profile.signing != "none" else None,
            fail_on_error=True,
        )


def _one_group(item: pystac.Item, parsed: object, index: int) -> int:
    """odc-stac groupby key: everything passed in is one acquisition plane."""
    return 0
