"""AOI reading: every bad input gets a clear message; good ones become clean polygons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box

from geomm.aoi import Aoi, aoi_from_geojson, read_aoi
from geomm.errors import AoiError

SQUARE = {"type": "Polygon", "coordinates": [[[10, 40], [11, 40], [11, 41], [10, 41], [10, 40]]]}


def _write(tmp_path: Path, obj: object, name: str = "aoi.geojson") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.mark.parametrize(
    "wrapper",
    [
        lambda g: g,
        lambda g: {"type": "Feature", "properties": {}, "geometry": g},
        lambda g: {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": g}],
        },
    ],
    ids=["geometry", "feature", "collection"],
)
def test_geometry_feature_and_collection_give_the_same_area(tmp_path, wrapper):
    aoi = read_aoi(_write(tmp_path, wrapper(SQUARE)))
    assert aoi.geometry.equals(box(10, 40, 11, 41))
    assert aoi.bbox == (10, 40, 11, 41)
    assert aoi.centroid == pytest.approx((10.5, 40.5))


def test_feature_collection_is_the_union_of_its_features():
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": SQUARE},
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [[[10.5, 40], [12, 40], [12, 41], [10.5, 41], [10.5, 40]]],
                        [[[20, 0], [21, 0], [21, 1], [20, 1], [20, 0]]],
                    ],
                },
            },
        ],
    }
    aoi = aoi_from_geojson(fc)
    expected = shapely.union_all([box(10, 40, 12, 41), box(20, 0, 21, 1)])
    assert aoi.geometry.symmetric_difference(expected).area < 1e-12
    assert aoi.geometry.area == pytest.approx(2 + 1)


@pytest.mark.parametrize(
    "ring",
    [
        [[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]],  # edge jumps across +-180
        [[179, -1], [181, -1], [181, 1], [179, 1], [179, -1]],  # longitudes beyond 180
    ],
    ids=["wrapped", "beyond-180"],
)
def test_antimeridian_polygon_is_split_on_both_sides(ring):
    aoi = aoi_from_geojson({"type": "Polygon", "coordinates": [ring]})
    assert aoi.crosses_antimeridian
    expected = shapely.union_all([box(179, -1, 180, 1), box(-180, -1, -179, 1)])
    assert aoi.geometry.symmetric_difference(expected).area < 1e-9
    # bbox follows STAC's convention for crossing areas: west > east
    assert aoi.bbox == (179, -1, -179, 1)
    lon, lat = aoi.centroid
    assert abs(abs(lon) - 180) < 1e-9 and lat == pytest.approx(0, abs=1e-9)
    # A point just east of the line and one just west of it are both inside
    assert aoi.geometry.contains(shapely.Point(179.5, 0))
    assert aoi.geometry.contains(shapely.Point(-179.5, 0))
    assert not aoi.geometry.contains(shapely.Point(0, 0))


def test_missing_file(tmp_path):
    with pytest.raises(AoiError, match=r"does not exist; pass a GeoJSON file"):
        read_aoi(tmp_path / "nope.geojson")


def test_invalid_json_names_line_and_column(tmp_path):
    path = _write(tmp_path, '{"type": "Polygon",\n "coordinates": [[[1, 2]]')
    with pytest.raises(AoiError, match=r"is not valid JSON \(line 2, column \d+"):
        read_aoi(path)


@pytest.mark.parametrize(
    ("obj", "pattern"),
    [
        ([1, 2, 3], r"is not GeoJSON: expected an object with a 'type'"),
        ({"type": "Polygonal", "coordinates": []}, r"unknown GeoJSON type 'Polygonal'"),
        ({"type": "Feature", "properties": {}, "geometry": None}, r"null geometry"),
        ({"type": "FeatureCollection"}, r"without a 'features' list"),
        ({"type": "Polygon", "coordinates": [[[1, 2], [3]]]}, r"malformed Polygon coordinates"),
    ],
    ids=["not-object", "unknown-type", "null-geometry", "no-features", "bad-coordinates"],
)
def test_invalid_geojson(obj, pattern):
    with pytest.raises(AoiError, match=pattern):
        aoi_from_geojson(obj, source="x.geojson")


@pytest.mark.parametrize(
    "geom",
    [
        {"type": "Point", "coordinates": [10, 40]},
        {"type": "LineString", "coordinates": [[10, 40], [11, 41]]},
        {"type": "MultiPoint", "coordinates": [[10, 40], [11, 41]]},
    ],
    ids=lambda g: g["type"],
)
def test_non_areal_geometry_is_refused_with_a_fix(geom):
    with pytest.raises(AoiError, match=rf"contains a {geom['type']}; an AOI must be a Polygon"):
        aoi_from_geojson(geom)


def test_empty_collection():
    with pytest.raises(AoiError, match="contains no features"):
        aoi_from_geojson({"type": "FeatureCollection", "features": []})


def test_projected_coordinates_are_refused():
    utm = {
        "type": "Polygon",
        "coordinates": [
            [[500000, 5300000], [501000, 5300000], [501000, 5301000], [500000, 5300000]]
        ],
    }
    with pytest.raises(AoiError, match=r"not longitude/latitude .* reproject to EPSG:4326"):
        aoi_from_geojson(utm)


def test_declared_foreign_crs_is_refused():
    obj = {**SQUARE, "crs": {"type": "name", "properties": {"name": "EPSG:32632"}}}
    with pytest.raises(AoiError, match=r"declares CRS 'EPSG:32632'"):
        aoi_from_geojson(obj)
    ok = {
        **SQUARE,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }
    assert isinstance(aoi_from_geojson(ok), Aoi)


def test_self_intersecting_polygon_is_refused():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(AoiError, match=r"not a valid polygon \(Self-intersection"):
        aoi_from_geojson(bowtie)


def test_zero_area_polygon_is_refused():
    flat = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}
    with pytest.raises(AoiError):
        aoi_from_geojson(flat)


def test_bundled_demo_aoi_crosses_the_utm_zone_boundary():
    from geomm.sample import sample_aoi_path

    aoi = read_aoi(sample_aoi_path())
    west, _, east, _ = aoi.bbox
    assert west < 12.0 < east  # UTM zones 32 and 33 meet at 12 degrees E
