"""STAC items of the BigEarthNet example patches, one COG asset per band.

Derived values and their rules:

* ``s2:processing_baseline`` comes from the ``N####`` field of the L1C
  product named in ``tile_source`` (BigEarthNet ran sen2cor on it); every
  baseline here predates 04.00, so the reflectance offset is 0.
* ``sat:relative_orbit`` of Sentinel-1 is ``((absolute - 73) % 175) + 1``
  for S1A and ``((absolute - 27) % 175) + 1`` for S1B (ESA's formula).
* ``sat:orbit_state`` of Sentinel-1 follows from local solar time: the
  satellites fly a dawn-dusk orbit with the ascending node at 18:00, so a
  patch seen near 18 h (UTC hour + longitude / 15) is ascending and one seen
  near 06 h descending; anything more than 3 h from either is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pystac
from pyproj import CRS, Transformer
from rasterio.io import MemoryFile

from geomm.errors import SampleDataError
from geomm.sample import S2_BAND_INFO

from .archive import S1_POLARIZATIONS, S2_BANDS, BigEarthNetPatch

__all__ = [
    "EXT_EO",
    "EXT_GRID",
    "EXT_PROJ",
    "EXT_RASTER",
    "EXT_S2",
    "EXT_SAR",
    "EXT_SAT",
    "footprint",
    "s1_band_fields",
    "s1_item",
    "s1_orbit_state",
    "s1_relative_orbit",
    "s2_asset_title",
    "s2_band_fields",
    "s2_item",
]

EXT_EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
EXT_RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EXT_PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EXT_SAT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
EXT_SAR = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
EXT_GRID = "https://stac-extensions.github.io/grid/v1.1.0/schema.json"
EXT_S2 = "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json"

_COORD_DECIMALS = 8  # about 1 mm at the equator

_S2_TILE_SOURCE = re.compile(
    r"^S2(?P<unit>[AB])_MSIL1C_\w+?_N(?P<pb>\d{4})_R(?P<orbit>\d{3})_T(?P<tile>\w{5})_"
)
_S1_SCENE_SOURCE = re.compile(
    r"^S1(?P<unit>[AB])_(?P<mode>IW|EW|SM|WV)_GRD[HM]_1SDV_\d{8}T\d{6}_\d{8}T\d{6}_"
    r"(?P<orbit>\d{6})_"
)
_S1_TILE_IN_NAME = re.compile(r"^S1[AB]_\w+?_\d{8}T\d{6}_(?P<tile>\d\d[A-Z]{3})_")


# --------------------------------------------------------------------------- raster grids


@dataclass(frozen=True)
class _Raster:
    """The grid of one band's GeoTIFF, as rasterio reads it."""

    crs: CRS
    """Its CRS."""
    transform: tuple[float, ...]
    """The six affine coefficients (a, b, c, d, e, f)."""
    shape: tuple[int, int]
    """(height, width) in pixels."""
    bounds: tuple[float, float, float, float]
    """(left, bottom, right, top) in CRS units."""
    dtype: str
    """Data type of band 1."""


@dataclass(frozen=True)
class _PatchGrid:
    """The bands of one patch, checked to share the grid its metadata describes."""

    rasters: dict[str, _Raster]
    """Grid of every band, by band (``B01`` .. ``B12``) or polarization (``VV``, ``VH``)."""
    crs: CRS
    """CRS of the patch."""
    geometry: dict[str, Any]
    """Footprint, a GeoJSON Polygon in longitude/latitude."""
    bbox: list[float]
    """``[west, south, east, north]`` of the footprint."""


def _inspect(tiff: bytes) -> _Raster:
    with MemoryFile(tiff) as mem, mem.open() as src:
        return _Raster(
            crs=CRS.from_user_input(src.crs.to_wkt()),
            transform=tuple(src.transform)[:6],
            shape=(src.height, src.width),
            bounds=tuple(src.bounds),
            dtype=src.dtypes[0],
        )


def _check_grid(patch: BigEarthNetPatch, raster: _Raster) -> None:
    meta_crs = CRS.from_wkt(patch.metadata["projection"])
    if meta_crs.to_epsg() != raster.crs.to_epsg():
        raise SampleDataError(
            f"{patch.name}: metadata CRS EPSG:{meta_crs.to_epsg()} != raster CRS "
            f"EPSG:{raster.crs.to_epsg()}"
        )
    c = patch.metadata["coordinates"]
    # BigEarthNet-S1 metadata spells the bottom edge "lly", S2 "lry".
    bottom = c.get("lry", c.get("lly"))
    expected = (float(c["ulx"]), float(bottom), float(c["lrx"]), float(c["uly"]))
    if tuple(map(float, raster.bounds)) != expected:
        raise SampleDataError(
            f"{patch.name}: raster bounds {raster.bounds} != metadata coordinates {expected}"
        )


