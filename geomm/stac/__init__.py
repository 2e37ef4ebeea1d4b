"""Search Sentinel-1/2 scenes in STAC APIs and local catalogs.

Provider profiles (``catalogs/*.toml``) map each provider's assets onto the
canonical bands and radiometry of ARCHITECTURE.md. Static catalogs that
another package provides, the bundled sample among them, are found by name
through :func:`register_catalog` or the ``geomm.catalogs`` entry-point group.
"""

from geomm.stac._catalog import PROFILE_KEY, CatalogSource, resolve_catalog
from geomm.stac._profile_files import list_profiles, load_profile
from geomm.stac._profiles import (
    S1_BANDS,
    S2_BANDS,
    BandAsset,
    CollectionRule,
    ItemBands,
    Profile,
    processing_baseline,
)
from geomm.stac._registry import CatalogResolver, register_catalog, registered_catalogs
from geomm.stac._search import SearchQuery, SearchResult, parse_datetime, search, write_items
from geomm.stac._storage import s3_read_options

__all__ = [
    "PROFILE_KEY",
    "CatalogResolver",
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
    "register_catalog",
    "registered_catalogs",
    "resolve_catalog",
    "s3_read_options",
    "search",
    "write_items",
]
