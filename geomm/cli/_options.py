"""Options several commands share, declared once so their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geomm.errors import OptionError

__all__ = [
    "DEFAULT_MAX_SIZE_TEXT",
    "AllowOutsideOption",
    "AoiOption",
    "CatalogOption",
    "EndOption",
    "MaxCloudOption",
    "MaxSizeOption",
    "SchedulerOption",
    "StartOption",
    "max_size_bytes",
    "split_commas",
]

AoiOption = Annotated[Path, typer.Option("--aoi", help="GeoJSON file of the area of interest.")]
StartOption = Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD (inclusive).")]
EndOption = Annotated[str, typer.Option("--end", help="Last day, YYYY-MM-DD (inclusive).")]
CatalogOption = Annotated[
    str, typer.Option("--catalog", "-c", help="Provider, STAC API URL or catalog path.")
]
MaxCloudOption = Annotated[
    float | None, typer.Option("--max-cloud", help="Drop S2 scenes cloudier than this %.")
]

SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster."),
]

AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-catalog",
        help="A local catalog you trust may reference files outside its folder (and GDAL "
        "/vsi paths). A STAC API's items may never reference local files.",
    ),
]

MaxSizeOption = Annotated[
    str,
    typer.Option(
        "--max-size",
        help="Refuse a cube larger than this, uncompressed (e.g. 200GB, 1TB; 'none': no "
        "limit). Checked from the plan before any pixel is read.",
    ),
]
DEFAULT_MAX_SIZE_TEXT = "50GB"


def max_size_bytes(text: str) -> int | None:
    """``--max-size`` in bytes (None: no limit); OptionError in its own words otherwise."""
    from geomm.cube import parse_size

    try:
        return parse_size(text)
    except OptionError as e:
        raise OptionError(f"--max-size: {e}") from None


def split_commas(values: list[str] | None) -> list[str]:
    """A repeatable, comma-separated option as one list (``-x a,b -x c`` -> a, b, c)."""
    return [v.strip() for arg in values or [] for v in arg.split(",") if v.strip()]
