"""Search a STAC API or a static catalog with the same query semantics.

An API gets the query through pystac-client (``intersects`` with the AOI
polygon, a closed datetime interval); a static catalog is walked locally with
the same rules: the AOI *polygon* must intersect the item footprint (not just
its bbox), and an item matches when its [start, end] time span overlaps the
query interval. Cloud cover is filtered client-side in both cases, because
not every API has the query extension. Results are sorted by (datetime, id),
so the two paths can be compared item for item.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pystac
import shapely
from shapely.geometry import shape

from geomm._outputs import SIGNATURE, check_replaceable
from geomm._redact import redact_text, redact_url
from geomm.aoi import Aoi, split_antimeridian
from geomm.errors import CatalogError, EmptyResultError, SearchError
from geomm.stac._catalog import CatalogSource, resolve_catalog
from geomm.stac._hrefs import HrefPolicy, asset_href, check_item_hrefs

if TYPE_CHECKING:
    from pystac_client.stac_api_io import StacApiIO

__all__ = ["SearchQuery", "SearchResult", "parse_datetime", "search", "write_items"]

log = logging.getLogger(__name__)

DateLike = str | dt.date | dt.datetime


@dataclass(frozen=True)
class SearchQuery:
    """A normalized search: collections, area, closed UTC interval, cloud limit."""

    collections: tuple[str, ...]
    """Collection ids to search."""
    aoi: Aoi
    """Area the item footprints must intersect."""
    start: dt.datetime
    """Start of the interval (inclusive, UTC)."""
    end: dt.datetime
    """End of the interval (inclusive, UTC); a date means the end of that day."""
    max_cloud: float | None = None
    """Largest ``eo:cloud_cover`` (percent) kept; items without the field are kept."""
    limit: int | None = None
    """Stop after this many matching items (None: all)."""

    def __post_init__(self) -> None:
        if not self.collections:
            raise CatalogError("no collections to search; name them in collections=")
        if self.end < self.start:
            raise CatalogError(
                f"end is before start ({self.end:%Y-%m-%d} < {self.start:%Y-%m-%d}); swap them"
            )
        if self.max_cloud is not None and not 0 <= self.max_cloud <= 100:
            raise CatalogError(f"max_cloud must be within 0..100 percent, got {self.max_cloud}")
        if self.limit is not None and self.limit < 1:
            raise CatalogError(f"limit must be >= 1, got {self.limit}")

    @property
    def datetime_range(self) -> str:
        """RFC 3339 interval as STAC APIs expect it."""
        return f"{_rfc3339(self.start)}/{_rfc3339(self.end)}"


@dataclass(frozen=True)
class SearchResult:
    """Items found, with the catalog and query that found them."""

    items: pystac.ItemCollection
    source: CatalogSource
    query: SearchQuery
    skipped_cloudy: int = 0
    """Items dropped by ``max_cloud``."""
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.items.items)


def search(
    catalog: str | Path | CatalogSource,
    *,
    aoi: Aoi,
    start: DateLike,
    end: DateLike,
    collections: Sequence[str] | None = None,
    max_cloud: float | None = None,
    limit: int | None = None,
    allow_empty: bool = False,
    allow_outside_catalog: bool = False,
    client: Any = None,
) -> SearchResult:
    """Search ``catalog`` for items over ``aoi`` between ``start`` and ``end``.

    Args:
        catalog: provider name, STAC API URL, static catalog path or a resolved source.
        aoi: area of interest (see :func:`geomm.aoi.read_aoi`).
        start: first day (or instant) of the interval, inclusive.
        end: last day (or instant), inclusive.
        collections: collection ids; default: the profile's geocoded collections.
        max_cloud: largest ``eo:cloud_cover`` in percent.
        limit: most items to return.
        allow_empty: return an empty result instead of raising.
        allow_outside_catalog: a local catalog's items may reference files
            outside its folder and GDAL ``/vsi...`` paths (a catalog you
            trust). Items from a STAC API may never reference local files.
        client: a ``pystac_client.Client`` to use instead of opening the URL
            (tests, custom auth or ``stac_io``).

    Raises:
        EmptyResultError: nothing matched and ``allow_empty`` is false.
        SearchError: the API could not be reached or answered with an error.
        UntrustedHrefError: a found item references an asset its catalog may
            not choose (see :mod:`geomm.stac._hrefs`).
    """
    source = resolve_catalog(catalog)
    query = SearchQuery(
        collections=tuple(collections or source.profile.default_collections()),
        aoi=aoi,
        start=parse_datetime(start, end_of_day=False),
        end=parse_datetime(end, end_of_day=True),
        max_cloud=max_cloud,
        limit=limit,
    )
    found = _api_items(source, query, client) if source.url else _static_items(source, query)
    matches = _matching(found, query)
    kept, cloudy = matches.items, matches.cloudy
    policy = HrefPolicy.for_source(source, allow_outside_catalog=allow_outside_catalog)
    for item in kept:  # what geomm may read: every asset of every item it hands on
        check_item_hrefs(item, policy)
    if not kept and not allow_empty:
        raise EmptyResultError(_empty_message(source, query, cloudy))
    return SearchResult(
        items=pystac.ItemCollection(kept, clone_items=False),
        source=source,
        query=query,
        skipped_cloudy=cloudy,
    )


def write_items(result: SearchResult, path: str | Path) -> Path:
    """Write the found items as a GeoJSON ItemCollection, atomically.

    Asset hrefs are made absolute, so the file stays usable wherever it is
    moved; a crash never leaves a half-written file under ``path``.
    """
    out = check_replaceable(path, what="item list")
    out.parent.mkdir(parents=True, exist_ok=True)
    features = []
    for item in result.items:
        d = item.to_dict(include_self_link=False, transform_hrefs=False)
        for key, asset in item.assets.items():
            d["assets"][key]["href"] = asset_href(asset)
        d["links"] = [
            link for link in d.get("links", []) if link.get("rel") not in ("root", "parent")
        ]
        features.append(d)
    # a foreign member near the top: a later search may replace this file, and only this
    doc = {"type": "FeatureCollection", "generator": SIGNATURE, "features": features}
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def parse_datetime(value: DateLike, *, end_of_day: bool) -> dt.datetime:
    """A timezone-aware UTC datetime from a date, a datetime or an ISO string.

    A bare date means its first instant, or its last with ``end_of_day``.
    Naive datetimes are taken as UTC.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = _day_edge(value, end_of_day)
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                moment = _day_edge(dt.date.fromisoformat(text), end_of_day)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CatalogError(
                f"cannot read date {text!r}; use YYYY-MM-DD or an ISO 8601 datetime "
                "such as 2024-06-01T10:30:00Z"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# --------------------------------------------------------------------------- back ends


API_TIMEOUT = (10.0, 120.0)
"""Seconds to connect to a STAC API and to wait for each answer: a search that
stalls says so instead of hanging, while a healthy API answers a page well within it."""
API_RETRIES = 5
"""Tries again after HTTP 429, 500, 502, 503 or 504, honouring ``Retry-After``,
with growing pauses (none, then 1, 2, 4, 8 s): public APIs throttle and hiccup
under load. A refused or failed connection, or a timed-out answer, is tried
once more only, so a wrong URL still fails fast."""
API_BACKOFF = 0.5


def _api_io() -> StacApiIO:
    """pystac-client's I/O with a timeout and retries on HTTP errors.

    Its default retries only a failed connection, never an HTTP 429 or 503,
    and waits for an answer forever.
    """
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    retry = Retry(
        total=API_RETRIES,
        connect=1,
        read=1,
        status=API_RETRIES,
        backoff_factor=API_BACKOFF,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # item search is a POST, and safe to repeat
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer reaches pystac-client: SearchError below
    )
    return StacApiIO(timeout=API_TIMEOUT, max_retries=retry)


def _api_items(source: CatalogSource, query: SearchQuery, client: Any) -> Iterator[pystac.Item]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    assert source.url is not None  # only API sources come here
    try:
        if client is None:
            client = Client.open(source.url, stac_io=_api_io())
        search = client.search(
            collections=list(query.collections),
            intersects=query.aoi.to_geojson(),
            datetime=query.datetime_range,
            limit=100,
        )
        # Materialize here so network errors surface inside this try.
        items = list(search.items())
    except APIError as e:
        if getattr(e, "status_code", None) is None:  # never got an HTTP answer
            raise SearchError(
                f"cannot reach STAC API {redact_url(str(source.url))}; check the URL and "
                'your network, or search catalog="sample" offline'
            ) from e
        raise SearchError(
            f"STAC API {redact_url(str(source.url))} answered HTTP {e.status_code}: "
            f"{redact_text(str(e))[:300]}"
        ) from e
    except OSError as e:  # requests' ConnectionError and timeouts derive from OSError
        raise SearchError(
            f"cannot reach STAC API {redact_url(str(source.url))} ({type(e).__name__}); check "
            'the URL and your network, or search catalog="sample" offline'
        ) from e
    return iter(items)


def _static_items(source: CatalogSource, query: SearchQuery) -> Iterator[pystac.Item]:
    assert source.path is not None
    try:
        root = pystac.read_file(str(source.path))
    except (OSError, pystac.STACError, json.JSONDecodeError) as e:
        raise CatalogError(f"cannot read STAC catalog {str(source.path)!r}: {e}") from e
    if not isinstance(root, pystac.Catalog):
        raise CatalogError(f"{str(source.path)!r} is not a STAC Catalog or Collection")
    wanted = set(query.collections)
    known = set()
    for child in _collections(root):
        known.add(child.id)
        if child.id in wanted:
            yield from child.get_items(recursive=True)
    missing = wanted - known
    if missing and not known & wanted:
        raise CatalogError(
            f"catalog {str(source.path)!r} has no collection {sorted(missing)}; "
            f"it has {sorted(known)}"
        )


def _collections(root: pystac.Catalog) -> Iterable[pystac.Collection]:
    if isinstance(root, pystac.Collection):
        yield root
    for child in root.get_children():
        yield from _collections(child)


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class _Matches:
    """What the client-side filters kept of the items a back end returned."""

    items: list[pystac.Item]
    """Items over the AOI, in the interval and clear enough, by (start, id), at most ``limit``."""
    cloudy: int
    """Items dropped only because their cloud cover exceeded ``max_cloud``."""


def _matching(found: Iterable[pystac.Item], query: SearchQuery) -> _Matches:
    """The items the query keeps, sorted and limited, and how many were too cloudy.

    Both back ends meet the same rules here: a static catalog is walked
    unfiltered, and cloud cover is never left to an API (not every API has
    the query extension).
    """
    kept, cloudy = [], 0
    for item in found:
        if not _intersects(item, query.aoi) or not _in_time(item, query):
            continue
        if not _clear_enough(item, query.max_cloud):
            cloudy += 1
            continue
        kept.append(item)
    kept.sort(key=lambda it: (_span(it)[0], it.id))
    if query.limit is not None:
        kept = kept[: query.limit]
    return _Matches(items=kept, cloudy=cloudy)


def _intersects(item: pystac.Item, aoi: Aoi) -> bool:
    if item.geometry is None:
        return item.bbox is not None and shapely.box(*item.bbox).intersects(aoi.geometry)
    footprint = shape(item.geometry)
    minx, _, maxx, _ = footprint.bounds
    if maxx - minx > 180.0:  # footprint drawn across the antimeridian without splitting
        footprint = split_antimeridian(footprint)
    return bool(footprint.intersects(aoi.geometry))


def _span(item: pystac.Item) -> tuple[dt.datetime, dt.datetime]:
    props = item.properties
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    if start is None or end is None:
        raise SearchError(f"item {item.id!r} has no datetime nor start/end_datetime")
    return (
        parse_datetime(start, end_of_day=False),
        parse_datetime(end, end_of_day=True),
    )


def _in_time(item: pystac.Item, query: SearchQuery) -> bool:
    start, end = _span(item)
    return start <= query.end and end >= query.start


def _clear_enough(item: pystac.Item, max_cloud: float | None) -> bool:
    if max_cloud is None:
        return True
    cloud = item.properties.get("eo:cloud_cover")
    return cloud is None or float(cloud) <= max_cloud


def _empty_message(source: CatalogSource, query: SearchQuery, cloudy: int) -> str:
    west, south, east, north = query.aoi.bbox
    msg = (
        f"no scenes in {source.label!r} for collections {list(query.collections)} between "
        f"{query.start:%Y-%m-%d} and {query.end:%Y-%m-%d} intersecting the AOI "
        f"(bbox {west:.4f}, {south:.4f}, {east:.4f}, {north:.4f})"
    )
    if cloudy:
        return msg + f"; {cloudy} scene(s) exceeded max_cloud={query.max_cloud:g}: raise it"
    return msg + "; widen the dates, check the collections, or move the AOI"


def _day_edge(day: dt.date, end_of_day: bool) -> dt.datetime:
    clock = dt.time(23, 59, 59, 999999) if end_of_day else dt.time(0, 0)
    return dt.datetime.combine(day, clock, tzinfo=dt.UTC)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
