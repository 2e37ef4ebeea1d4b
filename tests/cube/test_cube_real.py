"""``build_cube`` on real data: the six BigEarthNet S1/S2 pairs of the sample catalog.

Each BigEarthNet patch is 120 x 120 pixels of 10 m on the 10 m lattice of its
own UTM zone, and its S1 patch shares the S2 patch's grid. A cube built in
that zone therefore has a pixel centre on every source 10 m pixel centre, and
there the cube must hold the source values: the 10 m S2 bands exactly as the
committed GeoTIFFs store them (baseline 02.xx: no offset to remove), and S1
as the stored dB values up to float32 rounding (1e-5 dB). The source pixels
are read here with rasterio, independently of the cube's reader.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shapely.geometry import mapping, shape

from geomm.aoi import aoi_from_geojson, transform_geometry
from geomm.cube import CubeConfig, PairingRule, build_cube
from geomm.stac import CatalogSource, load_profile, search

BIGEARTHNET = Path(__file__).resolve().parents[2] / "catalogs" / "sample" / "bigearthnet"
S2_ITEMS = sorted((BIGEARTHNET / "bigearthnet-s2").glob("*/*.json"))
S2_10M = ("B02", "B03", "B04", "B08")
CHIP_M = 1200.0  # default chip: 120 px of 10 m


def _patch_aoi(item: dict, crs: str):
    """The item footprint shrunk by 15 m in its own UTM zone (so no neighbour patch touches)."""
    utm = transform_geometry(shape(item["geometry"]), "EPSG:4326", crs)
    inner = utm.buffer(-15.0, join_style="mitre")
    return aoi_from_geojson(mapping(transform_geometry(inner, crs, "EPSG:4326")))


def _read(path: Path) -> tuple[np.ndarray, rasterio.Affine, str]:
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs.to_string()


@pytest.fixture(scope="module")
def source() -> CatalogSource:
    # The committed BigEarthNet part alone, read with the sample profile (its
    # root catalog carries no geomm:profile field; the assembled sample does).
    return CatalogSource(profile=load_profile("sample"), path=BIGEARTHNET / "catalog.json")


def test_six_pairs_are_committed() -> None:
    assert len(S2_ITEMS) == 6


@pytest.mark.parametrize("s2_json", S2_ITEMS, ids=[p.parent.name for p in S2_ITEMS])
def test_cube_equals_source_pixels(s2_json: Path, source: CatalogSource) -> None:
    item = json.loads(s2_json.read_text())
    crs = item["properties"]["proj:code"]
    day = dt.date.fromisoformat(item["properties"]["datetime"][:10])
    s1_id = item["properties"]["bigearthnet:s1_patch"]
    found = search(
        source,
        aoi=_patch_aoi(item, crs),
        start=day - dt.timedelta(days=2),
        end=day + dt.timedelta(days=2),
        collections=["bigearthnet-s2", "bigearthnet-s1"],
    )
    assert sorted(i.id for i in found.items) == sorted([item["id"], s1_id])
    # Some S1 passes are a day away from their S2 patch: allow 3 days.
    config = CubeConfig(crs=crs, pairing=PairingRule(max_lag_days=3.0))
    ds = build_cube(
        found.items, aoi=_patch_aoi(item, crs), profile=found.source.profile, config=config
    ).load()

    assert ds.attrs["crs"] == crs
    assert ds.sizes["time"] == 1
    assert json.loads(ds.attrs["s1_items"]) == [[s1_id]]

    # Grid: pixel centres on the 10 m lattice, edges on the 1200 m chip lattice.
    x, y = ds.x.values, ds.y.values
    assert np.allclose(np.diff(x), 10.0) and np.allclose(np.diff(y), -10.0)
    assert np.allclose((x - 5.0) % 10.0, 0.0) and np.allclose((y - 5.0) % 10.0, 0.0)
    west, east = x[0] - 5.0, x[-1] + 5.0
    north, south = y[0] + 5.0, y[-1] - 5.0
    for edge in (west, east, north, south):
        assert math.isclose(edge / CHIP_M, round(edge / CHIP_M), abs_tol=1e-9), edge

    # Source grid of the patch (all 10 m assets share it).
    folder = s2_json.parent
    b02, tf, src_crs = _read(folder / f"{item['id']}_B02.tif")
    assert src_crs == crs
    assert tf.a == 10.0 and tf.e == -10.0
    # Cube indices of the source pixel centres: every one coincides with a cube centre.
    col = (tf.c - west) / 10.0
    row = (north - tf.f) / 10.0
    assert col == int(col) and row == int(row), "patch is off the cube's 10 m lattice"
    r0, c0 = int(row), int(col)
    h, w = b02.shape
    assert (h, w) == (120, 120)
    window = {"y": slice(r0, r0 + h), "x": slice(c0, c0 + w)}
    assert np.allclose(ds.x.values[c0 : c0 + w], tf.c + 5.0 + 10.0 * np.arange(w))
    assert np.allclose(ds.y.values[r0 : r0 + h], tf.f - 5.0 - 10.0 * np.arange(h))

    for band in S2_10M:
        ref, band_tf, _ = _read(folder / f"{item['id']}_{band}.tif")
        assert band_tf == tf
        cube = ds.s2.sel(s2_band=band).isel(time=0).isel(window).values
        assert cube.dtype == np.uint16
        np.testing.assert_array_equal(cube, ref, err_msg=f"{item['id']} {band}")

    s1_folder = BIGEARTHNET / "bigearthnet-s1" / s1_id
    for band in ("VV", "VH"):
        ref, s1_tf, _ = _read(s1_folder / f"{s1_id}_{band}.tif")
        assert s1_tf == tf, "BigEarthNet S1 patches share the S2 grid"
        cube = ds.s1.sel(s1_band=band).isel(time=0).isel(window).values
        assert cube.dtype == np.float32
        assert np.isfinite(ref).all()
        # Stored dB in, dB out where source and cube centres coincide: equal up to
        # float32 rounding (a reader may pass dB through linear power and back).
        assert np.isfinite(cube).all()
        err = float(np.abs(cube.astype(np.float64) - ref.astype(np.float64)).max())
        assert err <= 1e-5, f"{s1_id} {band}: max |cube - source| = {err} dB"

    # Outside the patch the cube is nodata (0 / NaN), not smeared edge values.
    outside = np.ones((ds.sizes["y"], ds.sizes["x"]), dtype=bool)
    outside[r0 : r0 + h, c0 : c0 + w] = False
    s2 = ds.s2.isel(time=0).values
    s1 = ds.s1.isel(time=0).values
    assert (s2[:, outside] == 0).all()
    assert np.isnan(s1[:, outside]).all()
    assert not np.isinf(s1).any()
