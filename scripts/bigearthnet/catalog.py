"""The catalog around the BigEarthNet items: collections, root catalog and README.

Builds, in memory, the catalog that :func:`bigearthnet.write_sample_catalog`
saves: a Sentinel-2 and a Sentinel-1 collection holding one item per patch
(:mod:`bigearthnet.items`), the root catalog, and the text of its
``README.md`` (from ``README.md.tmpl`` next to this module).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pystac

from geomm.errors import SampleDataError
from geomm.sample import S2_BAND_INFO

from .archive import (
    ARCHIVE_SHA256,
    DIST_NAME,
    DIST_VERSION,
    S1_POLARIZATIONS,
    S2_BANDS,
    WHEEL_NAME,
    WHEEL_SHA256,
    BigEarthNetPatch,
)
from .items import (
    EXT_EO,
    EXT_RASTER,
    EXT_SAR,
    EXT_SAT,
    s1_band_fields,
    s1_item,
    s2_asset_title,
    s2_band_fields,
    s2_item,
)

__all__ = [
    "ATTRIBUTION",
    "CATALOG_ID",
    "CITATIONS",
    "S1_COLLECTION_ID",
    "S2_COLLECTION_ID",
    "build_catalog",
    "readme_text",
]

CATALOG_ID = "bigearthnet-sample"
S2_COLLECTION_ID = "bigearthnet-s2"
S1_COLLECTION_ID = "bigearthnet-s1"

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
            title=s2_asset_title(band),
            description=None,
            media_type=pystac.MediaType.COG,
            roles=["data", "reflectance"],
            extra_fields={"gsd": S2_BAND_INFO[band][3], **s2_band_fields(band)},
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
            extra_fields={"gsd": 10.0, **s1_band_fields(pol)},
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

_README_TEMPLATE = Path(__file__).with_name("README.md.tmpl")
"""``str.format`` template of the catalog's README, next to this module."""


def _readme_template() -> str:
    return _README_TEMPLATE.read_text(encoding="utf-8")


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
