"""GDAL settings around the reader's opens and reads, and why each is there.

They are defaults: a setting the user made, in the environment or in an
active ``rasterio.Env``, wins, so a site's own GDAL configuration (a proxy's
timeouts, a larger cache) is kept. They travel with each reading task, so
Dask workers on other machines read with them too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext

import rasterio.env
from rasterio.env import Env

__all__ = ["CACHE_MB", "READ_OPTIONS", "credentials_hint", "reader_env", "source_env"]

CACHE_MB = 32
"""GDAL's cache of decoded COG tiles, per process. A task reads each window
once (``GeommReader.read_block``), so the cache only needs the tiles of the
reads in flight; a small one recycles its blocks, while a large one keeps touching
fresh memory (page faults cost more here than the decoding they save:
docs/benchmarks.md)."""

READ_OPTIONS: dict[str, str | int] = {
    # rasterio takes GDAL_CACHEMAX as an integer in bytes (GDAL's own "32"
    # would mean megabytes; through rasterio it means 32 bytes: no cache).
    "GDAL_CACHEMAX": CACHE_MB * 2**20,
    # The reader takes each asset's grid from its STAC item (``proj:*``, or
    # from the header read once at planning time), not from the handle it
    # reads with, yet rasterio has GDAL build the file's CRS at every open; by
    # default (AUTO) GDAL builds it from the GeoTIFF keys *and* from PROJ's
    # EPSG database and compares the two, a large share of an open's time.
    # GEOKEYS builds it from the keys alone (rasterio still reports the EPSG
    # code), saving that work at every open (docs/benchmarks.md).
    "GTIFF_SRS_SOURCE": "GEOKEYS",
    # No directory listing and no probing for sidecar files (.aux.xml, .msk,
    # ...) at open: over HTTP that was 10 extra requests per open (12 against
    # 2, counted on a local server), each a round trip to the provider. The
    # reader takes nodata and grids from STAC, so sidecars would go unused.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # Providers throttle and hiccup (HTTP 429, 502-504): retry, with GDAL's
    # growing delay, instead of failing the block on the first refusal.
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "1",
    # The tiles of one window: consecutive byte ranges merged into one request,
    # the others fetched in parallel (GDAL 3.x's defaults, stated here so the
    # reader does not depend on them).
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
}
"""What the reader sets around its reads (see the comments for why)."""


def reader_env() -> Env:
    """A ``rasterio.Env`` with :data:`READ_OPTIONS`, less those the user set."""
    return _defaults(READ_OPTIONS)


def source_env(options: Iterable[tuple[str, str]]) -> AbstractContextManager[object]:
    """The settings one asset's storage needs, less those the user set.

    ``options`` come from ``geomm.stac.s3_read_options``; an asset that needs
    none gets nothing to enter (local files and HTTP: no per-read cost).
    """
    settings = dict(options)
    return _defaults(settings) if settings else nullcontext()


def credentials_hint(href: str, options: Iterable[tuple[str, str]], reason: str) -> str | None:
    """What to do when an S3 read failed for want of (valid) keys, else None."""
    if not href.startswith("s3://") or not ("AWS_" in reason or "403" in reason):
        return None
    where = dict(options).get("AWS_S3_ENDPOINT", "AWS S3")
    return (
        f"Reading it needs S3 keys for {where}: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials; Copernicus Data Space issues them at "
        "https://eodata-s3keysmanager.dataspace.copernicus.eu), then rerun with --resume; "
        "finished blocks are kept"
    )


def _defaults(options: Mapping[str, str | int]) -> Env:
    user = set(os.environ)
    if rasterio.env.hasenv():
        user |= set(rasterio.env.getenv())
    return Env(**{k: v for k, v in options.items() if k not in user})
