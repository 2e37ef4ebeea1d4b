"""Resolve a ``catalog`` argument into something searchable.

``planetary-computer`` / ``pc``, ``earth-search``, ``cdse``, a STAC API URL,
a local ``catalog.json`` / ``collection.json`` (or a folder holding one), a
profile ``.toml``, or the name of a catalog another package provides
(``sample``, see :mod:`geomm.stac._registry`) all become a
:class:`CatalogSource`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from geomm._redact import redact_text, redact_url
from geomm.errors import CatalogError, GeommError
from geomm.stac._profile_files import list_profiles, load_profile
from geomm.stac._profiles import Profile
from geomm.stac._registry import (
    ENTRY_POINT_GROUP,
    CatalogResolver,
    catalog_resolver,
    registered_catalogs,
)

__all__ = ["PROFILE_KEY", "CatalogSource", "resolve_catalog"]

PROFILE_KEY = "geomm:profile"
"""Root-catalog field through which a static catalog names its profile."""


@dataclass(frozen=True)
class CatalogSource:
    """A searchable catalog: a STAC API (``url``) or a static catalog (``path``)."""

    profile: Profile
    """Rules that map this catalog's items onto canonical bands."""
    url: str | None = None
    """STAC API root, searched through pystac-client."""
    path: Path | None = None
    """Static catalog/collection JSON, searched locally."""

    def __post_init__(self) -> None:
        if (self.url is None) == (self.path is None):
            raise ValueError("a CatalogSource has exactly one of url or path")

    @property
    def label(self) -> str:
        """Short text for tables and messages (a URL's credentials redacted)."""
        where = redact_url(self.url) if self.url else str(self.path)
        return self.profile.name if self.profile.name != "generic" else where


def resolve_catalog(spec: str | Path | CatalogSource) -> CatalogSource:
    """Turn a provider name, URL or path into a :class:`CatalogSource`.

    The name of a catalog another package provides (``sample``; see
    :func:`geomm.stac.register_catalog`) resolves to the path its resolver
    returns, with the profile of the same name when there is one.

    Raises:
        CatalogError: the spec is none of the accepted forms.
    """
    if isinstance(spec, CatalogSource):
        return spec
    text = str(spec).strip()
    if not text:
        raise CatalogError("catalog is empty; name a provider, a STAC API URL or a path")
    if text.startswith(("http://", "https://")):
        return CatalogSource(profile=_profile_for_url(text), url=text.rstrip("/"))
    path = Path(text).expanduser()
    if path.suffix == ".toml" and path.exists():
        return _from_profile(load_profile(path))
    if path.exists():
        return _static(path)
    try:
        profile = load_profile(text)
    except CatalogError:
        resolver = catalog_resolver(text)
        if resolver is None:
            raise CatalogError(
                f"unknown catalog {redact_text(text)!r}: not a provider ({', '.join(_names())}), "
                "not an http(s) STAC API URL, and no such file or folder"
            ) from None
        return _static(_resolved(text, resolver))
    return _from_profile(profile)


def _names() -> list[str]:
    profiles = {n for n in list_profiles() if n != "generic"}
    return sorted(profiles | set(registered_catalogs()))


def _from_profile(profile: Profile) -> CatalogSource:
    if profile.url:
        return CatalogSource(profile=profile, url=profile.url)
    resolver = catalog_resolver(profile.name)
    if resolver is not None:  # a package provides it (the sample: geomm.sample builds it)
        return CatalogSource(profile=profile, path=_resolved(profile.name, resolver))
    if profile.path:
        base = Path(profile.source).parent
        return CatalogSource(profile=profile, path=_catalog_file(base / profile.path))
    raise CatalogError(
        f"profile {profile.name!r} names neither a url nor a path, and no installed package "
        f"provides a catalog of that name (entry-point group {ENTRY_POINT_GROUP})"
    )


def _resolved(name: str, resolver: CatalogResolver) -> Path:
    """The catalog file a registered resolver points at, checked like a user's path.

    A resolver's own errors (the sample's :class:`~geomm.errors.SampleDataError`)
    pass through; anything else it raises is a fault of the providing package,
    reported as a :class:`CatalogError` that names the catalog.
    """
    try:
        where = resolver()
    except GeommError:
        raise
    except Exception as e:
        raise CatalogError(
            f"the package providing catalog {name!r} failed to resolve it: {type(e).__name__}: {e}"
        ) from e
    return _catalog_file(Path(where))


def _profile_for_url(url: str) -> Profile:
    wanted = url.rstrip("/")
    for name in list_profiles():
        profile = load_profile(name)
        if profile.url and profile.url.rstrip("/") == wanted:
            return profile
    return load_profile("generic")


def _static(path: Path) -> CatalogSource:
    file = _catalog_file(path)
    try:
        root = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CatalogError(f"cannot read STAC catalog {str(file)!r}: {e}") from e
    if not isinstance(root, dict) or root.get("type") not in ("Catalog", "Collection"):
        raise CatalogError(
            f"{str(file)!r} is not a STAC Catalog or Collection (type={root.get('type')!r})"
            if isinstance(root, dict)
            else f"{str(file)!r} is not a STAC Catalog or Collection"
        )
    profile = load_profile(root.get(PROFILE_KEY) or "generic")
    return CatalogSource(profile=profile, path=file)


def _catalog_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (path / name).is_file():
                return path / name
        raise CatalogError(f"folder {str(path)!r} holds no catalog.json or collection.json")
    if not path.is_file():
        raise CatalogError(f"catalog {str(path)!r} does not exist")
    return path
