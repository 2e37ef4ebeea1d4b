"""Small STAC factories for tests: items, collections and static catalogs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pystac
import shapely
from shapely.geometry import mapping, shape

__all__ = ["make_item", "write_static_catalog"]


def make_item(
    item_id: str,
    *,
    collection: str,
    geometry: Mapping[str, Any],
    datetime: str | dt.datetime | None = None,
    start: str | None = None,
    end: str | None = None,
    cloud: float | None = None,
    properties: Mapping[str, Any] | None = None,
    assets: Mapping[str, Mapping[str, Any]] | None = None,
) -> pystac.Item:
    """A STAC item with a real footprint, time and optional cloud cover.

    ``datetime`` may be None when ``start``/``end`` give a time span.
    """
    geom = shape(geometry)
    moment = pystac.utils.str_to_datetime(datetime) if isinstance(datetime, str) else datetime
    props: dict[str, Any] = dict(properties or {})
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    item = pystac.Item(
        id=item_id,
        geometry=mapping(geom),
        bbox=list(shapely.bounds(geom)),
        datetime=moment,
        start_datetime=pystac.utils.str_to_datetime(start) if start else None,
        end_datetime=pystac.utils.str_to_datetime(end) if end else None,
        properties=props,
        collection=collection,
    )
    for key, fields in (assets or {}).items():
        fields = dict(fields)
        href = fields.pop("href", f"./{item_id}-{key}.tif")
        item.add_asset(key, pystac.Asset(href=href, roles=["data"], extra_fields=fields))
    return item


def write_static_catalog(
    folder: str | Path,
    collections: Mapping[str, Sequence[pystac.Item]],
    *,
    catalog_id: str = "test-catalog",
    extra_fields: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-contained static catalog with one collection per key.

    Returns the path of the root ``catalog.json``.
    """
    root = pystac.Catalog(id=catalog_id, description="test catalog")
    if extra_fields:
        root.extra_fields.update(extra_fields)
    for cid, items in collections.items():
        clones = [i.clone() for i in items]
        collection = pystac.Collection(
            id=cid,
            description=f"test collection {cid}",
            extent=pystac.Extent.from_items(clones),
            license="CC0-1.0",
        )
        collection.add_items(clones)
        root.add_child(collection)
    folder = Path(folder)
    root.normalize_hrefs(str(folder))
    root.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return folder / "catalog.json"
