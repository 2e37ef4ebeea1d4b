"""STAC description of the BigEarthNet example patches: items, collections, catalog.

Builds, in memory, the catalog that :func:`geomm.sample._bigearthnet.write_sample_catalog`
saves: one STAC 1.1.0 item per patch (one COG asset per band), a Sentinel-2 and
a Sentinel-1 collection, the root catalog, and the text of its ``README.md``.

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

import importlib.resources
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pystac
from pyproj import CRS, Transformer
from rasterio.io import MemoryFile

from geomm.errors import SampleDataError
from geomm.sample._bigearthnet_archive import (
    ARCHIVE_SHA256,
    DIST_NAME,
    DIST_VERSION,
    S1_POLARIZATIONS,
    S2_BANDS,
    WHEEL_NAME,
    WHEEL_SHA256,
    BigEarthNetPatch,
)
from geomm.sample._s2_bands import S2_BAND_INFO

__all__ = [
    "ATTRIBUTION",
    "CATALOG_ID",
    "CITATIONS",
    "S1_COLLECTION_ID",
    "S2_COLLECTION_ID",
    "build_catalog",
    "footprint",
    "readme_text",
    "s1_item",
    "s1_orbit_state",
    "s1_relative_orbit",
    "s2_item",
]

CATALOG_ID = "bigearthnet-sample"
S2_COLLECTION_ID = "bigearthnet-s2"
S1_COLLECTION_ID = "bigearthnet-s1"

# band: (common name, centre wavelength um, FWHM um, gsd m, description)


EXT_EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
EXT_RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EXT_PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EXT_SAT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
EXT_SAR = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
EXT_GRID = "https://stac-extensions.github.io/grid/v1.1.0/schema.json"
EXT_S2 = "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json"

ATTRIBUTION = "Contains modified Copernicus Sentinel data 2017-2018"
CITATIONS = (
    "Sumbul, G., Charfuelan, M., Demir, B., Markl, V. (2019). BigEarthNet: A Large-Scale "
    "Benchmark Archive for Remote Sensing Image Understanding. IGARSS 2019, 5901-5904. "
    "https://doi.org/10.1109/IGARSS.2019.8900532",
    "Sumbul, G., de Wall, A., Kreuziger, T., Marcelino, F., Costa, H., Benevides, P., "
    "Caetano, M., Demir, B., Markl, V. (2021). BigEarthNet-MM: A Large-Scale, Multimodal, "
    "Multilabel Benchmark Archive for Remote Sensing Image Classification and Retrieval. "
    "IEEE Geoscience and Remote Sensing Magazine 9(3), 174-180. "
    "https://doi.org/10.1109/MGRS.2021.3089174",
)
_CITE_AS = "https://doi.org/10.1109/MGRS.2021.3089174"
_COORD_DECIMALS = 8  # about 1 mm at the equator


# --------------------------------------------------------------------------- raster grids


@dataclass(frozen=True)
class _Raster:
    crs: CRS
    transform: tuple[float, ...]
    shape: tuple[int, int]
    bounds: tuple[float, float, float, float]
    dtype: str


def _inspect(tiff: bytes) -> _Raster:
    with MemoryFile(tiff) as mem, mem.open() as src:
        return _Raster(
            crs=CRS.from_user_input(src.crs.to_wkt()),
            transform=tuple(src.transform)[:6],
            shape=(src.height, src.width),
            bounds=tuple(src.bounds),
            dtype=src.dtypes[0],
        )


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


# --------------------------------------------------------------------------- items


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


def _asset_grid(raster: _Raster) -> dict[str, Any]:
    return {
        "gsd": float(raster.transform[0]),
        "proj:shape": list(raster.shape),
        "proj:transform": [float(v) for v in raster.transform],
    }


def _s2_band_fields(band: str) -> dict[str, Any]:
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


def _s1_band_fields(pol: str) -> dict[str, Any]:
    return {
        "sar:polarizations": [pol],
        "raster:bands": [{"data_type": "float32", "unit": "dB", "spatial_resolution": 10.0}],
    }


def _asset_title_s2(band: str) -> str:
    return f"{band} - {S2_BAND_INFO[band][4]} ({S2_BAND_INFO[band][3]:g} m)"


def s2_item(patch: BigEarthNetPatch, *, s1_patch: str) -> pystac.Item:
    """STAC item of one Sentinel-2 patch, with one COG asset per band.

    Asset hrefs are ``./<patch>_<band>.tif``, next to the item JSON.

    Args:
        patch: a Sentinel-2 patch from :func:`read_patches`.
        s1_patch: id of the Sentinel-1 patch paired with it.

    Raises:
        SampleDataError: the metadata disagrees with the rasters or cannot be parsed.

    """
    meta = patch.metadata
    tile_source = str(meta["tile_source"])
    m = re.match(
        r"^S2(?P<unit>[AB])_MSIL1C_\w+?_N(?P<pb>\d{4})_R(?P<orbit>\d{3})_T(?P<tile>\w{5})_",
        tile_source,
    )
    if m is None:
        raise SampleDataError(f"{patch.name}: cannot parse tile_source {tile_source!r}")
    platform = f"sentinel-2{m['unit'].lower()}"
    if not patch.name.startswith(f"S2{m['unit']}_"):
        raise SampleDataError(f"{patch.name}: platform differs from tile_source {tile_source!r}")
    if int(m["pb"]) >= 400:  # BOA_ADD_OFFSET era: raster:bands offset 0 would be wrong
        raise SampleDataError(
            f"{patch.name}: processing baseline N{m['pb']} carries the -1000 DN offset, "
            "which this converter does not describe"
        )
    when = datetime.strptime(str(meta["acquisition_date"]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    rasters = {band: _inspect(patch.tiffs[band]) for band in S2_BANDS}
    ref = rasters["B02"]
    _check_grid(patch, ref)
    for band, r in rasters.items():
        if r.crs != ref.crs or r.bounds != ref.bounds or r.dtype != "uint16":
            raise SampleDataError(f"{patch.name}: band {band} is off the patch grid or not uint16")
    geometry, bbox = footprint(ref.crs, ref.bounds)
    props: dict[str, Any] = {
        "platform": platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "proj:code": f"EPSG:{ref.crs.to_epsg()}",
        "sat:orbit_state": "descending",  # Sentinel-2 images the day side descending
        "sat:relative_orbit": int(m["orbit"]),
        "s2:processing_baseline": f"{m['pb'][:2]}.{m['pb'][2:]}",
        "s2:product_type": "S2MSI2A",
        "s2:mgrs_tile": m["tile"],
        "grid:code": f"MGRS-{m['tile']}",
        "bigearthnet:labels": list(meta["labels"]),
        "bigearthnet:s1_patch": s1_patch,
        "bigearthnet:tile_source": tile_source,
    }
    item = pystac.Item(
        id=patch.name,
        geometry=geometry,
        bbox=bbox,
        datetime=when,
        properties=props,
        stac_extensions=[EXT_EO, EXT_RASTER, EXT_PROJ, EXT_SAT, EXT_GRID, EXT_S2],
    )
    for band in S2_BANDS:
        item.add_asset(
            band,
            pystac.Asset(
                href=f"./{patch.name}_{band}.tif",
                media_type=pystac.MediaType.COG,
                title=_asset_title_s2(band),
                roles=["data", "reflectance"],
                extra_fields={**_asset_grid(rasters[band]), **_s2_band_fields(band)},
            ),
        )
    return item


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
    meta = patch.metadata
    scene = str(meta["scene_source"])
    m = re.match(
        r"^S1(?P<unit>[AB])_(?P<mode>IW|EW|SM|WV)_GRD[HM]_1SDV_\d{8}T\d{6}_\d{8}T\d{6}_"
        r"(?P<orbit>\d{6})_",
        scene,
    )
    if m is None:
        raise SampleDataError(f"{patch.name}: cannot parse scene_source {scene!r}")
    platform = f"sentinel-1{m['unit'].lower()}"
    tile = re.match(r"^S1[AB]_\w+?_\d{8}T\d{6}_(?P<tile>\d\d[A-Z]{3})_", patch.name)
    if tile is None:
        raise SampleDataError(f"{patch.name}: no MGRS tile in the patch name")
    when = datetime.strptime(str(meta["acquisition_time"]), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    rasters = {pol: _inspect(patch.tiffs[pol]) for pol in S1_POLARIZATIONS}
    ref = rasters["VV"]
    _check_grid(patch, ref)
    for pol, r in rasters.items():
        if r.crs != ref.crs or r.bounds != ref.bounds or r.dtype != "float32":
            raise SampleDataError(f"{patch.name}: {pol} is off the patch grid or not float32")
    geometry, bbox = footprint(ref.crs, ref.bounds)
    absolute = int(m["orbit"])
    props: dict[str, Any] = {
        "platform": platform,
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "proj:code": f"EPSG:{ref.crs.to_epsg()}",
        "sar:instrument_mode": m["mode"],
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": list(S1_POLARIZATIONS),
        "sar:product_type": "GRD",
        "sat:absolute_orbit": absolute,
        "sat:relative_orbit": s1_relative_orbit(platform, absolute),
        "sat:orbit_state": s1_orbit_state(when, (bbox[0] + bbox[2]) / 2),
        "grid:code": f"MGRS-{tile['tile']}",
        "bigearthnet:labels": list(meta["labels"]),
        "bigearthnet:s2_patch": str(meta["corresponding_s2_patch"]),
        "bigearthnet:scene_source": scene,
    }
    item = pystac.Item(
        id=patch.name,
        geometry=geometry,
        bbox=bbox,
        datetime=when,
        properties=props,
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
                extra_fields={**_asset_grid(rasters[pol]), **_s1_band_fields(pol)},
            ),
        )
    return item


# --------------------------------------------------------------------------- collections


def _providers(processing: str) -> list[pystac.Provider]:
    return [
        pystac.Provider(
            name="European Space Agency (ESA), Copernicus programme",
            roles=[pystac.ProviderRole.PRODUCER],
            url="https://sentinels.copernicus.eu",
        ),
        pystac.Provider(
            name="Technische Universitaet Berlin, BigEarthNet",
            description=processing,
            roles=[pystac.ProviderRole.PROCESSOR],
            url="https://bigearth.net",
        ),
        pystac.Provider(
            name="bigearthnet-common (Kai Norman Clasen)",
            description=f"Redistributes these example patches in the {DIST_NAME} "
            f"{DIST_VERSION} wheel under Apache-2.0.",
            roles=[pystac.ProviderRole.LICENSOR],
            url="https://github.com/kai-tub/bigearthnet_common",
        ),
    ]


def _description(what: str) -> str:
    cites = "\n".join(f"- {c}" for c in CITATIONS)
    return (
        f"{what} The six patches are the BigEarthNet examples shipped in the "
        f"{DIST_NAME} {DIST_VERSION} wheel (PyPI), rewritten as Cloud-Optimized "
        f"GeoTIFFs with unchanged pixels, CRS and transform.\n\n{ATTRIBUTION}.\n\n"
        f"Please cite:\n{cites}"
    )


def _collection(
    cid: str, title: str, description: str, processing: str, items: Sequence[pystac.Item]
) -> pystac.Collection:
    bboxes = [i.bbox for i in items if i.bbox is not None]
    times = sorted(i.datetime for i in items if i.datetime is not None)
    extent = pystac.Extent(
        pystac.SpatialExtent(
            [
                [
                    min(b[0] for b in bboxes),
                    min(b[1] for b in bboxes),
                    max(b[2] for b in bboxes),
                    max(b[3] for b in bboxes),
                ]
            ]
        ),
        pystac.TemporalExtent([[times[0], times[-1]]]),
    )
    col = pystac.Collection(
        id=cid,
        title=title,
        description=_description(description),
        extent=extent,
        license="Apache-2.0",
        providers=_providers(processing),
        keywords=["BigEarthNet", "Copernicus", "Sentinel", "land cover", "CORINE"],
    )
    col.add_link(pystac.Link("license", "../LICENSE", media_type="text/plain", title="Apache-2.0"))
    col.add_link(pystac.Link("cite-as", _CITE_AS, media_type="text/html", title="BigEarthNet-MM"))
    for item in items:
        col.add_item(item)
    return col


def _s2_collection(items: Sequence[pystac.Item]) -> pystac.Collection:
    col = _collection(
        S2_COLLECTION_ID,
        "BigEarthNet Sentinel-2 L2A example patches",
        "Sentinel-2 Level-2A surface reflectance patches of BigEarthNet (1.2 km x 1.2 km; "
        "12 bands at 10, 20 and 60 m; uint16 reflectance x 10000, 0 = nodata) with "
        "CORINE Land Cover 2018 labels.",
        "Level-2A processing with sen2cor, cutting into 1.2 km patches, CLC 2018 labels.",
        items,
    )
    col.stac_extensions = [EXT_EO, EXT_RASTER]
    col.summaries = pystac.Summaries(
        {
            "platform": sorted({i.properties["platform"] for i in items}),
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "gsd": [10.0, 20.0, 60.0],
            "s2:processing_baseline": sorted(
                {i.properties["s2:processing_baseline"] for i in items}
            ),
        }
    )
    col.item_assets = {
        band: pystac.ItemAssetDefinition.create(
            title=_asset_title_s2(band),
            description=None,
            media_type=pystac.MediaType.COG,
            roles=["data", "reflectance"],
            extra_fields={"gsd": S2_BAND_INFO[band][3], **_s2_band_fields(band)},
        )
        for band in S2_BANDS
    }
    return col


def _s1_collection(items: Sequence[pystac.Item]) -> pystac.Collection:
    col = _collection(
        S1_COLLECTION_ID,
        "BigEarthNet Sentinel-1 GRD example patches",
        "Sentinel-1 IW GRD patches of BigEarthNet-MM (1.2 km x 1.2 km; VV and VH "
        "backscatter in dB, float32, 10 m, on the grid of the paired Sentinel-2 patch) "
        "with CORINE Land Cover 2018 labels.",
        "Radiometric calibration and geocoding onto the Sentinel-2 patch grid, conversion "
        "to dB, cutting into 1.2 km patches, CLC 2018 labels.",
        items,
    )
    col.stac_extensions = [EXT_RASTER, EXT_SAR, EXT_SAT]
    col.summaries = pystac.Summaries(
        {
            "platform": sorted({i.properties["platform"] for i in items}),
            "constellation": ["sentinel-1"],
            "instruments": ["c-sar"],
            "gsd": [10.0],
            "sar:instrument_mode": ["IW"],
            "sar:frequency_band": ["C"],
            "sar:polarizations": list(S1_POLARIZATIONS),
            "sar:product_type": ["GRD"],
            "sat:orbit_state": sorted({i.properties["sat:orbit_state"] for i in items}),
        }
    )
    col.item_assets = {
        pol.lower(): pystac.ItemAssetDefinition.create(
            title=f"{pol} backscatter (dB, 10 m)",
            description=None,
            media_type=pystac.MediaType.COG,
            roles=["data", "backscatter"],
            extra_fields={"gsd": 10.0, **_s1_band_fields(pol)},
        )
        for pol in S1_POLARIZATIONS
    }
    return col


def build_catalog(
    s2_patches: Sequence[BigEarthNetPatch], s1_patches: Sequence[BigEarthNetPatch]
) -> pystac.Catalog:
    """Build the in-memory catalog: root, the S2 and S1 collections, one item per patch.

    Every S2 patch must have exactly one S1 patch naming it as
    ``corresponding_s2_patch`` and vice versa.

    Args:
        s2_patches: Sentinel-2 patches from :func:`read_patches`.
        s1_patches: Sentinel-1 patches from :func:`read_patches`.

    Raises:
        SampleDataError: the pairing is not one-to-one.

    """
    s1_of: dict[str, str] = {}
    for p in s1_patches:
        s2_name = str(p.metadata["corresponding_s2_patch"])
        if s2_name in s1_of:
            raise SampleDataError(f"S2 patch {s2_name} is paired with two S1 patches")
        s1_of[s2_name] = p.name
    s2_names = {p.name for p in s2_patches}
    if set(s1_of) != s2_names:
        raise SampleDataError(
            f"S1/S2 pairing is not one-to-one: S2 {sorted(s2_names)}, S1 pairs {sorted(s1_of)}"
        )
    s2_items = [
        s2_item(p, s1_patch=s1_of[p.name]) for p in sorted(s2_patches, key=lambda p: p.name)
    ]
    s1_items = [s1_item(p) for p in sorted(s1_patches, key=lambda p: p.name)]
    root = pystac.Catalog(
        id=CATALOG_ID,
        title="BigEarthNet Sentinel-1/Sentinel-2 sample pairs",
        description=(
            "Six co-located Sentinel-2 L2A / Sentinel-1 GRD patch pairs from BigEarthNet-MM, "
            f"taken from the {DIST_NAME} {DIST_VERSION} wheel and stored as COGs, for offline "
            f"tests and tutorials. {ATTRIBUTION}."
        ),
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )
    root.add_link(pystac.Link("license", "./LICENSE", media_type="text/plain", title="Apache-2.0"))
    root.add_child(_s2_collection(s2_items))
    root.add_child(_s1_collection(s1_items))
    return root


# --------------------------------------------------------------------------- README

_README_TEMPLATE = "_bigearthnet_README.md.tmpl"
"""``str.format`` template of the catalog's README, shipped next to this module."""