def _patch_grid(
    patch: BigEarthNetPatch, bands: tuple[str, ...], *, reference: str, dtype: str
) -> _PatchGrid:
    """Inspect every band; refuse a patch whose bands leave the reference band's grid."""
    rasters = {band: _inspect(patch.tiffs[band]) for band in bands}
    ref = rasters[reference]
    _check_grid(patch, ref)
    for band, r in rasters.items():
        if r.crs != ref.crs or r.bounds != ref.bounds or r.dtype != dtype:
            what = f"band {band}" if patch.sensor == "s2" else band
            raise SampleDataError(f"{patch.name}: {what} is off the patch grid or not {dtype}")
    geometry, bbox = footprint(ref.crs, ref.bounds)
    return _PatchGrid(rasters=rasters, crs=ref.crs, geometry=geometry, bbox=bbox)


def _asset_grid(raster: _Raster) -> dict[str, Any]:
    return {
        "gsd": float(raster.transform[0]),
        "proj:shape": list(raster.shape),
        "proj:transform": [float(v) for v in raster.transform],
    }


# --------------------------------------------------------------------------- geometry & orbits


def footprint(
    crs: CRS | str, bounds: tuple[float, float, float, float]
) -> tuple[dict[str, Any], list[float]]:
    """Footprint of a projected rectangle in longitude/latitude.

    The four corners are transformed to EPSG:4326 (lon/lat order) and joined
    counter-clockwise; for a 1.2 km patch the curvature of the edges is far
    below a millimetre.

    Args:
        crs: the projected CRS of ``bounds``.
        bounds: ``(left, bottom, right, top)`` in ``crs`` units.

    Returns:
        A GeoJSON Polygon and its ``[west, south, east, north]`` bbox, rounded
        to 1e-8 degrees.

    """
    left, bottom, right, top = bounds
    to_ll = Transformer.from_crs(CRS.from_user_input(crs), "EPSG:4326", always_xy=True)
    corners = [(left, top), (left, bottom), (right, bottom), (right, top)]
    ring = []
    for x, y in corners:
        lon, lat = to_ll.transform(x, y)
        ring.append([round(lon, _COORD_DECIMALS), round(lat, _COORD_DECIMALS)])
    ring.append(list(ring[0]))
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}, [min(lons), min(lats), max(lons), max(lats)]


def s1_relative_orbit(platform: str, absolute_orbit: int) -> int:
    """Relative orbit (track, 1..175) of a Sentinel-1 absolute orbit number.

    Args:
        platform: ``"sentinel-1a"`` or ``"sentinel-1b"``.
        absolute_orbit: orbit number as in the product name (e.g. 17018).

    """
    offsets = {"sentinel-1a": 73, "sentinel-1b": 27}
    if platform not in offsets:
        raise ValueError(f"platform must be one of {sorted(offsets)}, got {platform!r}")
    return ((absolute_orbit - offsets[platform]) % 175) + 1


def s1_orbit_state(when: datetime, lon: float) -> str:
    """Ascending or descending, from the local solar time of a Sentinel-1 acquisition.

    Sentinel-1 flies a dawn-dusk orbit (ascending node at 18:00 local), so
    acquisitions near 18 h local solar time are ascending, near 06 h descending.

    Args:
        when: acquisition time in UTC.
        lon: longitude of the scene in degrees east.

    Raises:
        SampleDataError: the local time is more than 3 h from both 06 h and 18 h.

    """
    local = (when.hour + when.minute / 60 + when.second / 3600 + lon / 15.0) % 24
    if abs(local - 18.0) <= 3.0:
        return "ascending"
    if abs(local - 6.0) <= 3.0:
        return "descending"
    raise SampleDataError(
        f"Sentinel-1 acquisition at {when.isoformat()} and lon {lon:.3f} is at local solar "
        f"time {local:.2f} h, not near 06 h or 18 h; cannot tell the orbit direction"
    )


# --------------------------------------------------------------------------- asset fields


