"""Static catalogs that other packages provide, found by name.

geomm.stac resolves ``catalog="sample"`` (``--catalog sample``) without
knowing what builds that catalog: the bundled sample lives in a higher layer
(:mod:`geomm.sample`, which generates its synthetic part on first use) and a
third-party package may provide catalogs of its own. Either registers a
*resolver*, a callable taking no arguments that returns the path of the
catalog's root ``catalog.json`` (building it first if need be):

* in-process, with :func:`register_catalog`; or
* declared in the package's metadata, under the entry-point group
  ``geomm.catalogs``, so that nobody has to import the package first::

      [project.entry-points."geomm.catalogs"]
      sample = "geomm.sample:sample_catalog"

A name nobody registered in-process is looked up among the entry points
when it is first asked for, and its resolver imported then: a search of a
STAC API never imports the sample generator.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable

from geomm.errors import CatalogError

__all__ = ["ENTRY_POINT_GROUP", "CatalogResolver", "registered_catalogs", "register_catalog"]

ENTRY_POINT_GROUP = "geomm.catalogs"
"""Entry-point group in which packages declare the catalogs they provide."""

CatalogResolver = Callable[[], "str | os.PathLike[str]"]
"""Returns the root ``catalog.json`` (or a folder holding it) of one catalog."""

_resolvers: dict[str, CatalogResolver] = {}
"""Resolvers registered in this process, or loaded from an entry point once asked for."""


def register_catalog(name: str, resolver: CatalogResolver) -> None:
    """Make ``resolve_catalog(name)`` find the catalog that ``resolver`` returns.

    When a provider profile of the same name exists (``catalogs/<name>.toml``),
    it still decides how the items map onto canonical bands; otherwise the
    root catalog names its profile in its ``geomm:profile`` field. A later
    registration of the same name replaces the earlier one.

    Args:
        name: what users pass as ``catalog=``; not a URL, not empty.
        resolver: called with no arguments on each resolution.

    Raises:
        CatalogError: the name is empty or looks like a URL, or ``resolver`` is
            not callable.
    """
    if not name or name != name.strip() or "://" in name:
        raise CatalogError(f"a registered catalog needs a plain name, got {name!r}")
    if not callable(resolver):
        raise CatalogError(f"the resolver of catalog {name!r} is not callable: {resolver!r}")
    _resolvers[name] = resolver


def registered_catalogs() -> tuple[str, ...]:
    """Names registered in-process or declared in the ``geomm.catalogs`` group, sorted."""
    declared = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return tuple(sorted(declared | set(_resolvers)))


def catalog_resolver(name: str) -> CatalogResolver | None:
    """The resolver registered under ``name``, loading its entry point on first use.

    Raises:
        CatalogError: the entry point fails to import or is not callable.
    """
    if name in _resolvers:
        return _resolvers[name]
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    ep = next(iter(sorted(found, key=lambda e: e.value)), None)
    if ep is None:
        return None
    try:
        resolver = ep.load()
    except Exception as e:  # any import failure inside the providing package
        raise CatalogError(
            f"catalog {name!r} ({ep.value}, entry-point group {ENTRY_POINT_GROUP}) failed to "
            f"import: {type(e).__name__}: {e}"
        ) from e
    if not callable(resolver):
        raise CatalogError(f"entry point {name!r} ({ep.value}) is not callable: {resolver!r}")
    _resolvers.setdefault(name, resolver)  # an import may have registered it meanwhile
    return _resolvers[name]
