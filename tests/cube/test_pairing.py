"""Pairing of Sentinel-2 solar days with Sentinel-1 passes, checked against hand-made tables.

Every expected pair and lag below was worked out by hand from the item times;
lags are written as minutes / 1440 so the arithmetic can be read off.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, box, mapping

from geomm.cube._pairing import (
    Acquisition,
    Pair,
    PairingRule,
    group_s1,
    group_s2,
    pair_acquisitions,
    pair_items,
)
from geomm.errors import ProfileError
from geomm.testing import make_item


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def s2(item_id: str, when: str, *, lon: float = 10.0, **props: Any) -> Any:
    """An S2 tile: a 1x1 degree footprint centred on ``lon``, at ``when`` UTC."""
    props = {"constellation": "sentinel-2", "platform": "sentinel-2a", **props}
    return make_item(
        item_id,
        collection="sentinel-2-l2a",
        geometry=mapping(box(lon - 0.5, 45.0, lon + 0.5, 46.0)),
        datetime=utc(when),
        properties=props,
    )


def s1(
    item_id: str,
    start: str,
    *,
    absolute: int | None,
    relative: int = 117,
    state: str = "ascending",
    platform: str = "sentinel-1a",
) -> Any:
    """An S1 slice with a 25-second start/end span (no single datetime)."""
    begin = utc(start)
    props: dict[str, Any] = {
        "constellation": "sentinel-1",
        "platform": platform,
        "sat:relative_orbit": relative,
        "sat:orbit_state": state,
    }
    if absolute is not None:
        props["sat:absolute_orbit"] = absolute
    return make_item(
        item_id,
        collection="sentinel-1-rtc",
        geometry=mapping(box(9.0, 44.5, 11.0, 46.5)),
        start=(begin).isoformat(),
        end=(begin + dt.timedelta(seconds=25)).isoformat(),
        properties=props,
    )


def summary(pairs: list[Pair]) -> list[tuple[str, tuple[str, ...], tuple[str, ...], Any]]:
    return [(p.s2.key, p.s2.item_ids, p.s1.item_ids if p.s1 else (), p.lag_days) for p in pairs]


# --------------------------------------------------------------------------- a season


def test_season_table() -> None:
    # S2 every 5 days at 10:30 UTC; S1A ascending (rel 117) at 17:20 and
    # S1A descending (rel 66) at 05:50, each on a 12-day cycle.
    s2_items = [
        s2(f"S2_06{d:02d}", f"2024-06-{d:02d}T10:30:00") for d in (1, 6, 11, 16, 21, 26, 28)
    ]
    s1_items = [
        s1("S1_asc_0602", "2024-06-02T17:20:00", absolute=54140),
        s1("S1_dsc_0609", "2024-06-09T05:50:00", absolute=54240, relative=66, state="descending"),
        s1("S1_asc_0614", "2024-06-14T17:20:00", absolute=54315),
        s1("S1_dsc_0621", "2024-06-21T05:50:00", absolute=54415, relative=66, state="descending"),
    ]
    pairs = pair_items(s2_items, s1_items)
    assert [(p.s2.key, p.s1.key if p.s1 else None) for p in pairs] == [
        ("S2:2024-06-01", "S1:sentinel-1a:054140"),
        ("S2:2024-06-06", "S1:sentinel-1a:054240"),
        ("S2:2024-06-11", "S1:sentinel-1a:054240"),
        ("S2:2024-06-16", "S1:sentinel-1a:054315"),
        ("S2:2024-06-21", "S1:sentinel-1a:054415"),
        ("S2:2024-06-26", "S1:sentinel-1a:054415"),
        # 06-28: the nearest pass (06-21 05:50) is 7 d 4 h 40 min away -> dropped
    ]
    assert [p.lag_days for p in pairs] == pytest.approx(
        [
            (1440 + 410) / 1440,  # +1 d 6 h 50 min
            (2 * 1440 + 1160) / 1440,  # +2 d 19 h 20 min (beats -3 d 17 h 10 min)
            -(2 * 1440 + 280) / 1440,  # -2 d 4 h 40 min (beats +3 d 6 h 50 min)
            -(1440 + 1030) / 1440,  # -1 d 17 h 10 min (beats +4 d 19 h 20 min)
            -280 / 1440,  # -4 h 40 min
            -(5 * 1440 + 280) / 1440,  # -5 d 4 h 40 min, still within 6 days
        ]
    )
    assert [p.s1.orbit_state for p in pairs if p.s1] == [
        "ascending",
        "descending",
        "descending",
        "ascending",
        "descending",
        "descending",
    ]
    assert [p.s1.relative_orbit for p in pairs if p.s1] == [117, 66, 66, 117, 66, 66]


# --------------------------------------------------------------------------- rules


def test_simple_nearest() -> None:
    pairs = pair_items(
        [s2("S2_a", "2024-06-03T10:00:00")],
        [
            s1("S1_before", "2024-06-01T10:00:00", absolute=54100),  # -2 d
            s1("S1_after", "2024-06-04T16:00:00", absolute=54115),  # +1 d 6 h
        ],
    )
    assert summary(pairs) == [("S2:2024-06-03", ("S2_a",), ("S1_after",), 1.25)]
    assert pairs[0].s1 is not None and pairs[0].s1.key == "S1:sentinel-1a:054115"
    assert pairs[0].s1.time == utc("2024-06-04T16:00:00")
    assert pairs[0].s2.time == utc("2024-06-03T10:00:00")


def test_tie_takes_the_earlier_pass() -> None:
    pairs = pair_items(
        [s2("S2_a", "2024-06-03T10:00:00")],
        [
            s1("S1_after", "2024-06-05T10:00:00", absolute=54130),  # +2 d
            s1("S1_before", "2024-06-01T10:00:00", absolute=54100),  # -2 d
        ],
    )
    assert summary(pairs) == [("S2:2024-06-03", ("S2_a",), ("S1_before",), -2.0)]


def test_tie_at_the_same_time_takes_the_smaller_key() -> None:
    pairs = pair_items(
        [s2("S2_a", "2024-06-03T10:00:00")],
        [
            s1("S1C", "2024-06-04T10:00:00", absolute=1234, platform="sentinel-1c"),
            s1("S1A", "2024-06-04T10:00:00", absolute=54140, platform="sentinel-1a"),
        ],
    )
    assert pairs[0].s1 is not None and pairs[0].s1.key == "S1:sentinel-1a:054140"


def test_gap_longer_than_max_lag_is_dropped_or_kept_unpaired() -> None:
    s2_items = [s2("S2_a", "2024-06-03T10:00:00")]
    s1_items = [s1("S1_far", "2024-06-10T10:00:00", absolute=54200)]  # +7 d
    assert pair_items(s2_items, s1_items) == []
    kept = pair_items(s2_items, s1_items, rule=PairingRule(keep_unpaired=True))
    assert summary(kept) == [("S2:2024-06-03", ("S2_a",), (), None)]
    assert kept[0].s1 is None
    # a wider window finds it
    wide = pair_items(s2_items, s1_items, rule=PairingRule(max_lag_days=7))
    assert summary(wide) == [("S2:2024-06-03", ("S2_a",), ("S1_far",), 7.0)]


def test_max_lag_is_inclusive() -> None:
    s2_items = [s2("S2_a", "2024-06-03T10:00:00")]
    exact = [s1("S1_6d", "2024-06-09T10:00:00", absolute=54200)]
    assert summary(pair_items(s2_items, exact)) == [("S2:2024-06-03", ("S2_a",), ("S1_6d",), 6.0)]
    before = [s1("S1_-6d", "2024-05-28T10:00:00", absolute=54000)]
    assert summary(pair_items(s2_items, before)) == [
        ("S2:2024-06-03", ("S2_a",), ("S1_-6d",), -6.0)
    ]
    one_second_more = [s1("S1_6d1s", "2024-06-09T10:00:01", absolute=54200)]
    assert pair_items(s2_items, one_second_more) == []
    zero = PairingRule(max_lag_days=0)
    same = [s1("S1_same", "2024-06-03T10:00:00", absolute=54160)]
    assert summary(pair_items(s2_items, same, rule=zero)) == [
        ("S2:2024-06-03", ("S2_a",), ("S1_same",), 0.0)
    ]


def test_mixed_orbit_directions() -> None:
    s2_items = [s2("S2_a", "2024-06-03T10:00:00")]
    s1_items = [
        s1("S1_asc", "2024-06-04T10:00:00", absolute=54150, relative=117, state="ascending"),
        s1("S1_dsc", "2024-05-31T10:00:00", absolute=54100, relative=66, state="descending"),
    ]
    either = pair_items(s2_items, s1_items)
    assert summary(either) == [("S2:2024-06-03", ("S2_a",), ("S1_asc",), 1.0)]
    dsc = pair_items(s2_items, s1_items, rule=PairingRule(orbit_state="descending"))
    assert summary(dsc) == [("S2:2024-06-03", ("S2_a",), ("S1_dsc",), -3.0)]
    assert dsc[0].s1 is not None
    assert (dsc[0].s1.orbit_state, dsc[0].s1.relative_orbit) == ("descending", 66)
    asc = pair_items(s2_items, s1_items, rule=PairingRule(orbit_state="ascending"))
    assert summary(asc) == [("S2:2024-06-03", ("S2_a",), ("S1_asc",), 1.0)]


def test_one_pass_serves_two_s2_dates() -> None:
    pairs = pair_items(
        [s2("S2_0603", "2024-06-03T10:00:00"), s2("S2_0605", "2024-06-05T10:00:00")],
        [s1("S1_0604", "2024-06-04T10:00:00", absolute=54150)],
    )
    assert summary(pairs) == [
        ("S2:2024-06-03", ("S2_0603",), ("S1_0604",), 1.0),
        ("S2:2024-06-05", ("S2_0605",), ("S1_0604",), -1.0),
    ]
    assert pairs[0].s1 is pairs[1].s1


# --------------------------------------------------------------------------- S1 passes


def test_slices_of_one_pass_are_one_acquisition() -> None:
    slices = [
        s1("S1_slice_2", "2024-06-04T17:20:25", absolute=54140),
        s1("S1_slice_1", "2024-06-04T17:20:00", absolute=54140),
    ]
    (acq,) = group_s1(slices)
    assert acq.key == "S1:sentinel-1a:054140"
    assert acq.item_ids == ("S1_slice_1", "S1_slice_2")
    assert acq.time == utc("2024-06-04T17:20:00")
    assert (acq.sensor, acq.orbit_state, acq.relative_orbit) == ("sentinel-1", "ascending", 117)
    pairs = pair_items([s2("S2_a", "2024-06-03T17:20:00")], slices)
    assert summary(pairs) == [("S2:2024-06-03", ("S2_a",), ("S1_slice_1", "S1_slice_2"), 1.0)]


def test_same_absolute_orbit_on_two_platforms_are_two_passes() -> None:
    passes = group_s1(
        [
            s1("S1A", "2024-06-04T17:20:00", absolute=5000, platform="sentinel-1a"),
            s1("S1C", "2024-06-10T17:20:00", absolute=5000, platform="Sentinel-1C"),
        ]
    )
    assert [(a.key, a.item_ids) for a in passes] == [
        ("S1:sentinel-1a:005000", ("S1A",)),
        ("S1:sentinel-1c:005000", ("S1C",)),
    ]


def test_passes_without_absolute_orbit_are_grouped_by_track_and_time() -> None:
    passes = group_s1(
        [
            s1("a1", "2024-06-04T17:20:00", absolute=None),
            s1("a2", "2024-06-04T17:20:25", absolute=None),
            s1("a3", "2024-06-04T17:29:25", absolute=None),  # 9 min after a2: same pass
            s1("b1", "2024-06-16T17:20:00", absolute=None),  # 12 days later
            s1("c1", "2024-06-04T17:20:30", absolute=None, relative=15),  # other track
            s1("d1", "2024-06-05T05:50:00", absolute=None, relative=66, state="descending"),
        ]
    )
    assert [(a.key, a.item_ids) for a in passes] == [
        ("S1:117:ascending:2024-06-04T17", ("a1", "a2", "a3")),
        ("S1:15:ascending:2024-06-04T17", ("c1",)),
        ("S1:66:descending:2024-06-05T05", ("d1",)),
        ("S1:117:ascending:2024-06-16T17", ("b1",)),
    ]


def test_slice_gap_over_ten_minutes_splits_the_fallback_pass() -> None:
    passes = group_s1(
        [
            s1("a1", "2024-06-04T17:20:00", absolute=None),
            s1("a2", "2024-06-04T17:30:01", absolute=None),
        ]
    )
    assert [a.item_ids for a in passes] == [("a1",), ("a2",)]


# --------------------------------------------------------------------------- S2 solar days


def test_tiles_in_two_utm_zones_on_one_solar_day() -> None:
    (acq,) = group_s2(
        [
            s2("T33TUG", "2024-06-03T10:00:05", lon=12.5),  # UTM zone 33
            s2("T32TQM", "2024-06-03T10:00:00", lon=11.5),  # UTM zone 32
        ]
    )
    assert acq.key == "S2:2024-06-03"
    assert acq.item_ids == ("T32TQM", "T33TUG")
    assert acq.time == utc("2024-06-03T10:00:00")
    assert acq.sensor == "sentinel-2"


def test_solar_day_follows_local_time() -> None:
    days = group_s2(
        [
            # 23:30 UTC + 170/15 h = 10:50 on June 4 local time
            s2("east", "2024-06-03T23:30:00", lon=170.0),
            # 23:30 UTC - 170/15 h = 12:10 on June 3 local time
            s2("west", "2024-06-03T23:30:00", lon=-170.0),
            # 01:00 UTC - 120/15 h = 17:00 on June 3 local time
            s2("americas", "2024-06-04T01:00:00", lon=-120.0),
        ]
    )
    assert [(a.key, a.item_ids, a.time) for a in days] == [
        ("S2:2024-06-03", ("americas", "west"), utc("2024-06-03T23:30:00")),
        ("S2:2024-06-04", ("east",), utc("2024-06-03T23:30:00")),
    ]


def test_solar_day_of_a_footprint_split_at_the_antimeridian() -> None:
    # Parts [179, 180] and [-180, -179.5]: centroid 179.75 E once joined, so
    # 13:00 UTC + 11.98 h = 00:59 on June 4. A naive centroid (59.75 E) would
    # give 16:59 on June 3.
    split = MultiPolygon([box(179.0, -10.0, 180.0, -9.0), box(-180.0, -10.0, -179.5, -9.0)])
    item = make_item(
        "split",
        collection="sentinel-2-l2a",
        geometry=mapping(split),
        datetime=utc("2024-06-03T13:00:00"),
    )
    assert [a.key for a in group_s2([item])] == ["S2:2024-06-04"]
    # same answer from an antimeridian bbox when there is no geometry
    item.geometry = None
    item.bbox = [179.0, -10.0, -179.5, -9.0]
    assert [a.key for a in group_s2([item])] == ["S2:2024-06-04"]
    item.bbox = None
    with pytest.raises(ProfileError, match="'split' has neither geometry nor bbox"):
        group_s2([item])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("platform", ["SENTINEL-1A", "sentinel-1b", "Sentinel 1", "landsat-8"])
def test_non_s2_item_in_s2_list_raises(platform: str) -> None:
    bad = s2("S2_but_not", "2024-06-03T10:00:00", platform=platform, constellation=None)
    with pytest.raises(ValueError, match="'S2_but_not'"):
        pair_items([s2("ok", "2024-06-03T10:00:00"), bad], [])


@pytest.mark.parametrize("value", ["sentinel-2a", "Sentinel 2", "SENTINEL-2B", "sentinel2"])
def test_s2_item_in_s1_list_raises(value: str) -> None:
    bad = s2("S2_tile", "2024-06-03T10:00:00", platform=value, constellation=None)
    with pytest.raises(ValueError, match="'S2_tile'.*sentinel-1"):
        pair_items([], [bad])


def test_items_without_sensor_properties_are_accepted() -> None:
    s2_item = s2("S2_plain", "2024-06-03T10:00:00", platform=None, constellation=None)
    s1_item = s1("S1_plain", "2024-06-04T10:00:00", absolute=54150)
    del s1_item.properties["platform"], s1_item.properties["constellation"]
    pairs = pair_items([s2_item], [s1_item])
    assert summary(pairs) == [("S2:2024-06-03", ("S2_plain",), ("S1_plain",), 1.0)]
    assert pairs[0].s1 is not None and pairs[0].s1.key == "S1:sentinel-1:054150"


def test_swapped_acquisitions_raise() -> None:
    s2_acq = group_s2([s2("S2_a", "2024-06-03T10:00:00")])
    s1_acq = group_s1([s1("S1_a", "2024-06-04T10:00:00", absolute=54150)])
    with pytest.raises(ValueError, match="'S1:sentinel-1a:054150' is sentinel-1"):
        pair_acquisitions(s1_acq, s2_acq)


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf])
def test_bad_max_lag_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="max_lag_days"):
        PairingRule(max_lag_days=bad)


def test_bad_orbit_state_raises() -> None:
    with pytest.raises(ValueError, match="'asc'"):
        PairingRule(orbit_state="asc")


def test_item_without_time_raises() -> None:
    item = s2("S2_a", "2024-06-03T10:00:00")
    item.datetime = None
    with pytest.raises(ProfileError, match="'S2_a' has no datetime"):
        group_s2([item])


def test_records_check_themselves() -> None:
    (acq,) = group_s1([s1("S1_a", "2024-06-04T10:00:00", absolute=54150)])
    with pytest.raises(ValueError, match="must be a sentinel-2"):
        Pair(s2=acq, s1=None)
    with pytest.raises(ValueError, match="has no items"):
        Acquisition("sentinel-2", utc("2024-06-03T10:00:00"), (), None, None, "S2:2024-06-03")
    assert acq.__dask_tokenize__() == ("acquisition", "S1:sentinel-1a:054150", "S1_a")
