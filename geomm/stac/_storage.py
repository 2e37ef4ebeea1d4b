"""GDAL settings for assets on S3-compatible storage, from the STAC storage extension.

Copernicus Data Space items put their assets at ``s3://eodata/...``, say
where that bucket is served in ``storage:schemes`` (item properties) and
which scheme each asset uses in its ``storage:refs``; ``auth:refs`` names
``s3`` when requests must be signed with the user's keys. The extension
(v2, "custom-s3" platform) maps these onto GDAL's ``/vsis3/`` options:
``AWS_S3_ENDPOINT`` is the platform URL's authority, ``AWS_HTTPS`` its
scheme, ``AWS_VIRTUAL_HOSTING`` is ``TRUE`` only with a ``{bucket}``
placeholder, ``AWS_REQUEST_PAYER=requester`` for requester-pays storage,
and ``AWS_NO_SIGN_REQUEST`` is ``NO`` when ``s3`` authentication is
referenced (or the storage is requester-pays: its bill goes to the signer),
else ``YES``. Items on the extension's v1 (Earth Search:
``storage:platform = AWS``, ``storage:region``, ``storage:requester_pays``)
give the region and the requester-pays flag. Credentials themselves are never in an item: GDAL
takes them from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or
``~/.aws/credentials``.

Signed requests carry the user's key id and a signature, so an item may not
choose where they go: an endpoint named in item metadata is used only over
HTTPS and only when it is trusted: AWS's own hosts (``*.amazonaws.com``),
the hosts in the provider profile's ``s3_endpoints`` (CDSE's eodata), and
those the user names in :data:`ENDPOINTS_ENV`. A trusted host is always
reached over HTTPS, whatever scheme the item writes, unless the user's own
entry says ``http://`` (a local test server, a MinIO on the LAN). Any other
endpoint refuses the item (:class:`~geomm.errors.UntrustedStorageError`).
"""

from __future__ import annotations

import fnmatch
import os
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pystac

from geomm._redact import redact_url
from geomm.errors import UntrustedStorageError

__all__ = ["ENDPOINTS_ENV", "s3_read_options", "user_s3_endpoints"]

ENDPOINTS_ENV = "GEOMM_S3_ENDPOINTS"
"""Environment setting: S3 endpoints the user trusts beyond the profile's, comma-separated
(``https://minio.example.org``, ``http://127.0.0.1:9000``; a bare ``host[:port]``
means HTTPS; ``*`` globs in the host)."""

_AWS_HOSTS = ("amazonaws.com", "*.amazonaws.com")
"""AWS's own S3 endpoints: trusted over HTTPS (requests there go to AWS anyway)."""

# pystac migrates Earth Search's storage v1 fields to v2 as it reads each item
# and warns for every item whose https assets name no bucket. Harmless (those
# assets need no storage settings, and s3_read_options reads v1 and v2 alike),
# but it put a warning on the terminal at every search: silenced for that one
# message of that one module.
warnings.filterwarnings(
    "ignore",
    message="Could not parse bucket/account from href",
    category=UserWarning,
    module="pystac.extensions.storage",
)


def user_s3_endpoints() -> tuple[str, ...]:
    """The S3 endpoints the user trusts, from :data:`ENDPOINTS_ENV` (empty if unset).

    Read when a profile maps an item (at planning, in the client): the
    resulting GDAL options travel with each reading task.
    """
    return tuple(e.strip() for e in os.environ.get(ENDPOINTS_ENV, "").split(",") if e.strip())