def s2_band_fields(band: str) -> dict[str, Any]:
    """The ``eo:bands`` and ``raster:bands`` of one Sentinel-2 band's asset."""
    common, centre, fwhm, gsd, _ = S2_BAND_INFO[band]
    return {
        "eo:bands": [
            {
                "name": band,
                "common_name": common,
                "center_wavelength": centre,
                "full_width_half_max": fwhm,
            }
        ],
        "raster:bands": [
            {
                "data_type": "uint16",
                "nodata": 0,
                "scale": 0.0001,
                "offset": 0.0,
                "spatial_resolution": gsd,
            }
        ],
    }


def s1_band_fields(pol: str) -> dict[str, Any]:
    """The ``sar:polarizations`` and ``raster:bands`` of one Sentinel-1 asset."""
    return {
        "sar:polarizations": [pol],
        "raster:bands": [{"data_type": "float32", "unit": "dB", "spatial_resolution": 10.0}],
    }


def s2_asset_title(band: str) -> str:
    """Title of a Sentinel-2 band's asset, e.g. ``B04 - Red (10 m)``."""
    return f"{band} - {S2_BAND_INFO[band][4]} ({S2_BAND_INFO[band][3]:g} m)"


# --------------------------------------------------------------------------- Sentinel-2


@dataclass(frozen=True)
class _S2Source:
    """What the name of the L1C product behind a Sentinel-2 patch says."""

    text: str
    """The ``tile_source`` product name, verbatim."""
    platform: str
    """``sentinel-2a`` or ``sentinel-2b``."""
    baseline: str
    """Processing baseline as four digits, ``0205``."""
    orbit: int
    """Relative orbit (``R###``)."""
    tile: str
    """MGRS tile, ``33UUP``."""


def _s2_source(patch: BigEarthNetPatch) -> _S2Source:
    tile_source = str(patch.metadata["tile_source"])
    m = _S2_TILE_SOURCE.match(tile_source)
    if m is None:
        raise SampleDataError(f"{patch.name}: cannot parse tile_source {tile_source!r}")
    if not patch.name.startswith(f"S2{m['unit']}_"):
        raise SampleDataError(f"{patch.name}: platform differs from tile_source {tile_source!r}")
    if int(m["pb"]) >= 400:  # BOA_ADD_OFFSET era: raster:bands offset 0 would be wrong
        raise SampleDataError(
            f"{patch.name}: processing baseline N{m['pb']} carries the -1000 DN offset, "
            "which this converter does not describe"
        )
    return _S2Source(
        text=tile_source,
        platform=f"sentinel-2{m['unit'].lower()}",
        baseline=m["pb"],
        orbit=int(m["orbit"]),
        tile=m["tile"],
    )


def _s2_properties(
    patch: BigEarthNetPatch, source: _S2Source, crs: CRS, *, s1_patch: str
) -> dict[str, Any]:
    return {
        "platform": source.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "proj:code": f"EPSG:{crs.to_epsg()}",
        "sat:orbit_state": "descending",  # Sentinel-2 images the day side descending
        "sat:relative_orbit": source.orbit,
        "s2:processing_baseline": f"{source.baseline[:2]}.{source.baseline[2:]}",
        "s2:product_type": "S2MSI2A",
        "s2:mgrs_tile": source.tile,
        "grid:code": f"MGRS-{source.tile}",
        "bigearthnet:labels": list(patch.metadata["labels"]),
        "bigearthnet:s1_patch": s1_patch,
        "bigearthnet:tile_source": source.text,
    }