def _readme_template() -> str:
    return (
        importlib.resources.files("geomm.sample")
        .joinpath(_README_TEMPLATE)
        .read_text(encoding="utf-8")
    )


def readme_text(s2: Sequence[BigEarthNetPatch], s1_of: Mapping[str, str]) -> str:
    """Text of the catalog's ``README.md``: contents, derived fields, provenance, citation.

    Args:
        s2: the Sentinel-2 patches, in the order of the table rows.
        s1_of: id of the paired Sentinel-1 patch by Sentinel-2 patch id.

    Returns:
        The Markdown text, ending with one newline.

    """
    rows = "\n".join(
        f"| `{p.name}` | `{s1_of[p.name]}` | {p.metadata['acquisition_date']} | "
        f"{'; '.join(p.metadata['labels'])} |"
        for p in s2
    )
    cites = "\n".join(f"- {c}" for c in CITATIONS)
    return _readme_template().format(
        dist=DIST_NAME,
        version=DIST_VERSION,
        wheel=WHEEL_NAME,
        wheel_sha=WHEEL_SHA256,
        s2_sha=ARCHIVE_SHA256["s2"],
        s1_sha=ARCHIVE_SHA256["s1"],
        attribution=ATTRIBUTION,
        citations=cites,
        rows=rows,
        catalog=CATALOG_ID,
        s2c=S2_COLLECTION_ID,
        s1c=S1_COLLECTION_ID,
    )
