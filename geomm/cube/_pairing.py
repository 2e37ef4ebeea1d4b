"""Pair each Sentinel-2 acquisition with the Sentinel-1 pass closest in time.

Pure Python over pystac Items; nothing here reads pixels or the network.

Items are first grouped into *acquisitions*:

- Sentinel-2: one per **solar day**, the date of ``UTC time + longitude / 15 h``
  at the item footprint's centroid. All tiles of that day (several MGRS tiles,
  several UTM zones) form one acquisition, and a scene taken at 23:30 UTC at
  170°E (10:50 local time the next day) belongs to the next day.
- Sentinel-1: one per **pass**, the slices of one datatake: same platform and
  ``sat:absolute_orbit``. Items without an absolute orbit fall back to the same
  ``sat:relative_orbit`` and ``sat:orbit_state`` with start times chained less
  than 10 minutes apart.

Each Sentinel-2 acquisition then gets the Sentinel-1 pass with the smallest
``|S1 time - S2 time|`` within :attr:`PairingRule.max_lag_days` (inclusive).
On a tie in ``|lag|`` the **earlier** pass wins (S1 before S2): the pair then
describes a ground state the radar saw *before* the optical scene, never one
"from the future" of it. A further tie (same time) goes to the smaller key.
One pass may be the partner of several Sentinel-2 dates; a pair always holds a
single pass, hence a single orbit direction and relative orbit.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pystac
import shapely
from shapely.geometry import shape

from geomm.errors import CatalogError, OptionError, ProfileError
from geomm.stac import parse_datetime

__all__ = [
    "Acquisition",
    "Pair",
    "PairingRule",
    "group_s1",
    "group_s2",
    "pair_acquisitions",
    "pair_items",
]

log = logging.getLogger(__name__)

Sensor = Literal["sentinel-1", "sentinel-2"]

_ORBIT_STATES = ("ascending", "descending")
_PASS_GAP = dt.timedelta(minutes=10)
"""Largest gap between consecutive slice starts of one pass (fallback grouping)."""
_SENSOR_RE = re.compile(r"sentinel-?([12])")
MAX_LAG_DAYS = 366.0
"""Largest ``max_lag_days``: a year; beyond it a pass no longer describes the same ground."""


@dataclass(frozen=True)
class PairingRule:
    """How Sentinel-2 acquisitions choose their Sentinel-1 partner."""

    max_lag_days: float = 6.0
    """Largest ``|S1 time - S2 time|`` in days, inclusive.

    Default 6: half of Sentinel-1's 12-day repeat cycle, so with a single
    satellite on one orbit every S2 date still finds a pass; with ascending +
    descending (or S1A + S1C) passes the typical lag is 1-3 days.
    """
    keep_unpaired: bool = False
    """Keep S2 acquisitions without an S1 partner (``s1`` None) instead of dropping them."""
    orbit_state: str | None = None
    """Only pair with ``"ascending"`` or ``"descending"`` passes (None: either).

    Passes whose direction is unknown are never chosen when this is set.
    """

    def __post_init__(self) -> None:
        lag = self.max_lag_days
        if isinstance(lag, bool) or not isinstance(lag, int | float) or not math.isfinite(lag):
            raise OptionError(f"max_lag_days must be a finite number of days, got {lag!r}")
        if not 0 <= lag <= MAX_LAG_DAYS:
            raise OptionError(
                f"max_lag_days must be within 0..{MAX_LAG_DAYS:g}, got {lag:g}; it bounds "
                "|S1 time - S2 time|, e.g. 6 for half of Sentinel-1's 12-day repeat cycle"
            )
        if self.orbit_state is not None and self.orbit_state not in _ORBIT_STATES:
            raise OptionError(
                f"orbit_state must be 'ascending', 'descending' or None (either), "
                f"got {self.orbit_state!r}"
            )


@dataclass(frozen=True)
class Acquisition:
    """The items of one sensor seen together: a S2 solar day or a S1 pass."""

    sensor: Sensor
    """``"sentinel-1"`` or ``"sentinel-2"``."""
    time: dt.datetime
    """UTC; S2: earliest item datetime of the solar day; S1: earliest start of the pass."""
    items: tuple[pystac.Item, ...]
    """The items, sorted by id."""
    orbit_state: str | None
    """``sat:orbit_state`` if all items agree, else None."""
    relative_orbit: int | None
    """``sat:relative_orbit`` if all items agree, else None."""
    key: str
    """Stable id: ``"S2:2024-06-03"`` (solar day), ``"S1:sentinel-1a:054140"``
    (platform and absolute orbit) or ``"S1:<relorbit>:<orbit_state>:<YYYY-MM-DDTHH>"``."""

    def __post_init__(self) -> None:
        if self.sensor not in ("sentinel-1", "sentinel-2"):
            raise ValueError(f"sensor must be 'sentinel-1' or 'sentinel-2', got {self.sensor!r}")
        if not self.items:
            raise ValueError(f"acquisition {self.key!r} has no items")
        if self.time.tzinfo is None:
            raise ValueError(f"acquisition {self.key!r} time must be timezone-aware (UTC)")
        ids = [i.id for i in self.items]
        if ids != sorted(ids):
            raise ValueError(f"acquisition {self.key!r} items must be sorted by id, got {ids}")

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Ids of the items, sorted."""
        return tuple(i.id for i in self.items)

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return ("acquisition", self.key, *self.item_ids)


