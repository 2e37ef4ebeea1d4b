"""Offline validation of STAC documents and Cloud-Optimized GeoTIFFs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["assert_valid_cog", "assert_valid_stac"]

_CORE = {
    "Feature": "item",
    "Catalog": "catalog",
    "Collection": "collection",
}


def assert_valid_stac(doc: dict[str, Any] | str | Path) -> None:
    """Validate a STAC Item, Catalog or Collection against the core schema.

    Uses the schemas shipped inside pystac (no network). Extension schemas are
    remote, so extension fields a caller relies on must be checked by the
    caller's own tests.

    Raises:
        AssertionError: naming the document and the first schema violation.
    """
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match
    from pystac.validation.local_validator import VERSION, get_local_schema_cache
    from referencing import Registry, Resource

    if not isinstance(doc, dict):
        return assert_valid_stac(json.loads(Path(doc).read_text()))
    kind = _CORE.get(doc.get("type", ""))
    if kind is None:
        raise AssertionError(f"not a STAC document: type={doc.get('type')!r}")
    if doc.get("stac_version") != VERSION:
        raise AssertionError(
            f"{doc.get('id')!r}: stac_version {doc.get('stac_version')!r}, "
            f"pystac ships core schemas for {VERSION} only"
        )
    cache = get_local_schema_cache()
    registry: Registry = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in cache.items()
    )
    uri = f"https://schemas.stacspec.org/v{VERSION}/{kind}-spec/json-schema/{kind}.json"
    validator = Draft7Validator(cache[uri], registry=registry)
    errors = list(validator.iter_errors(doc))
    if errors:
        worst = best_match(errors)
        while worst.context:  # descend into oneOf/anyOf to the real violation
            worst = best_match(worst.context)
        path = "/".join(map(str, worst.absolute_path))
        raise AssertionError(
            f"{doc.get('id')!r} is not a valid STAC {kind}: {worst.message[:300]} "
            f"(at /{path}); {len(errors)} error(s) in all"
        )


def assert_valid_cog(path: str | Path) -> None:
    """Check that ``path`` is a valid Cloud-Optimized GeoTIFF (rio-cogeo)."""
    from rio_cogeo.cogeo import cog_validate

    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise AssertionError(f"{path} is not a valid COG: {'; '.join(errors)}")
