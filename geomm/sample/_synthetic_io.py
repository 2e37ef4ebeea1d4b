"""Writing the synthetic region: COGs, footprints and STAC documents.

The STAC items mimic Planetary Computer's ``sentinel-2-l2a`` and
``sentinel-1-rtc`` (asset keys, property names) plus ``raster:bands`` for
Sentinel-2, which PC leaves out. Nothing written depends on the clock or the
host, so the same config gives byte-identical files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.features
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape

from geomm.sample._s2_bands import S2_BAND_INFO
from geomm.sample._synthetic_layout import S1_ENL, S2_RELATIVE_ORBIT, Grid, S1Scene, S2Scene, S2Tile
from geomm.sample._synthetic_render import S2_RES
from geomm.stac import PROFILE_KEY

__all__ = [
    "S1_COLLECTION",
    "S2_COLLECTION",
    "build_catalog",
    "footprint",
    "s1_item",
    "s1_item_id",
    "s2_item",
    "s2_item_id",
    "write_cog",
]

S2_COLLECTION = "synthetic-s2-l2a"
S1_COLLECTION = "synthetic-s1-rtc"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
SAT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
SAR = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
GRID = "https://stac-extensions.github.io/grid/v1.1.0/schema.json"
S2_EXT = "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json"

S2_ASSET_ORDER = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B09",
    "B11",
    "B12",
    "B8A",
    "SCL",
)
"""Asset keys in PC's order."""


def write_cog(
    path: Path,
    array: np.ndarray,
    *,
    grid: Grid,
    nodata: float,
    categorical: bool = False,
    description: str | None = None,
) -> None:
    """Write one band as a DEFLATE COG (512 px blocks, automatic overviews)."""
    kind = np.dtype(array.dtype).kind
    profile: dict[str, Any] = {
        "driver": "COG",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": array.dtype.name,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "compress": "DEFLATE",
        "predictor": "NO" if categorical else ("FLOATING_POINT" if kind == "f" else "STANDARD"),
        "blocksize": 512,
        "overview_resampling": "nearest" if categorical else "average",
        "bigtiff": "NO",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        if description:
            dst.set_band_description(1, description)


def footprint(valid: np.ndarray, grid: Grid) -> tuple[dict[str, Any], list[float]]:
    """Lon/lat polygon (GeoJSON) and bbox of the union of the valid pixels of ``grid``."""
    polys = [
        shape(geom)
        for geom, value in rasterio.features.shapes(
            valid.astype(np.uint8), mask=valid, transform=grid.transform
        )
        if value == 1
    ]
    geom = shapely.union_all(polys)
    geom = shapely.segmentize(geom, 200.0)
    tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)

    def ll(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([x, y]), 7)

    geom = shapely.transform(geom, ll)
    geom = shapely.orient_polygons(geom)
    b = [float(v) for v in geom.bounds]
    return mapping(geom), b


def s2_item_id(scene: S2Scene, tile: S2Tile) -> str:
    """PC-style id: ``S2A_MSIL2A_20240603T102031_N0510_R065_T32UQU_SYNTH``."""
    sat = "S2A" if scene.platform == "sentinel-2a" else "S2B"
    return (
        f"{sat}_MSIL2A_{scene.datetime:%Y%m%dT%H%M%S}_N0510_R{S2_RELATIVE_ORBIT:03d}_"
        f"T{tile.mgrs}_SYNTH"
    )


def s1_item_id(scene: S1Scene) -> str:
    """PC-style id: ``S1A_IW_GRDH_1SDV_<start>_<stop>_<abs orbit>_<datatake>_rtc_SYNTH``."""
    stop = scene.datetime + timedelta(seconds=25)
    datatake = (0x050000 + 17 * scene.absolute_orbit) & 0xFFFFFF
    return (
        f"S1A_IW_GRDH_1SDV_{scene.datetime:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
        f"{scene.absolute_orbit:06d}_{datatake:06X}_rtc_SYNTH"
    )


def _transform6(grid: Grid) -> list[float]:
    t = grid.transform
    return [t.a, t.b, t.c, t.d, t.e, t.f]


def s2_item(
    scene: S2Scene,
    tile: S2Tile,
    *,
    cloud_cover: float,
    geometry: dict[str, Any],
    bbox: list[float],
) -> pystac.Item:
    """Build a Sentinel-2 L2A item with one COG asset per band (``./<KEY>.tif``)."""
    props: dict[str, Any] = {
        "platform": scene.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": round(cloud_cover, 4),
        "s2:processing_baseline": "05.10",
        "s2:product_type": "S2MSI2A",
        "s2:mgrs_tile": tile.mgrs,
        "sat:orbit_state": "descending",
        "sat:relative_orbit": S2_RELATIVE_ORBIT,
        "grid:code": f"MGRS-{tile.mgrs}",
        "proj:code": tile.grid10.crs,
    }
    item = pystac.Item(
        id=s2_item_id(scene, tile),
        geometry=geometry,
        bbox=bbox,
        datetime=scene.datetime,
        properties=props,
        stac_extensions=[EO, PROJ, RASTER, SAT, GRID, S2_EXT],
    )
    for key in S2_ASSET_ORDER:
        item.add_asset(key, _s2_asset(key, tile))
    return item


