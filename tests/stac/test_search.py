"""Search semantics, checked by hand on a constructed catalog, then through a real STAC API.

The static-catalog search and a pystac-client search of ``rustac serve`` (on
127.0.0.1) must return the same items for the same query.
"""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from shapely.geometry import box, mapping

from geomm.aoi import aoi_from_geojson
from geomm.errors import CatalogError, EmptyResultError
from geomm.stac import parse_datetime, search, write_items
from geomm.testing import make_item, write_static_catalog

AOI = aoi_from_geojson(mapping(box(10.0, 45.0, 10.2, 45.2)))
# An L-shaped footprint whose bbox covers the AOI but whose polygon misses it.
L_SHAPE = {
    "type": "Polygon",
    "coordinates": [
        [
            [9.0, 44.0],
            [11.0, 44.0],
            [11.0, 44.5],
            [9.5, 44.5],
            [9.5, 46.0],
            [9.0, 46.0],
            [9.0, 44.0],
        ]
    ],
}
OVER_AOI = mapping(box(9.9, 44.9, 10.5, 45.5))
ACROSS_180 = aoi_from_geojson(
    {
        "type": "Polygon",
        "coordinates": [[[179.5, -1], [-179.5, -1], [-179.5, 1], [179.5, 1], [179.5, -1]]],
    }
)


def _items() -> dict[str, list[pystac.Item]]:
    s2 = "sentinel-2-l2a"
    s1 = "sentinel-1-rtc"
    return {
        s2: [
            make_item(
                "l-shape-miss",
                collection=s2,
                geometry=L_SHAPE,
                datetime="2024-06-10T10:00:00Z",
                cloud=1.0,
            ),
            make_item(
                "last-instant",
                collection=s2,
                geometry=OVER_AOI,
                datetime="2024-06-30T23:59:59Z",
                cloud=10.0,
            ),
            make_item(
                "next-day",
                collection=s2,
                geometry=OVER_AOI,
                datetime="2024-07-01T00:00:00Z",
                cloud=10.0,
            ),
            make_item(
                "first-instant",
                collection=s2,
                geometry=OVER_AOI,
                datetime="2024-06-01T00:00:00Z",
                cloud=49.9,
            ),
            make_item(
                "cloudy",
                collection=s2,
                geometry=OVER_AOI,
                datetime="2024-06-15T10:00:00Z",
                cloud=80.0,
            ),
            make_item(
                "east-of-180",
                collection=s2,
                geometry=mapping(box(179.0, -0.5, 180.0, 0.5)),
                datetime="2024-06-15T10:00:00Z",
                cloud=0.0,
            ),
            make_item(
                "west-of-180",
                collection=s2,
                geometry=mapping(box(-180.0, -0.5, -179.0, 0.5)),
                datetime="2024-06-15T10:00:00Z",
                cloud=0.0,
            ),
        ],
        s1: [
            make_item(
                "span-overlaps-start",
                collection=s1,
                geometry=OVER_AOI,
                datetime=None,
                start="2024-05-31T23:59:50Z",
                end="2024-06-01T00:00:10Z",
            ),
            make_item(
                "span-before",
                collection=s1,
                geometry=OVER_AOI,
                datetime=None,
                start="2024-05-31T23:00:00Z",
                end="2024-05-31T23:59:59Z",
            ),
            make_item(
                "s1-no-cloud", collection=s1, geometry=OVER_AOI, datetime="2024-06-20T05:30:00Z"
            ),
        ],
    }


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return write_static_catalog(tmp_path_factory.mktemp("cat"), _items())


def _ids(result) -> list[str]:
    return [item.id for item in result.items]


JUNE = {"start": "2024-06-01", "end": "2024-06-30"}
BOTH = ["sentinel-2-l2a", "sentinel-1-rtc"]


def test_static_search_semantics(catalog):
    result = search(catalog, aoi=AOI, collections=BOTH, **JUNE)
    # Sorted by (start time, id); by-hand expectation of every rule:
    #  l-shape-miss: bbox covers the AOI, polygon does not -> out
    #  next-day: 2024-07-01T00:00 is after the inclusive end day -> out
    #  span-before: ends 1 s before the interval -> out
    #  east/west-of-180: far away -> out
    assert _ids(result) == [
        "span-overlaps-start",
        "first-instant",
        "cloudy",
        "s1-no-cloud",
        "last-instant",
    ]


def test_max_cloud_keeps_items_without_cloud_cover(catalog):
    result = search(catalog, aoi=AOI, collections=BOTH, max_cloud=50, **JUNE)
    assert "cloudy" not in _ids(result)
    assert {"first-instant", "s1-no-cloud", "span-overlaps-start"} <= set(_ids(result))
    assert result.skipped_cloudy == 1