@dataclass(frozen=True)
class Pair:
    """A Sentinel-2 acquisition and its Sentinel-1 partner (None if unpaired)."""

    s2: Acquisition
    """The optical acquisition (one solar day)."""
    s1: Acquisition | None
    """The radar pass closest in time, or None (only with ``keep_unpaired``)."""

    def __post_init__(self) -> None:
        if self.s2.sensor != "sentinel-2":
            raise ValueError(f"Pair.s2 must be a sentinel-2 acquisition, got {self.s2.key!r}")
        if self.s1 is not None and self.s1.sensor != "sentinel-1":
            raise ValueError(f"Pair.s1 must be a sentinel-1 acquisition, got {self.s1.key!r}")

    @property
    def lag_days(self) -> float | None:
        """Signed ``s1.time - s2.time`` in days (negative: S1 first); None if unpaired."""
        if self.s1 is None:
            return None
        return (self.s1.time - self.s2.time).total_seconds() / 86400.0

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return ("pair", self.s2.key, self.s1.key if self.s1 else "")


# --------------------------------------------------------------------------- grouping


def group_s2(items: Iterable[pystac.Item]) -> list[Acquisition]:
    """Group Sentinel-2 items into one acquisition per solar day, sorted by time.

    The solar day of an item is the date of ``UTC time + lon / 15 h``, with
    ``lon`` the centroid of its geometry (bbox centre without geometry).

    Raises:
        ProfileError: an item is not Sentinel-2, or has no time or footprint.
    """
    days: dict[dt.date, list[tuple[dt.datetime, pystac.Item]]] = defaultdict(list)
    for item in items:
        _check_sensor(item, "sentinel-2")
        moment = _item_time(item, prefer_start=False)
        solar = moment + dt.timedelta(hours=_centroid_lon(item) / 15.0)
        days[solar.date()].append((moment, item))
    acquisitions = [
        _acquisition("sentinel-2", members, key=f"S2:{day.isoformat()}")
        for day, members in days.items()
    ]
    return sorted(acquisitions, key=lambda a: (a.time, a.key))