def s3_read_options(
    item: pystac.Item, asset_key: str, *, trusted_endpoints: Sequence[str] = ()
) -> dict[str, str]:
    """GDAL options to read ``item``'s asset ``asset_key`` from S3-compatible storage.

    Empty for an asset that is not at ``s3://`` or whose item does not
    describe its storage (GDAL's defaults then apply: AWS S3). Malformed
    fields (a provider once published ``storage:refs`` as a string) count as
    absent. Of several schemes, the first that is not requester-pays is used.

    Args:
        item: the item.
        asset_key: which of its assets.
        trusted_endpoints: endpoints besides AWS's that the item may name
            (``host[:port]`` or a URL; ``http://`` allows plain HTTP to that
            host): a profile's ``s3_endpoints`` and :func:`user_s3_endpoints`.

    Raises:
        UntrustedStorageError: the item names an endpoint that is not trusted.
    """
    asset = item.assets.get(asset_key)
    if asset is None or not asset.href.startswith("s3://"):
        return {}
    schemes = item.properties.get("storage:schemes")
    if schemes is None:  # storage extension v1: plain fields on the item or the asset
        return _v1_options({**item.properties, **asset.extra_fields})
    refs = asset.extra_fields.get("storage:refs")
    if not isinstance(schemes, dict) or not isinstance(refs, list):
        return {}
    usable = [schemes[r] for r in refs if isinstance(r, str) and isinstance(schemes.get(r), dict)]
    if not usable:
        return {}
    scheme = next((s for s in usable if not s.get("requester_pays")), usable[0])
    options = _platform_options(scheme)
    if options:
        options["AWS_HTTPS"] = _trusted_https(
            item.id, asset_key, scheme, options, trusted_endpoints
        )
    if isinstance(scheme.get("region"), str):
        options["AWS_REGION"] = scheme["region"]
    if scheme.get("requester_pays") is True:
        options["AWS_REQUEST_PAYER"] = "requester"
    auth = asset.extra_fields.get("auth:refs", item.properties.get("auth:refs"))
    # requester-pays storage bills the signer: it is signed whatever auth:refs says
    signed = (isinstance(auth, list) and "s3" in auth) or scheme.get("requester_pays") is True
    options["AWS_NO_SIGN_REQUEST"] = "NO" if signed else "YES"
    return options


def _v1_options(fields: dict[str, Any]) -> dict[str, str]:
    """Storage extension v1 (Earth Search): AWS region and requester-pays."""
    if fields.get("storage:platform") != "AWS":
        return {}
    options = {}
    if isinstance(fields.get("storage:region"), str):
        options["AWS_REGION"] = fields["storage:region"]
    if fields.get("storage:requester_pays") is True:
        options["AWS_REQUEST_PAYER"] = "requester"
    return options


def _platform_options(scheme: dict[str, Any]) -> dict[str, str]:
    """Endpoint options of a ``custom-s3`` scheme (none for AWS itself)."""
    platform = scheme.get("platform")
    # some published schemes omit "type": a platform URL that is not AWS's own is custom
    if scheme.get("type") == "aws-s3" or not isinstance(platform, str):
        return {}
    if isinstance(scheme.get("region"), str):
        platform = platform.replace("{region}", scheme["region"])
    url = urlsplit(platform)
    host = url.netloc
    virtual = "{bucket}" in host
    if virtual:  # GDAL puts the bucket in front of the endpoint itself
        host = host.replace("{bucket}.", "")
    if not host or "{" in host:
        return {}
    return {
        "AWS_S3_ENDPOINT": host,
        "AWS_HTTPS": "NO" if url.scheme == "http" else "YES",
        "AWS_VIRTUAL_HOSTING": "TRUE" if virtual else "FALSE",
    }


def _trusted_https(
    item_id: str,
    asset_key: str,
    scheme: dict[str, Any],
    options: dict[str, str],
    trusted: Sequence[str],
) -> str:
    """``AWS_HTTPS`` for an endpoint the item names, if trusted (see the module docstring).

    Raises:
        UntrustedStorageError: neither AWS's nor in ``trusted``.
    """
    host = options["AWS_S3_ENDPOINT"].lower()
    for entry in (*_AWS_HOSTS, *trusted):
        url = urlsplit(entry if "://" in entry else f"https://{entry}")
        if url.netloc and fnmatch.fnmatchcase(host, url.netloc.lower()):
            return "NO" if url.scheme == "http" else "YES"
    platform = redact_url(str(scheme.get("platform")))
    plain = " over plain HTTP" if options["AWS_HTTPS"] == "NO" else ""
    raise UntrustedStorageError(
        f"item {item_id!r}: asset {asset_key!r} is on S3 storage at {platform}, an endpoint "
        f"chosen by item metadata{plain} that neither the provider profile nor you trust: "
        "nothing is sent there (requests would carry your S3 key id and signature); if you "
        f"trust it, name it in the {ENDPOINTS_ENV} environment setting ({ENDPOINTS_ENV}={host} "
        f"for HTTPS, or http://{host} to allow plain HTTP) or in the profile's s3_endpoints"
    )