def test_limit_and_collection_filter(catalog):
    only_s1 = search(catalog, aoi=AOI, collections=["sentinel-1-rtc"], **JUNE)
    assert _ids(only_s1) == ["span-overlaps-start", "s1-no-cloud"]
    two = search(catalog, aoi=AOI, collections=BOTH, limit=2, **JUNE)
    assert _ids(two) == ["span-overlaps-start", "first-instant"]


def test_antimeridian_aoi_finds_scenes_on_both_sides(catalog):
    result = search(catalog, aoi=ACROSS_180, collections=["sentinel-2-l2a"], **JUNE)
    assert sorted(_ids(result)) == ["east-of-180", "west-of-180"]


def test_empty_result_says_what_to_change(catalog):
    with pytest.raises(EmptyResultError, match=r"no scenes .* between 2023-01-01 and 2023-01-31"):
        search(catalog, aoi=AOI, collections=BOTH, start="2023-01-01", end="2023-01-31")
    with pytest.raises(EmptyResultError, match=r"1 scene\(s\) exceeded max_cloud=5: raise it"):
        search(
            catalog,
            aoi=AOI,
            collections=["sentinel-2-l2a"],
            start="2024-06-15",
            end="2024-06-15",
            max_cloud=5,
        )
    empty = search(
        catalog, aoi=AOI, collections=BOTH, start="2023-01-01", end="2023-01-31", allow_empty=True
    )
    assert len(empty) == 0


def test_unknown_collection_in_static_catalog(catalog):
    with pytest.raises(CatalogError, match=r"has no collection \['sentinel-9'\]"):
        search(catalog, aoi=AOI, collections=["sentinel-9"], **JUNE)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-06-30", "2024-06-01", r"end is before start \(2024-06-01 < 2024-06-30\)"),
        ("06/01/2024", "2024-06-30", "cannot read date '06/01/2024'"),
    ],
)
def test_bad_dates(catalog, start, end, message):
    with pytest.raises(CatalogError, match=message):
        search(catalog, aoi=AOI, collections=BOTH, start=start, end=end)


def test_parse_datetime_day_edges():
    assert parse_datetime("2024-06-30", end_of_day=True).isoformat() == (
        "2024-06-30T23:59:59.999999+00:00"
    )
    assert parse_datetime("2024-06-01", end_of_day=False).isoformat() == (
        "2024-06-01T00:00:00+00:00"
    )
    assert parse_datetime("2024-06-01T12:00:00+02:00", end_of_day=False).isoformat() == (
        "2024-06-01T10:00:00+00:00"
    )


def test_write_items_is_a_loadable_item_collection_with_absolute_hrefs(catalog, tmp_path):
    result = search(catalog, aoi=AOI, collections=BOTH, **JUNE)
    path = write_items(result, tmp_path / "sub" / "items.geojson")
    back = pystac.ItemCollection.from_file(str(path))
    assert [i.id for i in back] == _ids(result)
    assert not list(tmp_path.joinpath("sub").glob("*.part"))
    doc = json.loads(path.read_text())
    for feature in doc["features"]:
        for asset in feature["assets"].values():
            assert Path(asset["href"]).is_absolute()


def test_api_search_equals_static_search(catalog, stac_api):
    """The same query through pystac-client against rustac serve on 127.0.0.1."""
    root = pystac.Catalog.from_file(str(catalog))
    collections = [c.to_dict() for c in root.get_children()]
    items = [i.to_dict() for i in root.get_items(recursive=True)]
    url = stac_api(collections, items)
    queries = [
        {"collections": BOTH, **JUNE},
        {"collections": BOTH, "max_cloud": 50, **JUNE},
        {"collections": ["sentinel-1-rtc"], **JUNE},
        {"collections": BOTH, "start": "2024-06-15", "end": "2024-06-15"},
    ]
    for query in queries:
        static = search(catalog, aoi=AOI, **query)
        api = search(url, aoi=AOI, **query)
        assert _ids(api) == _ids(static), query
        assert api.source.url == url
    across = search(url, aoi=ACROSS_180, collections=["sentinel-2-l2a"], **JUNE)
    assert sorted(_ids(across)) == ["east-of-180", "west-of-180"]


def test_the_api_itself_applies_polygon_and_time_semantics(catalog, stac_api):
    """Not only geomm's client-side checks: the server's own answer matches too."""
    from pystac_client import Client

    root = pystac.Catalog.from_file(str(catalog))
    url = stac_api(
        [c.to_dict() for c in root.get_children()],
        [i.to_dict() for i in root.get_items(recursive=True)],
    )
    static = search(catalog, aoi=AOI, collections=BOTH, **JUNE)
    raw = Client.open(url).search(
        collections=BOTH, intersects=AOI.to_geojson(), datetime=static.query.datetime_range
    )
    assert sorted(i.id for i in raw.items()) == sorted(_ids(static))