def group_s1(items: Iterable[pystac.Item]) -> list[Acquisition]:
    """Group Sentinel-1 items into one acquisition per pass, sorted by time.

    Slices of one datatake share platform and ``sat:absolute_orbit``. Items
    without an absolute orbit are grouped by ``sat:relative_orbit`` and
    ``sat:orbit_state``, consecutive start times at most 10 minutes apart.

    Raises:
        ProfileError: an item is not Sentinel-1, has no time or bad orbit numbers.
    """
    by_orbit: dict[tuple[str, int], list[tuple[dt.datetime, pystac.Item]]] = defaultdict(list)
    loose: dict[tuple[int | None, str | None], list[tuple[dt.datetime, pystac.Item]]] = defaultdict(
        list
    )
    for item in items:
        _check_sensor(item, "sentinel-1")
        moment = _item_time(item, prefer_start=True)
        absolute = _int_prop(item, "sat:absolute_orbit")
        if absolute is not None:
            platform = _norm(item.properties.get("platform") or "sentinel-1")
            by_orbit[(platform, absolute)].append((moment, item))
        else:
            loose[(_int_prop(item, "sat:relative_orbit"), _orbit_state(item))].append(
                (moment, item)
            )

    acquisitions = [
        _acquisition("sentinel-1", members, key=f"S1:{platform}:{absolute:06d}")
        for (platform, absolute), members in by_orbit.items()
    ]
    for (relative, state), members in loose.items():
        members.sort(key=lambda m: (m[0], m[1].id))
        run = [members[0]]
        for member in members[1:]:
            if member[0] - run[-1][0] > _PASS_GAP:
                acquisitions.append(_loose_pass(run, relative, state))
                run = []
            run.append(member)
        acquisitions.append(_loose_pass(run, relative, state))
    return sorted(acquisitions, key=lambda a: (a.time, a.key))


def _loose_pass(
    run: list[tuple[dt.datetime, pystac.Item]], relative: int | None, state: str | None
) -> Acquisition:
    start = min(m[0] for m in run)
    rel = "unknown" if relative is None else str(relative)
    key = f"S1:{rel}:{state or 'unknown'}:{start:%Y-%m-%dT%H}"
    return _acquisition("sentinel-1", run, key=key)


def _acquisition(
    sensor: Sensor, members: list[tuple[dt.datetime, pystac.Item]], *, key: str
) -> Acquisition:
    items = tuple(sorted((m[1] for m in members), key=lambda i: i.id))
    states = {_orbit_state(i) for i in items}
    relatives = {_int_prop(i, "sat:relative_orbit") for i in items}
    return Acquisition(
        sensor=sensor,
        time=min(m[0] for m in members),
        items=items,
        orbit_state=states.pop() if len(states) == 1 else None,
        relative_orbit=relatives.pop() if len(relatives) == 1 else None,
        key=key,
    )


# --------------------------------------------------------------------------- pairing


def pair_acquisitions(
    s2: Sequence[Acquisition],
    s1: Sequence[Acquisition],
    *,
    rule: PairingRule | None = None,
) -> list[Pair]:
    """Give each Sentinel-2 acquisition the closest Sentinel-1 pass allowed by ``rule``.

    Candidates lie within ``rule.max_lag_days`` (inclusive) and match
    ``rule.orbit_state``. The smallest ``|lag|`` wins; on a tie the earlier
    pass (S1 before S2), then the smaller key. A pass may serve several S2
    acquisitions. Pairs come in S2 time order; unpaired S2 acquisitions are
    dropped unless ``rule.keep_unpaired``.

    Args:
        s2: Sentinel-2 acquisitions, e.g. from :func:`group_s2`.
        s1: Sentinel-1 acquisitions, e.g. from :func:`group_s1`.
        rule: pairing parameters; default :class:`PairingRule()`.

    Raises:
        ValueError: an acquisition is in the wrong list.
    """
    if rule is None:
        rule = PairingRule()
    for acq, want in [(a, "sentinel-2") for a in s2] + [(a, "sentinel-1") for a in s1]:
        if acq.sensor != want:
            raise ValueError(
                f"acquisition {acq.key!r} is {acq.sensor}, but was passed as {want}; "
                "swap the s2 and s1 arguments"
            )
    max_lag = dt.timedelta(days=rule.max_lag_days)
    passes = [p for p in s1 if rule.orbit_state is None or p.orbit_state == rule.orbit_state]
    pairs: list[Pair] = []
    for optical in sorted(s2, key=lambda a: (a.time, a.key)):
        candidates = [p for p in passes if abs(p.time - optical.time) <= max_lag]
        if candidates:
            best = min(candidates, key=lambda p: (abs(p.time - optical.time), p.time, p.key))
            pairs.append(Pair(s2=optical, s1=best))
        elif rule.keep_unpaired:
            pairs.append(Pair(s2=optical, s1=None))
        else:
            log.debug("no S1 pass within %s days of %s; dropped", rule.max_lag_days, optical.key)
    return pairs


