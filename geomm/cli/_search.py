"""``geomm search``: the scenes a cube would be built from, as a table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from geomm.cli._console import out, say
from geomm.cli._options import (
    AllowOutsideOption,
    AoiOption,
    EndOption,
    StartOption,
    split_commas,
)

if TYPE_CHECKING:
    from pystac import Item

    from geomm.stac import SearchResult

__all__ = ["search_command"]


def search_command(
    aoi: AoiOption,
    start: StartOption,
    end: EndOption,
    catalog: Annotated[
        str,
        typer.Option(
            "--catalog",
            "-c",
            help="planetary-computer | earth-search | cdse | sample | STAC API URL | "
            "catalog.json path.",
        ),
    ] = "sample",
    collections: Annotated[
        list[str] | None,
        typer.Option(
            "--collections",
            help="Collection id (repeat or comma-separate). Default: the profile's "
            "geocoded S1/S2 collections.",
        ),
    ] = None,
    max_cloud: Annotated[
        float | None, typer.Option("--max-cloud", help="Largest eo:cloud_cover, percent.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Most items to return.")] = None,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the items as a GeoJSON ItemCollection."),
    ] = None,
    allow_outside_catalog: AllowOutsideOption = False,
) -> None:
    """Search Sentinel-1/2 scenes over an AOI in a STAC API or local catalog."""
    from geomm.aoi import read_aoi
    from geomm.stac import search, write_items

    wanted = split_commas(collections)
    result = search(
        catalog,
        aoi=read_aoi(aoi),
        start=start,
        end=end,
        collections=wanted or None,
        max_cloud=max_cloud,
        limit=limit,
        allow_outside_catalog=allow_outside_catalog,
    )
    out.print(_items_table(result))
    summary = f"{len(result)} item(s) from {result.source.label}"
    if result.skipped_cloudy:
        summary += f"; {result.skipped_cloudy} skipped as cloudier than {max_cloud:g}%"
    if out_path is not None:
        written = write_items(result, out_path)
        summary += f"; written to {written}"
    say(summary)


def _items_table(result: SearchResult) -> Table:
    """One row per item: what tells scenes apart when choosing dates."""
    table = Table(title=f"{result.source.label}: {', '.join(result.query.collections)}")
    for name in ("id", "collection", "datetime (UTC)", "cloud %", "orbit", "CRS"):
        table.add_column(name, justify="right" if name == "cloud %" else "left", overflow="fold")
    for item in result.items:
        p = item.properties
        cloud = p.get("eo:cloud_cover")
        orbit = " ".join(
            str(v) for v in (p.get("sat:orbit_state"), p.get("sat:relative_orbit")) if v is not None
        )
        table.add_row(
            item.id,
            item.collection_id or "",
            _when(item),
            "" if cloud is None else f"{float(cloud):.1f}",
            orbit,
            _crs(item),
        )
    return table


def _when(item: Item) -> str:
    moment: datetime | None = item.datetime or item.common_metadata.start_datetime
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _crs(item: Item) -> str:
    fields: dict[str, Any]
    for fields in (item.properties, *(a.extra_fields for a in item.assets.values())):
        if code := fields.get("proj:code"):
            return str(code)
        if epsg := fields.get("proj:epsg"):
            return f"EPSG:{epsg}"
    return ""
