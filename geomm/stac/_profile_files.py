"""Reading provider profiles: ``catalogs/<provider>.toml`` into :class:`Profile` records.

The shipped profiles sit in :func:`geomm._resources.catalogs_dir`; a user's
own profile is any ``.toml`` of the same form, passed by path.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from geomm._resources import catalogs_dir
from geomm.errors import CatalogError
from geomm.stac._profiles import CollectionRule, Profile

__all__ = ["list_profiles", "load_profile"]


def list_profiles() -> tuple[str, ...]:
    """Names of the provider profiles shipped in ``catalogs/``."""
    return tuple(sorted(p.stem for p in catalogs_dir().glob("*.toml")))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name or alias (``pc``), or from a ``.toml`` path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise CatalogError(f"profile file {str(path)!r} does not exist")
        return _parse_profile(path)
    wanted = str(name_or_path).lower()
    for candidate in sorted(catalogs_dir().glob("*.toml")):
        profile = _parse_profile(candidate)
        if wanted == profile.name or wanted in profile.aliases:
            return profile
    raise CatalogError(
        f"unknown provider profile {str(name_or_path)!r}; known: {list(list_profiles())} "
        "(or pass a STAC API URL, a catalog.json path or a profile .toml)"
    )


def _parse_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CatalogError(f"cannot read provider profile {str(path)!r}: {e}") from e
    try:
        rules = tuple(
            _parse_rule(pattern, table) for pattern, table in data.get("collections", {}).items()
        )
        return Profile(
            name=data["name"],
            title=data.get("title", data["name"]),
            url=data.get("url"),
            path=data.get("path"),
            aliases=tuple(data.get("aliases", ())),
            signing=data.get("signing", "none"),
            rules=rules,
            source=str(path),
            s3_endpoints=tuple(data.get("s3_endpoints", ())),
        )
    except KeyError as e:
        raise CatalogError(f"provider profile {str(path)!r} lacks the key {e}") from e


def _parse_rule(pattern: str, table: dict[str, Any]) -> CollectionRule:
    bands = {
        band: (keys,) if isinstance(keys, str) else tuple(keys)
        for band, keys in table.get("bands", {}).items()
    }
    nodata = table.get("nodata")
    return CollectionRule(
        pattern=pattern,
        sensor=table["sensor"],
        bands=bands,
        geocoded=table.get("geocoded", True),
        units=table.get("units"),
        nodata=float(nodata) if nodata is not None else None,
        scale=float(table.get("scale", 1.0)),
        offset_source=table.get("offset_source"),
        offset_applied_flag=table.get("offset_applied_flag"),
    )
