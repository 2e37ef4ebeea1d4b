"""The reader's sampling plans, mosaic order and GDAL settings, against independent truths."""

from __future__ import annotations

import ctypes
import glob
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.env import getenv

from geomm.cube._grid import CubeGrid
from geomm.cube._read import (
    BandSource,
    ItemSource,
    _plan,
    _PlanCache,
    _read_task,
    _value_range,
    mosaic_order,
)
from geomm.cube._scratch import scratch

# A cube in UTM 33 just east of 12 E, and a 20 m S2-like grid in UTM 32 over it.
GRID = CubeGrid(
    crs="EPSG:32633",
    resolution=10.0,
    chip_size=120,
    chunk_chips=8,
    col0=224,
    row0=4441,
    ncols=14,
    nrows=14,
)
UTM32_20M = (20.0, 0.0, 699960.0, 0.0, -20.0, 5400000.0)


@pytest.mark.parametrize("block", [(0, 960, 0, 960), (960, 1680, 960, 1680), (0, 7, 5, 301)])
def test_cross_zone_positions_equal_the_exact_transform(block):
    """Positions from the 16 px coarse grid equal pyproj at every pixel within 1e-3 px."""
    r0, r1, c0, c1 = block
    window, rows, cols, layout = _plan("EPSG:32632", UTM32_20M, (5490, 5490), GRID, *block)
    assert layout == "general" and rows.shape == cols.shape == (r1 - r0, c1 - c0)
    west, _, _, north = GRID.bounds
    x, y = np.meshgrid(
        west + (np.arange(c0, c1) + 0.5) * 10, north - (np.arange(r0, r1) + 0.5) * 10
    )
    sx, sy = Transformer.from_crs("EPSG:32633", "EPSG:32632", always_xy=True).transform(x, y)
    inv = ~Affine(*UTM32_20M)
    exact_cols = inv.a * sx + inv.b * sy + inv.c - 0.5 - window.col_off
    exact_rows = inv.d * sx + inv.e * sy + inv.f - 0.5 - window.row_off
    np.testing.assert_allclose(cols, exact_cols, atol=1e-3, rtol=0)
    np.testing.assert_allclose(rows, exact_rows, atol=1e-3, rtol=0)
    # the window holds every sample and its bilinear neighbours, and no more
    assert 0 <= rows.min() < 1 and 0 <= cols.min() < 1
    assert window.height - 2 <= rows.max() < window.height - 1
    assert window.width - 2 <= cols.max() < window.width - 1


def test_map_ranges_ignore_positions_outside_a_crs_domain():
    values = np.array([[5.0, np.nan], [2.5, 7.0]], dtype=np.float32)
    assert _value_range(values) == (2.5, 7.0)
    assert _value_range(values[:, :1].copy()) == (2.5, 5.0)


def _item(item_id: str, crs: str) -> ItemSource:
    band = BandSource("x.tif", crs, UTM32_20M, (5490, 5490), 0, item_id, "B04")
    return ItemSource(item_id, (band,))


def test_mosaic_order_puts_items_in_the_cube_crs_first_then_ids():
    items = [
        _item("T32UQU-a", "EPSG:32632"),
        _item("T33UUP", "EPSG:32633"),
        _item("T32UQU-b", "EPSG:32632"),
        _item("T33UTP", "EPSG:32633"),
    ]
    ordered = mosaic_order(items, "EPSG:32633")
    assert [i.item_id for i in ordered] == ["T33UUP", "T33UTP", "T32UQU-a", "T32UQU-b"]
    # stable: within each group the incoming (id) order is kept
    assert [i.item_id for i in mosaic_order(items, "EPSG:32632")][:2] == ["T32UQU-a", "T32UQU-b"]


def _gdal_cache_max() -> int:
    libs = glob.glob(str(Path(rasterio.__file__).parent.parent / "rasterio.libs" / "libgdal*"))
    if not libs:
        pytest.skip("rasterio's bundled libgdal not found (not a wheel install)")
    lib = ctypes.CDLL(libs[0])
    lib.GDALGetCacheMax64.restype = ctypes.c_int64
    return lib.GDALGetCacheMax64()


def test_a_reading_task_is_one_call_with_a_small_gdal_cache_and_a_scratch_pool():
    """rasterio reads GDAL_CACHEMAX as bytes: 32 would be a 32-byte cache (no caching)."""
    seen = []

    def probe(rows: slice, cols: slice, out: np.ndarray) -> np.ndarray:
        seen.append((rows, cols, _gdal_cache_max(), getenv().get("GTIFF_SRS_SOURCE")))
        a, b = scratch("probe", (4,), np.uint8), scratch("probe", (4,), np.uint8)
        assert np.shares_memory(a, b)  # pooled for the task
        out[:] = rows.start + cols.start
        return out

    out = _read_task(probe, (), {}, slice(2, 10), slice(1, 7), (1, "|u1"))
    assert out.shape == (1, 1, 8, 6) and (out == 3).all()
    # opens build the file's CRS from its GeoTIFF keys alone (the grid comes from STAC)
    assert seen == [(slice(2, 10), slice(1, 7), 32 * 2**20, "GEOKEYS")]


def test_the_plan_cache_is_bounded_by_bytes():
    cache = _PlanCache(budget=100)
    made = []

    def plan(n: int):  # noqa: ANN202
        made.append(n)
        return None, np.zeros(n, np.uint8), np.zeros(n, np.uint8), "general"

    cache.get("a", lambda: plan(30))  # 60 bytes
    cache.get("b", lambda: plan(20))  # 100 bytes: at the budget
    assert cache.get("a", lambda: plan(30))[1].size == 30 and made == [30, 20]  # a hit
    cache.get("c", lambda: plan(10))  # over budget: b, the least recent, goes
    cache.get("b", lambda: plan(20))
    assert made == [30, 20, 10, 20]
    cache.get("huge", lambda: plan(500))  # alone over the budget: kept, all else dropped
    assert cache.get("huge", lambda: plan(500)) is not None and made[-1] == 500
    assert len(made) == 5


def test_plans_hold_maps_that_opencv_takes_without_a_copy():
    """C-contiguous float32: a copy per band and date otherwise (~1 ms each)."""
    for crs, transform in (
        ("EPSG:32632", UTM32_20M),
        ("EPSG:32633", (60.0, 0, 199980.0, 0, -60.0, 5400000.0)),
    ):
        _, rows, cols, layout = _plan(crs, transform, (5490, 5490), GRID, 0, 960, 0, 960)
        assert layout == "general"
        for m in (rows, cols):
            assert m.dtype == np.float32 and m.flags["C_CONTIGUOUS"]
