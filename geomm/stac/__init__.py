"""Search Sentinel-1/2 scenes in STAC APIs and local catalogs.

Provider profiles (``catalogs/*.toml``) map each provider's assets onto the
canonical bands and radiometry of ARCHITECTURE.md.
"""

from geomm.stac._catalog import CatalogSource, resolve_catalog
from geomm.stac._profiles import (
    S1_BANDS,
    S2_BANDS,
    BandAsset,
    CollectionRule,
    ItemBands,
    Profile,
    list_profiles,
    load_profile,
    processing_baseline,
)
from geomm.stac._search import SearchQuery, SearchResult, parse_datetime, search, write_items
from geomm.stac._storage import s3_read_options

__all__ = [
    "CatalogSource",
    "S1_BANDS",
    "S2_BANDS",
    "BandAsset",
    "CollectionRule",
    "ItemBands",
    "Profile",
    "list_profiles",
    "load_profile",
    "SearchQuery",
    "SearchResult",
    "parse_datetime",
    "processing_baseline",
    "resolve_catalog",
    "s3_read_options",
    "search",
    "write_items",
]