def s2_item(patch: BigEarthNetPatch, *, s1_patch: str) -> pystac.Item:
    """STAC item of one Sentinel-2 patch, with one COG asset per band.

    Asset hrefs are ``./<patch>_<band>.tif``, next to the item JSON.

    Args:
        patch: a Sentinel-2 patch from :func:`read_patches`.
        s1_patch: id of the Sentinel-1 patch paired with it.

    Raises:
        SampleDataError: the metadata disagrees with the rasters or cannot be parsed.

    """
    source = _s2_source(patch)
    acquired = str(patch.metadata["acquisition_date"])
    when = datetime.strptime(acquired, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    grid = _patch_grid(patch, S2_BANDS, reference="B02", dtype="uint16")
    item = pystac.Item(
        id=patch.name,
        geometry=grid.geometry,
        bbox=grid.bbox,
        datetime=when,
        properties=_s2_properties(patch, source, grid.crs, s1_patch=s1_patch),
        stac_extensions=[EXT_EO, EXT_RASTER, EXT_PROJ, EXT_SAT, EXT_GRID, EXT_S2],
    )
    for band in S2_BANDS:
        item.add_asset(
            band,
            pystac.Asset(
                href=f"./{patch.name}_{band}.tif",
                media_type=pystac.MediaType.COG,
                title=s2_asset_title(band),
                roles=["data", "reflectance"],
                extra_fields={**_asset_grid(grid.rasters[band]), **s2_band_fields(band)},
            ),
        )
    return item


# --------------------------------------------------------------------------- Sentinel-1


@dataclass(frozen=True)
class _S1Source:
    """What the names of a Sentinel-1 patch and of its GRD scene say."""

    text: str
    """The ``scene_source`` product name, verbatim."""
    platform: str
    """``sentinel-1a`` or ``sentinel-1b``."""
    mode: str
    """Instrument mode, ``IW``."""
    absolute_orbit: int
    """Absolute orbit number of the scene."""
    tile: str
    """MGRS tile named in the patch name, ``33UUP``."""


def _s1_source(patch: BigEarthNetPatch) -> _S1Source:
    scene = str(patch.metadata["scene_source"])
    m = _S1_SCENE_SOURCE.match(scene)
    if m is None:
        raise SampleDataError(f"{patch.name}: cannot parse scene_source {scene!r}")
    tile = _S1_TILE_IN_NAME.match(patch.name)
    if tile is None:
        raise SampleDataError(f"{patch.name}: no MGRS tile in the patch name")
    return _S1Source(
        text=scene,
        platform=f"sentinel-1{m['unit'].lower()}",
        mode=m["mode"],
        absolute_orbit=int(m["orbit"]),
        tile=tile["tile"],
    )


def _s1_properties(
    patch: BigEarthNetPatch, source: _S1Source, grid: _PatchGrid, when: datetime
) -> dict[str, Any]:
    bbox = grid.bbox
    return {
        "platform": source.platform,
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "proj:code": f"EPSG:{grid.crs.to_epsg()}",
        "sar:instrument_mode": source.mode,
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": list(S1_POLARIZATIONS),
        "sar:product_type": "GRD",
        "sat:absolute_orbit": source.absolute_orbit,
        "sat:relative_orbit": s1_relative_orbit(source.platform, source.absolute_orbit),
        "sat:orbit_state": s1_orbit_state(when, (bbox[0] + bbox[2]) / 2),
        "grid:code": f"MGRS-{source.tile}",
        "bigearthnet:labels": list(patch.metadata["labels"]),
        "bigearthnet:s2_patch": str(patch.metadata["corresponding_s2_patch"]),
        "bigearthnet:scene_source": source.text,
    }


def s1_item(patch: BigEarthNetPatch) -> pystac.Item:
    """STAC item of one Sentinel-1 patch, with COG assets ``vv`` and ``vh``.

    Asset hrefs are ``./<patch>_VV.tif`` and ``./<patch>_VH.tif``. The
    backscatter is stored in dB exactly as BigEarthNet distributes it; the
    source declares no nodata value and none is added.

    Args:
        patch: a Sentinel-1 patch from :func:`read_patches`.

    Raises:
        SampleDataError: the metadata disagrees with the rasters or cannot be parsed.

    """
    source = _s1_source(patch)
    acquired = str(patch.metadata["acquisition_time"])
    when = datetime.strptime(acquired, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    grid = _patch_grid(patch, S1_POLARIZATIONS, reference="VV", dtype="float32")
    item = pystac.Item(
        id=patch.name,
        geometry=grid.geometry,
        bbox=grid.bbox,
        datetime=when,
        properties=_s1_properties(patch, source, grid, when),
        stac_extensions=[EXT_RASTER, EXT_PROJ, EXT_SAT, EXT_SAR, EXT_GRID],
    )
    for pol in S1_POLARIZATIONS:
        item.add_asset(
            pol.lower(),
            pystac.Asset(
                href=f"./{patch.name}_{pol}.tif",
                media_type=pystac.MediaType.COG,
                title=f"{pol} backscatter (dB, 10 m)",
                roles=["data", "backscatter"],
                extra_fields={**_asset_grid(grid.rasters[pol]), **s1_band_fields(pol)},
            ),
        )
    return item
