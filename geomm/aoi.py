"""Areas of interest: GeoJSON in, one clean lon/lat (Multi)Polygon out.

Every layer takes an :class:`Aoi`, so the checks happen once, here, with
messages that say what is wrong and how to fix it. Polygons that cross the
antimeridian are split at +-180 degrees (RFC 7946, section 3.1.9), so a
shapely intersection with scene footprints works on both sides.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from geomm.errors import AoiError

__all__ = ["Aoi", "aoi_from_geojson", "read_aoi", "split_antimeridian", "transform_geometry"]

_AREAL = ("Polygon", "MultiPolygon")
_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_CRS84 = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
}


@dataclass(frozen=True)
class Aoi:
    """An area of interest in CRS84 longitude/latitude."""

    geometry: Polygon | MultiPolygon
    """Valid polygon(s); split at the antimeridian when the area crosses it."""
    source: str = "<geojson>"
    """Where it came from (file path), for messages."""

    @property
    def crosses_antimeridian(self) -> bool:
        """True when the area was split at +-180 degrees."""
        minx, _, maxx, _ = self.geometry.bounds
        return minx <= -180.0 and maxx >= 180.0

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """STAC-style bbox; west > east when the area crosses the antimeridian."""
        if not self.crosses_antimeridian:
            return tuple(self.geometry.bounds)
        parts = list(getattr(self.geometry, "geoms", [self.geometry]))
        east_parts = [p for p in parts if p.bounds[0] >= 0]
        west_parts = [p for p in parts if p.bounds[0] < 0]
        west = min(p.bounds[0] for p in east_parts)
        east = max(p.bounds[2] for p in west_parts)
        south = min(p.bounds[1] for p in parts)
        north = max(p.bounds[3] for p in parts)
        return (west, south, east, north)

    @property
    def centroid(self) -> tuple[float, float]:
        """(lon, lat) of the area's centre, correct across the antimeridian."""
        if not self.crosses_antimeridian:
            c = self.geometry.centroid
            return (c.x, c.y)
        shifted = shapely.transform(self.geometry, lambda xy: xy + [[360.0, 0.0]] * (xy[:, :1] < 0))
        c = shifted.centroid
        return (c.x - 360.0 if c.x > 180.0 else c.x, c.y)

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON geometry dict of the (possibly split) area."""
        return mapping(self.geometry)


def transform_geometry(geometry: BaseGeometry, src_crs: Any, dst_crs: Any) -> BaseGeometry:
    """``geometry`` reprojected from ``src_crs`` to ``dst_crs`` (x/y = lon/lat order).

    Vertices are transformed exactly; densify first (``segmentize``) when
    straight edges must stay inside a curved image of the area.
    """
    from pyproj import Transformer

    to_dst = Transformer.from_crs(src_crs, dst_crs, always_xy=True)

    def move(xy):
        x, y = to_dst.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, move)


def read_aoi(path: str | Path) -> Aoi:
    """Read an AOI from a GeoJSON file (Geometry, Feature or FeatureCollection).

    Raises:
        AoiError: missing file, invalid JSON/GeoJSON, a non-areal geometry,
            projected coordinates, or an empty collection; the message says how
            to fix it.
    """
    p = Path(path)
    if not p.exists():
        raise AoiError(
            f"AOI file {str(p)!r} does not exist; pass a GeoJSON file with a Polygon, "
            "e.g. one drawn on geojson.io"
        )
    if p.is_dir():
        raise AoiError(f"AOI path {str(p)!r} is a folder; pass a GeoJSON file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AoiError(f"cannot read AOI file {str(p)!r}: {e}") from e
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise AoiError(
            f"AOI file {str(p)!r} is not valid JSON (line {e.lineno}, column {e.colno}: "
            f"{e.msg}); check it with a JSON validator"
        ) from e
    return aoi_from_geojson(obj, source=str(p))


def aoi_from_geojson(obj: Any, *, source: str = "<geojson>") -> Aoi:
    """Build an :class:`Aoi` from a parsed GeoJSON object (see :func:`read_aoi`)."""
    geometries = _geometries(obj, source)
    if not geometries:
        raise AoiError(f"AOI {source!r} contains no features; add a Polygon feature")
    polygons: list[Polygon] = []
    for geom in geometries:
        polygons.extend(_areal_parts(geom, source))
    merged = shapely.union_all(polygons)
    if merged.is_empty or merged.area == 0:
        raise AoiError(f"AOI {source!r} has zero area; draw a polygon that encloses an area")
    if isinstance(merged, Polygon):
        merged = merged  # already the right type
    elif not isinstance(merged, MultiPolygon):
        merged = MultiPolygon([g for g in getattr(merged, "geoms", []) if g.area > 0])
    return Aoi(geometry=merged, source=source)


# --------------------------------------------------------------------------- internals


def _geometries(obj: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(obj, dict) or "type" not in obj:
        raise AoiError(
            f"AOI {source!r} is not GeoJSON: expected an object with a 'type' "
            "(Polygon, Feature or FeatureCollection)"
        )
    _check_crs(obj, source)
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise AoiError(f"AOI {source!r}: FeatureCollection without a 'features' list")
        out: list[dict[str, Any]] = []
        for i, feature in enumerate(features):
            out.extend(_geometries_of_feature(feature, f"{source} feature {i}"))
        return out
    if kind == "Feature":
        return _geometries_of_feature(obj, source)
    if kind in _GEOMETRY_TYPES:
        return [obj]
    raise AoiError(
        f"AOI {source!r} has unknown GeoJSON type {kind!r}; expected a Polygon, "
        "MultiPolygon, Feature or FeatureCollection"
    )


def _geometries_of_feature(feature: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise AoiError(f"AOI {where!r} is not a GeoJSON Feature")
    geom = feature.get("geometry")
    if geom is None:
        raise AoiError(f"AOI {where!r} has a null geometry; give it a Polygon")
    if not isinstance(geom, dict) or geom.get("type") not in _GEOMETRY_TYPES:
        raise AoiError(f"AOI {where!r} has an invalid geometry")
    return [geom]


def _check_crs(obj: dict[str, Any], source: str) -> None:
    crs = obj.get("crs")
    if crs is None:
        return
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    if name not in _CRS84:
        raise AoiError(
            f"AOI {source!r} declares CRS {name!r}; GeoJSON AOIs must be longitude/latitude "
            "(CRS84/EPSG:4326): reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.shp`"
        )


def _areal_parts(geom: dict[str, Any], source: str) -> list[Polygon]:
    kind = geom["type"]
    if kind == "GeometryCollection":
        parts: list[Polygon] = []
        for sub in geom.get("geometries") or []:
            parts.extend(_areal_parts(sub, source))
        return parts
    if kind not in _AREAL:
        raise AoiError(
            f"AOI {source!r} contains a {kind}; an AOI must be a Polygon or MultiPolygon. "
            "Buffer points or lines into polygons first (e.g. shapely's buffer in a UTM CRS)"
        )
    _check_numbers(geom.get("coordinates"), source)
    try:
        shp: BaseGeometry = shape(geom)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, GEOSException) as e:
        raise AoiError(f"AOI {source!r} has malformed {kind} coordinates: {e}") from e
    _check_lonlat(shp, source)
    shp = split_antimeridian(shp)
    if not shp.is_valid:
        reason = shapely.is_valid_reason(shp)
        raise AoiError(
            f"AOI {source!r} is not a valid polygon ({reason}); fix it, e.g. with "
            "shapely.make_valid or QGIS 'Fix geometries'"
        )
    return list(getattr(shp, "geoms", [shp]))


def _check_numbers(coordinates: Any, source: str) -> None:
    """Every vertex value is a finite number (JSON's NaN/Infinity pass ``json.loads``).

    Checked before shapely sees them: a NaN vertex never closes a ring, and
    GEOS would fail on it with a message about ring closure, not about NaN.
    """
    if isinstance(coordinates, list | tuple):  # parsed JSON, or shapely's mapping()
        for value in coordinates:
            _check_numbers(value, source)
        return
    if isinstance(coordinates, bool) or not isinstance(coordinates, Real):
        raise AoiError(
            f"AOI {source!r} has a coordinate {coordinates!r} that is not a number; "
            "vertices are [longitude, latitude] pairs of numbers"
        )
    if not math.isfinite(coordinates):
        raise AoiError(
            f"AOI {source!r} has a non-finite coordinate ({coordinates}); every vertex needs "
            "a finite longitude and latitude: fix or redraw the polygon"
        )


def _check_lonlat(shp: BaseGeometry, source: str) -> None:
    coords = shapely.get_coordinates(shp)
    if len(coords) == 0:
        raise AoiError(f"AOI {source!r} has an empty geometry")
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise AoiError(
            f"AOI {source!r} has non-finite coordinates; every vertex needs a finite "
            "longitude and latitude: fix or redraw the polygon"
        )
    lon, lat = coords[:, 0], coords[:, 1]
    if lon.min() < -360 or lon.max() > 360 or lat.min() < -90 or lat.max() > 90:
        raise AoiError(
            f"AOI {source!r} coordinates are not longitude/latitude (x in "
            f"[{lon.min():.6g}, {lon.max():.6g}], y in [{lat.min():.6g}, {lat.max():.6g}]); "
            "GeoJSON must be CRS84: reproject to EPSG:4326"
        )


def split_antimeridian(shp: BaseGeometry) -> BaseGeometry:
    """Split polygons that cross +-180 degrees into parts on each side.

    A crossing shows either as an edge jumping by more than 180 degrees of
    longitude (179 -> -179) or as longitudes beyond 180 (179 -> 181).
    """
    coords = shapely.get_coordinates(shp)
    lon = coords[:, 0]
    jumps = abs(lon[1:] - lon[:-1]).max(initial=0.0) > 180.0
    if not jumps and lon.min() >= -180.0 and lon.max() <= 180.0:
        return shp
    import antimeridian

    # Straight edges in lon/lat, as RFC 7946 draws them; no great circles.
    if isinstance(shp, Polygon):
        return antimeridian.fix_polygon(shp, great_circle=False)
    return antimeridian.fix_multi_polygon(shp, great_circle=False)
