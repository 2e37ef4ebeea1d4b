"""Resolve what the user typed after ``--catalog`` into something searchable.

``planetary-computer`` / ``pc``, ``earth-search``, ``cdse``, ``sample``, a
STAC API URL, a local ``catalog.json`` / ``collection.json`` (or a folder
holding one), or a profile ``.toml`` all become a :class:`CatalogSource`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from geomm._redact import redact_text, redact_url
from geomm.errors import CatalogError
from geomm.stac._profiles import Profile, list_profiles, load_profile

__all__ = ["CatalogSource", "resolve_catalog"]

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

    Raises:
        CatalogError: the spec is none of the accepted forms.
    """
    if isinstance(spec, CatalogSource):
        return spec
    text = str(spec).strip()
    if not text:
        raise CatalogError("--catalog is empty; name a provider, a STAC API URL or a path")
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
        raise CatalogError(
            f"unknown catalog {redact_text(text)!r}: not a provider ({', '.join(_names())}), "
            "not an http(s) STAC API URL, and no such file or folder"
        ) from None
    return _from_profile(profile)


def _names() -> list[str]:
    return [n for n in list_profiles() if n != "generic"]


def _from_profile(profile: Profile) -> CatalogSource:
    if profile.url:
        return CatalogSource(profile=profile, url=profile.url)
    if profile.path == "sample":
        from geomm.sample import sample_catalog  # builds the synthetic part on first use

        return CatalogSource(profile=profile, path=sample_catalog())
    if profile.path:
        base = Path(profile.source).parent
        return CatalogSource(profile=profile, path=_catalog_file(base / profile.path))
    raise CatalogError(f"profile {profile.name!r} names neither a url nor a path")


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