def _s2_asset(key: str, tile: S2Tile) -> pystac.Asset:
    """The COG asset ``./<KEY>.tif`` of one band (or SCL), on the tile's grid at its resolution."""
    res = S2_RES[key]
    g = tile.grid10.coarsen(res // 10)
    extra: dict[str, Any] = {
        "gsd": float(res),
        "proj:shape": [g.height, g.width],
        "proj:transform": _transform6(g),
    }
    if key == "SCL":
        roles = ["data"]
        title = "Scene classification map (SCL)"
        extra["raster:bands"] = [
            {"nodata": 0, "data_type": "uint8", "spatial_resolution": float(res)}
        ]
    else:
        common, wl, fwhm = S2_BAND_INFO[key][:3]
        roles = ["data", "reflectance"]
        title = f"Band {key[1:].lstrip('0')} - {common} - {res}m"
        extra["eo:bands"] = [
            {
                "name": key,
                "common_name": common,
                "center_wavelength": wl,
                "full_width_half_max": fwhm,
            }
        ]
        extra["raster:bands"] = [
            {
                "nodata": 0,
                "data_type": "uint16",
                "scale": 0.0001,
                "offset": -0.1,
                "spatial_resolution": float(res),
            }
        ]
    return pystac.Asset(
        f"./{key}.tif",
        title=title,
        media_type=pystac.MediaType.COG,
        roles=roles,
        extra_fields=extra,
    )


def s1_item(scene: S1Scene, *, geometry: dict[str, Any], bbox: list[float]) -> pystac.Item:
    """Build a Sentinel-1 RTC item with ``vv`` and ``vh`` COG assets (linear gamma0)."""
    g = scene.grid
    props: dict[str, Any] = {
        "platform": "sentinel-1a",
        "constellation": "sentinel-1",
        "sar:instrument_mode": "IW",
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": ["VV", "VH"],
        "sar:product_type": "GRD",
        "sar:resolution_range": 20,
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_range": 5,
        "sar:looks_azimuth": 1,
        "sar:looks_equivalent_number": S1_ENL,
        "sat:orbit_state": scene.orbit_state,
        "sat:relative_orbit": scene.relative_orbit,
        "sat:absolute_orbit": scene.absolute_orbit,
        "sat:platform_international_designator": "2014-016A",
        "proj:code": g.crs,
        "proj:shape": [g.height, g.width],
        "proj:transform": [*_transform6(g), 0.0, 0.0, 1.0],
        "end_datetime": _iso(scene.datetime + timedelta(seconds=25)),
        "start_datetime": _iso(scene.datetime),
    }
    item = pystac.Item(
        id=s1_item_id(scene),
        geometry=geometry,
        bbox=bbox,
        datetime=scene.datetime,
        properties=props,
        stac_extensions=[PROJ, RASTER, SAT, SAR],
    )
    for key, pol in (
        ("vv", "VV: vertical transmit, vertical receive"),
        ("vh", "VH: vertical transmit, horizontal receive"),
    ):
        item.add_asset(
            key,
            pystac.Asset(
                f"./{key}.tif",
                title=pol,
                description="Terrain-corrected gamma nought values (linear power), synthetic",
                media_type=pystac.MediaType.COG,
                roles=["data"],
                extra_fields={
                    "raster:bands": [
                        {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
                    ]
                },
            ),
        )
    return item


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


_S2_DESCRIPTION = (
    "SYNTHETIC Sentinel-2 L2A surface reflectance, generated by geomm.sample._synthetic: "
    "two miniature MGRS tiles in adjacent UTM zones overlapping across the zone boundary, "
    "rendered from a known land-cover field (Voronoi parcels and a river) by an "
    "area-integrating sensor model (2.5 m supersampling), with point targets, seeded clouds "
    "and shadows on some dates, and a swath edge. DN = round(10000 * reflectance) + 1000 "
    "(processing baseline 05.10). Not real data."
)
_S1_DESCRIPTION = (
    "SYNTHETIC Sentinel-1 radiometrically terrain-corrected gamma0 (linear power, float32, "
    "nodata -32768), generated by geomm.sample._synthetic from the same land-cover field as "
    "synthetic-s2-l2a, area-integrated on 10 m grids offset from the 10 m lattice, with "
    "multiplicative Gamma speckle (ENL 4.4), point targets and a swath edge. Not real data."
)


def _collection(
    cid: str, title: str, description: str, items: list[pystac.Item]
) -> pystac.Collection:
    bboxes = np.array([i.bbox for i in items])
    times = sorted(i.datetime for i in items if i.datetime is not None)
    extent = pystac.Extent(
        pystac.SpatialExtent(
            [
                [
                    float(bboxes[:, 0].min()),
                    float(bboxes[:, 1].min()),
                    float(bboxes[:, 2].max()),
                    float(bboxes[:, 3].max()),
                ]
            ]
        ),
        pystac.TemporalExtent([[times[0], times[-1]]]),
    )
    coll = pystac.Collection(
        id=cid,
        description=description,
        extent=extent,
        title=title,
        license="CC0-1.0",
        keywords=["synthetic", "sentinel", "geomm"],
    )
    for item in items:
        coll.add_item(item)
    return coll


def build_catalog(folder: Path, s2_items: list[pystac.Item], s1_items: list[pystac.Item]) -> Path:
    """Save the self-contained catalog over already written COGs; return ``catalog.json``."""
    cat = pystac.Catalog(
        id="geomm-synthetic",
        description=(
            "SYNTHETIC Sentinel-1/Sentinel-2 region across a UTM zone boundary with exactly "
            "known ground truth (see ground_truth/params.json), generated by "
            "geomm.sample.generate_synthetic_region. Not real data."
        ),
        title="geomm synthetic two-zone region",
    )
    # the collections are the sample profile's: `geomm cube --catalog <folder>` needs no more
    cat.extra_fields[PROFILE_KEY] = "sample"
    cat.add_child(_collection(S2_COLLECTION, "Synthetic Sentinel-2 L2A", _S2_DESCRIPTION, s2_items))
    cat.add_child(_collection(S1_COLLECTION, "Synthetic Sentinel-1 RTC", _S1_DESCRIPTION, s1_items))
    cat.normalize_hrefs(str(folder / "catalog.json"))
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"
