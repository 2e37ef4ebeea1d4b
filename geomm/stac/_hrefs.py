"""Which asset hrefs a catalog's items may have: the one check, at the search.

geomm opens every asset href it is given with GDAL, which reads local files,
``file://`` URLs and its own virtual file systems (``/vsicurl/``,
``/vsizip/``, ...) as readily as web addresses. So an item is only as
trustworthy as the catalog that served it:

* items from a STAC API (http or https) may only reference assets on the
  web or in object storage (:data:`REMOTE_SCHEMES`); a local path, a
  ``file://`` URL or a ``/vsi...`` path from an API is refused, always: no
  argument lets a server choose files on the user's disk;
* items of a local catalog may reference those, and local files inside the
  catalog's own folder (symbolic links and ``..`` resolved, ``%2e%2e``
  decoded); files elsewhere, ``file://`` URLs naming another host, Windows
  drive or UNC paths (on POSIX), other rasterio schemes (``zip+file://``)
  and GDAL's ``/vsi...`` paths only when the user says the catalog is
  trusted (``allow_outside_catalog=True``).

The search (:func:`geomm.stac.search`) applies this to every asset of every
item it returns, because only it knows where the items came from: an item's
own links are written by whoever served it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pystac

from geomm._redact import redact_url
from geomm.errors import UntrustedHrefError

if TYPE_CHECKING:  # _catalog imports the profiles, which take asset_href from here
    from geomm.stac._catalog import CatalogSource

__all__ = ["REMOTE_SCHEMES", "HrefPolicy", "asset_href", "check_item_hrefs"]

REMOTE_SCHEMES = ("http", "https", "s3", "gs", "az", "abfs", "abfss")
"""URL schemes any catalog's items may use: the web and object storage
(``abfs``/``abfss``: Azure, as Planetary Computer's collections name their
GeoParquet)."""

_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
"""A Windows drive path (``C:\\data``, ``C:/data``)."""


@dataclass(frozen=True)
class HrefPolicy:
    """The hrefs one catalog's items may have (see the module docstring)."""

    where: str
    """The catalog, as messages name it (a URL already redacted, or a path)."""
    catalog_dir: Path | None
    """Folder of a local catalog, resolved; None for a STAC API."""
    allow_outside_catalog: bool = False
    """A local catalog may reference any local file or GDAL path (the user trusts it)."""

    @classmethod
    def for_source(
        cls, source: CatalogSource, *, allow_outside_catalog: bool = False
    ) -> HrefPolicy:
        """The policy for the items of ``source``: an API's, or a local catalog's folder."""
        if source.url is not None:
            return cls(where=f"STAC API {redact_url(source.url)}", catalog_dir=None)
        folder = Path(str(source.path)).expanduser().resolve().parent
        return cls(
            where=f"local catalog {str(folder)!r}",
            catalog_dir=folder,
            allow_outside_catalog=allow_outside_catalog,
        )


def asset_href(asset: pystac.Asset) -> str:
    """The href geomm reads for ``asset``: absolute, resolved against its item.

    One definition for the check and for the profile's band mapping, so the
    href that was checked is the href that is read.
    """
    return asset.get_absolute_href() or asset.href


def check_item_hrefs(item: pystac.Item, policy: HrefPolicy) -> None:
    """Refuse ``item`` when one of its assets' hrefs breaks ``policy``.

    Raises:
        UntrustedHrefError: names the item, the asset, the href (redacted),
            the rule and the fix.
    """
    for key, asset in item.assets.items():
        # the href as resolved against the item's (server-written) self link, and
        # as written, unless relative: readers use one or the other (odc-stac may
        # take the raw href; an API's "/etc/passwd" resolves to an http URL)
        hrefs = [asset_href(asset)]
        if not _relative(asset.href):
            hrefs.append(asset.href)
        for href in hrefs:
            if problem := href_problem(href, policy):
                shown = redact_url(href)
                raise UntrustedHrefError(
                    f"item {item.id!r} of {policy.where}: asset {key!r} has href {shown!r}, "
                    f"{problem}"
                )


def href_problem(href: str, policy: HrefPolicy) -> str | None:
    """Why ``href`` may not be read under ``policy`` (rule and fix), or None."""
    text = href.strip()
    kind, path = _classify(text)
    if kind == "remote":
        return None
    if policy.catalog_dir is None:  # a STAC API: remote assets only
        return (
            f"which is {kind}; items from a STAC API may only reference "
            f"{', '.join(s + '://' for s in REMOTE_SCHEMES[:5])} assets, so the item is refused "
            "(a server may not choose files on this machine): ask the API's provider to fix it"
        )
    if policy.allow_outside_catalog:
        return None
    trust = "or pass allow_outside_catalog=True if you trust this catalog"
    if path is None:
        return (
            f"which is {kind}; a local catalog's assets must be files inside its folder "
            f"{str(policy.catalog_dir)!r} or web/object-storage URLs: fix the href, {trust}"
        )
    if not all(_inside(p, policy.catalog_dir) for p in {path, unquote(path)}):
        return (
            f"a file outside the catalog's folder {str(policy.catalog_dir)!r} "
            "(after resolving '..' and symbolic links): move the file into the folder, "
            f"{trust}"
        )
    return None


def _classify(href: str) -> tuple[str, str | None]:
    """(what the href is, its local path or None): ``remote``, ``a local file``, ...

    The local path is only given for plain paths and ``file:`` URLs of this
    machine, the only local hrefs a folder check can vouch for.
    """
    if href.lower().startswith("/vsi") or unquote(href).lower().startswith("/vsi"):
        return "a GDAL virtual file system path", None
    if sys.platform != "win32" and (_DRIVE.match(href) or href.startswith("\\\\")):
        return "a Windows path", None
    if sys.platform == "win32" and (_DRIVE.match(href) or href.startswith("\\\\")):
        return "a local file", str(PureWindowsPath(href))
    try:
        parts = urlsplit(href)
    except ValueError:
        return "not a valid URL", None
    scheme = parts.scheme.lower()
    if scheme in REMOTE_SCHEMES:
        return "remote", None
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc.lower() not in ("", "localhost"):
            return f"a file:// URL on host {parts.netloc!r}", None
        if path.lower().startswith("/vsi"):
            return "a GDAL virtual file system path", None
        return "a local file (file://)", path
    if scheme:
        return f"a {scheme}:// URL", None
    return "a local file", href


def _relative(href: str) -> bool:
    """A relative path (``B04.tif``, ``../x.tif``): meaningful only against its item."""
    text = href.strip()
    if text.startswith(("/", "\\")) or _DRIVE.match(text):
        return False
    try:
        return not urlsplit(text).scheme
    except ValueError:
        return False


def _inside(path: str, folder: Path) -> bool:
    """Whether ``path``, with ``..`` and symbolic links resolved, lies in ``folder``."""
    try:
        return Path(path).resolve().is_relative_to(folder)  # relative: to the cwd, as GDAL
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: not vouched for
        return False