def pair_items(
    s2_items: Iterable[pystac.Item],
    s1_items: Iterable[pystac.Item],
    *,
    rule: PairingRule | None = None,
) -> list[Pair]:
    """Group Sentinel-2 and Sentinel-1 items into acquisitions and pair them.

    Equivalent to ``pair_acquisitions(group_s2(s2_items), group_s1(s1_items), rule=rule)``.

    Raises:
        ProfileError: an item is of the other (or another) sensor, or lacks
            a time, a footprint or valid orbit numbers.
    """
    return pair_acquisitions(group_s2(s2_items), group_s1(s1_items), rule=rule)


# --------------------------------------------------------------------------- item fields


def _norm(value: Any) -> str:
    return re.sub(r"[\s_]+", "-", str(value).strip().lower())


def _check_sensor(item: pystac.Item, want: Sensor) -> None:
    for name in ("constellation", "platform"):
        value = item.properties.get(name)
        if value is None:
            continue
        match = _SENSOR_RE.match(_norm(value))
        found = f"sentinel-{match.group(1)}" if match else None
        if found != want:
            other = "S1" if want == "sentinel-2" else "S2"
            raise ProfileError(
                f"item {item.id!r} has {name}={value!r}, but was passed as {want}; "
                f"pass it with the {other} items, or drop it"
            )


def _item_time(item: pystac.Item, *, prefer_start: bool) -> dt.datetime:
    start = item.properties.get("start_datetime")
    options = (start, item.datetime) if prefer_start else (item.datetime, start)
    value = next((v for v in options if v is not None), None)
    if value is None:
        raise ProfileError(f"item {item.id!r} has no datetime nor start_datetime")
    try:
        return parse_datetime(value, end_of_day=False)
    except CatalogError as e:
        raise ProfileError(f"item {item.id!r} has an unreadable time {value!r}") from e


def _int_prop(item: pystac.Item, name: str) -> int | None:
    value = item.properties.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ProfileError(f"item {item.id!r} has {name}={value!r}; expected an integer")


def _orbit_state(item: pystac.Item) -> str | None:
    value = item.properties.get("sat:orbit_state")
    return None if value is None else _norm(value)


def _centroid_lon(item: pystac.Item) -> float:
    """Longitude of the footprint centroid, in [-180, 180); antimeridian-safe."""
    if item.geometry:
        geom = shape(item.geometry)
        west, _, east, _ = geom.bounds
        if east - west > 180:  # split at the antimeridian: move the west half east
            geom = shapely.transform(geom, _shift_west_east)
        lon = geom.centroid.x
    elif item.bbox:
        west, east = item.bbox[0], item.bbox[len(item.bbox) // 2]
        lon = (west + east + (360.0 if west > east else 0.0)) / 2
    else:
        raise ProfileError(
            f"item {item.id!r} has neither geometry nor bbox; its solar day needs a longitude"
        )
    return float((lon + 180.0) % 360.0 - 180.0)


def _shift_west_east(xy: np.ndarray) -> np.ndarray:
    out = np.array(xy, dtype=float)
    out[:, 0] = np.where(out[:, 0] < 0, out[:, 0] + 360.0, out[:, 0])
    return out
