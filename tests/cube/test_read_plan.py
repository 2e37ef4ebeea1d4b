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

from geomm.cube import _geomm_reader
from geomm.cube._geomm_reader import GeommReader
from geomm.cube._grid import CubeGrid
from geomm.cube._plan import PlanCache, ReadPlan, _value_range, mosaic_order, plan_read
from geomm.cube._readahead import read_chunk
from geomm.cube._reader import Block, BlockRequest, GridWindow, Mosaic, PixelWindow, Sensor
from geomm.cube._resample import Layout
from geomm.cube._scratch import scratch
from geomm.cube._sources import BandSource, ItemSource, SourceGrid
from geomm.stac import load_profile

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


def _plan(crs: str, transform, block: tuple[int, int, int, int]) -> ReadPlan:
    """The plan of a 5490 px source grid for ``block`` (rows r0:r1, cols c0:c1) of GRID."""
    plan = plan_read(
        SourceGrid(crs, transform, (5490, 5490)), GridWindow(GRID, PixelWindow(*block))
    )
    assert plan is not None
    return plan


@pytest.mark.parametrize("block", [(0, 960, 0, 960), (960, 1680, 960, 1680), (0, 7, 5, 301)])
def test_cross_zone_positions_equal_the_exact_transform(block):
    """Positions from the 16 px coarse grid equal pyproj at every pixel within 1e-3 px."""
    r0, r1, c0, c1 = block
    plan = _plan("EPSG:32632", UTM32_20M, block)
    window, rows, cols = plan.window, plan.rows, plan.cols
    assert plan.layout is Layout.GENERAL and rows.shape == cols.shape == (r1 - r0, c1 - c0)
    west, _, _, north = GRID.bounds
    x, y = np.meshgrid(
        west + (np.arange(c0, c1) + 0.5) * 10, north - (np.arange(r0, r1) + 0.5) * 10
    )
    sx, sy = Transformer.from_crs("EPSG:32633", "EPSG:32632", always_xy=True).transform(x, y)
    inv = ~Affine(*UTM32_20M)
    exact_cols = inv.a * sx + inv.b * sy + inv.c - 0.5 - window.col0
    exact_rows = inv.d * sx + inv.e * sy + inv.f - 0.5 - window.row0
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


def test_a_block_is_one_call_with_a_small_gdal_cache_and_a_scratch_pool(monkeypatch):
    """rasterio reads GDAL_CACHEMAX as bytes: 32 would be a 32-byte cache (no caching).

    The reader sets both up itself, so a block read from a plain loop gets
    them as a Dask task does; the task adds the validity layer.
    """
    seen = []

    def probe(sources, *, block, out, **kwargs) -> Block:
        px = block.pixels
        seen.append((sources, px, _gdal_cache_max(), getenv().get("GTIFF_SRS_SOURCE")))
        a, b = scratch("probe", (4,), np.uint8), scratch("probe", (4,), np.uint8)
        assert np.shares_memory(a, b)  # pooled for the block
        out[:] = px.row0 + px.col0
        return Block(data=out, valid=np.ones(px.shape, dtype=bool))

    monkeypatch.setattr(_geomm_reader, "read_s2_block", probe)
    mosaic = Mosaic(Sensor.S2, (), load_profile("sample"), "bilinear")
    request = BlockRequest(mosaic=mosaic, window=GridWindow(GRID, PixelWindow(2, 10, 1, 7)))
    out = read_chunk(GeommReader(), request, layers=13)  # what a task (or a read-ahead) makes
    assert out.shape == (1, 13, 8, 6) and out.dtype == np.uint16
    assert (out[0, :12] == 3).all() and (out[0, 12] == 1).all()
    # opens build the file's CRS from its GeoTIFF keys alone (the grid comes from STAC)
    assert seen == [((), PixelWindow(2, 10, 1, 7), 32 * 2**20, "GEOKEYS")]


def test_the_plan_cache_is_bounded_by_bytes():
    cache = PlanCache(budget=100)
    made = []

    def plan(n: int) -> ReadPlan:
        made.append(n)
        window = PixelWindow(0, 1, 0, n)
        rows, cols = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        return ReadPlan(window=window, rows=rows, cols=cols, layout=Layout.GENERAL)

    cache.get("a", lambda: plan(30))  # 60 bytes
    cache.get("b", lambda: plan(20))  # 100 bytes: at the budget
    assert cache.get("a", lambda: plan(30)).rows.size == 30 and made == [30, 20]  # a hit
    cache.get("c", lambda: plan(10))  # over budget: b, the least recent, goes
    cache.get("b", lambda: plan(20))
    assert made == [30, 20, 10, 20]
    cache.get("huge", lambda: plan(500))  # alone over the budget: kept, all else dropped
    assert cache.get("huge", lambda: plan(500)) is not None and made[-1] == 500
    assert len(made) == 5


def test_plans_hold_maps_that_opencv_takes_without_a_copy():
    """C-contiguous float32: a copy per band and date otherwise."""
    for crs, transform in (
        ("EPSG:32632", UTM32_20M),
        ("EPSG:32633", (60.0, 0, 199980.0, 0, -60.0, 5400000.0)),
    ):
        plan = _plan(crs, transform, (0, 960, 0, 960))
        assert plan.layout is Layout.GENERAL
        for m in (plan.rows, plan.cols):
            assert m.dtype == np.float32 and m.flags["C_CONTIGUOUS"]
