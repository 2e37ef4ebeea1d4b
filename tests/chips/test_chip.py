"""Chip ids, footprints and the chips of a cube, against hand computations and pyproj."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pytest
import shapely
import xarray as xr
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from geomm.aoi import Aoi, aoi_from_geojson, transform_geometry
from geomm.chips import Chip, ChipError, chip_id, cube_chips, cube_layout
from geomm.cube import CubeGrid, cube_grid


def grid_dataset(grid: CubeGrid) -> xr.Dataset:
    """A cube skeleton: the coordinates and chip-grid attributes build_cube writes."""
    west, _, _, north = grid.bounds
    height, width = grid.shape
    return xr.Dataset(
        coords={
            "y": north - (np.arange(height) + 0.5) * grid.resolution,
            "x": west + (np.arange(width) + 0.5) * grid.resolution,
        },
        attrs={
            "crs": grid.crs,
            "chip_size": grid.chip_size,
            "chunk_chips": grid.chunk_chips,
            "resolution": grid.resolution,
            "chip_grid_origin": json.dumps({"col0": grid.col0, "row0": grid.row0}),
        },
    )


def utm33_grid(col0: int = 345, row0: int = 4440, ncols: int = 3, nrows: int = 2) -> CubeGrid:
    return CubeGrid("EPSG:32633", 10.0, 120, 2, col0, row0, ncols, nrows)


def lonlat_aoi(coords: list[tuple[float, float]]) -> Aoi:
    return aoi_from_geojson(mapping(Polygon(coords)))


def projected(aoi: Aoi, crs: str):
    """The AOI in the cube CRS, densified independently of geomm.chips (every ~0.0002 deg)."""
    parts = getattr(aoi.geometry, "geoms", [aoi.geometry])
    return shapely.union_all(
        [transform_geometry(p.segmentize(0.0002), "EPSG:4326", crs) for p in parts]
    )


def assert_tiles(chips: list[Chip], area) -> None:
    """Chips cover ``area``, never overlap, and each overlaps it with an area."""
    boxes = [box(*c.bounds()) for c in chips]
    assert area.difference(shapely.union_all(boxes)).area < 1e-6 * area.area
    for a, b in itertools.combinations(boxes, 2):
        assert a.intersection(b).area == 0
    for c, b in zip(chips, boxes, strict=True):
        assert b.intersection(area).area > 0, c.chip_id


# --------------------------------------------------------------------------- ids and bounds


def test_chip_id_is_epsg_size_resolution_and_padded_indices():
    assert chip_id("EPSG:32633", 120, 10.0, 345, 4012) == "32633-120px10m-00345-04012"
    assert chip_id("epsg:32633", 120, 10, 345, 4012) == "32633-120px10m-00345-04012"
    wkt = CRS.from_epsg(32633).to_wkt()
    assert chip_id(wkt, 120, 10.0, 345, 4012) == "32633-120px10m-00345-04012"
    assert chip_id("EPSG:32701", 96, 2.5, 7, 123456) == "32701-96px2.5m-00007-123456"
    # grids west or south of a CRS's origin: negative indices stay distinct
    ids = {chip_id("EPSG:3857", 120, 10.0, c, r) for c in (-12, -1, 0, 1, 12) for r in (-3, 3)}
    assert len(ids) == 10
    assert chip_id("EPSG:3857", 120, 10.0, -12, 3) == "3857-120px10m--0012-00003"


def test_chip_id_refuses_a_crs_without_epsg_code_and_bad_sizes():
    custom = "+proj=tmerc +lat_0=0 +lon_0=12.3 +k=0.9996 +x_0=500000 +y_0=0 +datum=WGS84 +units=m"
    with pytest.raises(ChipError, match="no EPSG code"):
        chip_id(custom, 120, 10.0, 1, 1)
    with pytest.raises(ChipError, match="chip_size"):
        chip_id("EPSG:32633", 0, 10.0, 1, 1)
    with pytest.raises(ChipError, match="resolution"):
        chip_id("EPSG:32633", 120, -10.0, 1, 1)


def test_bounds_and_windows_match_a_hand_computed_grid():
    ds = grid_dataset(utm33_grid())
    chips = cube_chips(ds)
    # 1200 m chips: col 345 -> west 414000 m; row 4440 -> north 5328000 m
    first = chips[0]
    assert (first.col, first.row, first.crs) == (345, 4440, "EPSG:32633")
    assert first.chip_id == "32633-120px10m-00345-04440"
    assert first.bounds() == (414000.0, 5326800.0, 415200.0, 5328000.0)
    assert (first.y, first.x) == (slice(0, 120), slice(0, 120))
    # row-major, north to south, then west to east
    assert [(c.col, c.row) for c in chips] == [
        (345, 4440), (346, 4440), (347, 4440), (345, 4439), (346, 4439), (347, 4439)
    ]  # fmt: skip
    last = chips[-1]
    assert last.bounds() == (416400.0, 5325600.0, 417600.0, 5326800.0)
    assert (last.y, last.x) == (slice(120, 240), slice(240, 360))
    # the window's pixel centres lie inside the chip's bounds
    w, s, e, n = last.bounds()
    xs, ys = ds.x.values[last.x], ds.y.values[last.y]
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (w + 5, e - 5, n - 5, s + 5)


def test_wgs84_footprint_corners_are_the_pyproj_transform_of_the_bounds():
    chip = cube_chips(grid_dataset(utm33_grid()))[4]
    geom = chip.geometry_wgs84()
    assert isinstance(geom, Polygon) and geom.is_valid
    to_ll = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    w, s, e, n = chip.bounds()
    vertices = shapely.get_coordinates(geom)
    for x, y in [(w, s), (e, s), (e, n), (w, n)]:
        lon, lat = to_ll.transform(x, y)
        assert np.abs(vertices - [lon, lat]).sum(axis=1).min() < 1e-12
    # densified: the extra vertices map back onto the chip's edges
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    assert len(vertices) > 5
    back = shapely.points(np.column_stack(to_utm.transform(vertices[:, 0], vertices[:, 1])))
    assert shapely.distance(back, box(w, s, e, n).exterior).max() < 1e-6


def test_chips_pickle_and_hash():
    chips = cube_chips(grid_dataset(utm33_grid()))
    assert pickle.loads(pickle.dumps(chips)) == chips
    assert len(set(chips)) == len(chips)


# --------------------------------------------------------------------------- AOI selection


# A concave lon/lat AOI near 12 E 48 N (an "L"), a few chips wide.
L_SHAPE = [(12.00, 48.00), (12.06, 48.00), (12.06, 48.015), (12.02, 48.02), (12.02, 48.05),
           (12.00, 48.05), (12.00, 48.00)]  # fmt: skip


def test_chips_tile_the_aoi_without_gaps_or_overlaps():
    aoi = lonlat_aoi(L_SHAPE)
    grid = cube_grid(aoi)
    ds = grid_dataset(grid)
    chips = cube_chips(ds, aoi)
    area = projected(aoi, grid.crs)
    assert_tiles(chips, area)
    # the concave corner leaves cube chips out, and those do not overlap the AOI
    everything = cube_chips(ds)
    assert len(chips) < len(everything)
    left_out = set(everything) - set(chips)
    assert left_out
    for c in left_out:
        assert box(*c.bounds()).intersection(area).area < 1e-6 * 1200**2
    assert chips == [c for c in everything if c in set(chips)]  # same row-major order


def test_a_sub_aoi_yields_the_same_ids_from_its_own_cube():
    aoi = lonlat_aoi(L_SHAPE)
    sub = lonlat_aoi([(12.003, 48.021), (12.017, 48.021), (12.017, 48.047), (12.003, 48.047)])
    assert aoi.geometry.contains(sub.geometry)
    big = {c.chip_id: c for c in cube_chips(grid_dataset(cube_grid(aoi)), aoi)}
    sub_ds = grid_dataset(cube_grid(sub))  # another cube: another origin and size
    small = cube_chips(sub_ds, sub)
    assert small and {c.chip_id for c in small} <= set(big)
    for c in small:
        assert c.bounds() == big[c.chip_id].bounds()
    assert_tiles(small, projected(sub, "EPSG:32633"))
    # and the sub-AOI's chips within the big cube are the same ones
    assert [c.chip_id for c in cube_chips(grid_dataset(cube_grid(aoi)), sub)] == [
        c.chip_id for c in small
    ]


def test_an_aoi_along_chip_edges_does_not_pick_up_neighbours():
    # exactly chips (345..346, 4439..4440) in UTM, round-tripped through lon/lat
    ds = grid_dataset(utm33_grid())
    edges = box(414000, 5325600, 416400, 5328000).segmentize(50.0)
    aoi = aoi_from_geojson(mapping(transform_geometry(edges, "EPSG:32633", "EPSG:4326")))
    assert [(c.col, c.row) for c in cube_chips(ds, aoi)] == [
        (345, 4440), (346, 4440), (345, 4439), (346, 4439)
    ]  # fmt: skip


def test_an_aoi_outside_the_cube_yields_no_chips():
    ds = grid_dataset(utm33_grid())
    assert cube_chips(ds, lonlat_aoi([(13, 50), (13.1, 50), (13.1, 50.1), (13, 50)])) == []


def test_antimeridian_aoi_and_footprints():
    # Fiji: an AOI from 179.97 E to 179.97 W, split at 180 by geomm.aoi
    coords = [(179.97, -17.02), (180.03, -17.02), (180.03, -16.98), (179.97, -16.98)]
    aoi = aoi_from_geojson(mapping(Polygon(coords)))
    assert aoi.crosses_antimeridian
    grid = cube_grid(aoi)
    assert grid.crs == "EPSG:32701"
    chips = cube_chips(grid_dataset(grid), aoi)
    assert_tiles(chips, projected(aoi, grid.crs))
    footprints = [c.geometry_wgs84() for c in chips]
    across = [g for g in footprints if isinstance(g, MultiPolygon)]
    assert across, "some chip straddles 180 degrees"
    for g in footprints:
        assert g.is_valid
        lon = shapely.get_coordinates(g)[:, 0]
        assert lon.min() >= -180 and lon.max() <= 180
    for g in across:
        sides = sorted(p.bounds[0] for p in g.geoms)
        assert sides[0] < 0 < sides[-1]
        assert any(p.bounds[2] == 180.0 for p in g.geoms)
    # the footprints cover the lon/lat AOI, both halves
    cover = shapely.union_all(footprints)
    assert aoi.geometry.difference(cover).area < 1e-6 * aoi.geometry.area


# --------------------------------------------------------------------------- cube checks


def test_a_cube_without_chip_grid_attributes_is_refused():
    ds = grid_dataset(utm33_grid())
    bare = ds.copy()
    bare.attrs = {"crs": "EPSG:32633"}
    with pytest.raises(ChipError, match=r"lacks the chip-grid attribute.*chip_grid_origin"):
        cube_chips(bare)
    bad = ds.copy()
    bad.attrs = {**ds.attrs, "chip_grid_origin": "[1, 2]"}
    with pytest.raises(ChipError, match="chip_grid_origin must be JSON"):
        cube_chips(bad)


def test_sliced_cubes_keep_their_ids_or_are_refused_when_off_grid():
    ds = grid_dataset(utm33_grid())
    full = {c.chip_id: c for c in cube_chips(ds)}
    part = cube_chips(ds.isel(x=slice(120, 360), y=slice(120, 240)))
    assert [c.chip_id for c in part] == [full[c.chip_id].chip_id for c in part]
    assert [(c.col, c.row) for c in part] == [(346, 4439), (347, 4439)]
    assert [c.x for c in part] == [slice(0, 120), slice(120, 240)]
    with pytest.raises(ChipError, match="not on the chip grid"):
        cube_chips(ds.isel(x=slice(60, 180)))
    with pytest.raises(ChipError, match="not a whole number"):
        cube_chips(ds.isel(x=slice(0, 200)))


def test_layout_without_coordinates_uses_the_origin_attribute():
    ds = grid_dataset(utm33_grid()).drop_vars(["x", "y"])
    ds = ds.assign(clear=(("y", "x"), np.zeros((240, 360), dtype=bool)))
    layout = cube_layout(ds)
    assert (layout.col0, layout.row0, layout.ncols, layout.nrows) == (345, 4440, 3, 2)


def test_a_cube_in_a_crs_without_epsg_code_cannot_cut_chips():
    ds = grid_dataset(utm33_grid())
    ds.attrs["crs"] = "+proj=tmerc +lon_0=12.3 +k=0.9996 +x_0=500000 +datum=WGS84 +units=m"
    with pytest.raises(ChipError, match="no EPSG code"):
        cube_chips(ds)
