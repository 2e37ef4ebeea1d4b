"""``LoadOptions`` resampling methods, and options checked when they are given.

With ``nearest``, each cube value is the value of the source pixel that
contains the cube pixel's centre: harmonized for S2 (the first item in
mosaic order that has data there), 10 log10 of the linear power for S1.
That pixel is found here independently of the reader: pyproj for the
centre's position in the source CRS, the COG's own transform for the pixel
index, rasterio for its value. The region straddles 12 E, so the cube
(EPSG:32633) takes the zone-33 tile as a window (10 m) and exact 2x / 6x
blocks (20 / 60 m), and the zone-32 tile and the off-lattice S1 scene
through cross-zone maps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from geomm.cube import CubeConfig, GeommReader, LoadOptions, OdcReader, PairingRule, build_cube
from geomm.errors import GeommError, OptionError

READERS = {"geomm": GeommReader(), "odc": OdcReader()}

TIE_PX = 0.01
"""Centres closer than this to a source pixel's edge are skipped: there the
reader's interpolated cross-zone positions and pyproj's exact ones may fall
on either side."""


@pytest.fixture(scope="module", params=["geomm", "odc"])
def nearest_cube(small_region, request: pytest.FixtureRequest) -> xr.Dataset:
    """The cube with nearest resampling, through geomm's reader or odc-stac's."""
    items, aoi, profile = small_region.items, small_region.aoi, small_region.profile
    reader = READERS[request.param]
    load = LoadOptions(s2_resampling="nearest", s1_resampling="nearest", reader=reader)
    return build_cube(items, aoi=aoi, profile=profile, config=CubeConfig(load=load)).load()


def _engine(ds: xr.Dataset) -> str:
    """The reader a cube was read with, by the name its ``load_options`` record."""
    return json.loads(ds.attrs["load_options"])["engine"]


def _source_pixels(href: str, crs: str, x: np.ndarray, y: np.ndarray):
    """(value, inside, margin) of the source pixel containing each (x, y) of ``crs``.

    ``margin``: the position's distance to that pixel's nearest edge, in pixels.
    """
    with rasterio.open(href) as src:
        data, t, src_crs = src.read(1), src.transform, src.crs
    xs, ys = Transformer.from_crs(crs, src_crs, always_xy=True).transform(x, y)
    col_f, row_f = (xs - t.c) / t.a, (ys - t.f) / t.e
    col, row = np.floor(col_f).astype(int), np.floor(row_f).astype(int)
    inside = (col >= 0) & (col < data.shape[1]) & (row >= 0) & (row < data.shape[0])
    value = data[np.clip(row, 0, data.shape[0] - 1), np.clip(col, 0, data.shape[1] - 1)]
    margin = np.minimum(np.abs(col_f - np.round(col_f)), np.abs(row_f - np.round(row_f)))
    return value, inside, margin


def _centres(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(ds.x.values, ds.y.values)


@pytest.mark.parametrize("band", ["B04", "B05", "B01"], ids=["10m", "20m", "60m"])
def test_nearest_s2_is_the_harmonized_source_pixel(
    nearest_cube: xr.Dataset,
    small_region,
    band: str,
) -> None:
    items = small_region.items
    ds = nearest_cube
    crs = ds.attrs["crs"]
    x, y = _centres(ds)
    s2 = [i for i in items if i.collection_id == "synthetic-s2-l2a"]
    # geomm's mosaic order: the tile in the cube's CRS first, the other zone's
    # where it has no data
    s2.sort(key=lambda i: i.properties["proj:code"] != crs)
    assert [i.properties["proj:code"] for i in s2] == ["EPSG:32633", "EPSG:32632"]
    expected = np.zeros(x.shape, dtype=np.int64)  # 0: no source has data there
    candidates = []  # each tile's harmonized value, -1 where it has none
    tie = np.zeros(x.shape, dtype=bool)
    for item in s2:
        assert item.properties["s2:processing_baseline"] >= "04.00"  # offset 1000
        value, inside, margin = _source_pixels(item.assets[band].get_absolute_href(), crs, x, y)
        has = inside & (value > 0)
        candidates.append(np.where(has, np.maximum(value.astype(np.int64) - 1000, 1), -1))
        tie |= inside & (margin < TIE_PX)
        new = has & (expected == 0)
        expected[new] = candidates[-1][new]
    # both tiles supply pixels: the window / block path and the cross-zone path
    native, other = (c > 0 for c in candidates)
    assert native.sum() > 10_000 and (other & ~native).sum() > 10_000
    cube = ds.s2.sel(s2_band=band).isel(time=0).values
    check = ~tie
    assert check.mean() > 0.9
    if _engine(ds) == "geomm":
        mismatch = cube[check] != expected[check]
    else:  # odc-stac fuses the tiles in its own order: any tile's pixel will do
        mismatch = ~np.logical_or.reduce([cube == c for c in candidates] + [expected == 0])
        mismatch = mismatch[check] | ((cube != 0) & (expected == 0))[check]
    assert mismatch.sum() == 0, f"{mismatch.sum()} of {check.sum()} pixels differ"


def test_nearest_s1_is_the_source_pixel_in_db(nearest_cube: xr.Dataset, small_region) -> None:
    items = small_region.items
    ds = nearest_cube
    crs = ds.attrs["crs"]
    x, y = _centres(ds)
    s1 = sorted((i for i in items if i.collection_id == "synthetic-s1-rtc"), key=lambda i: i.id)
    power = np.full(x.shape, np.nan)
    tie = np.zeros(x.shape, dtype=bool)
    for item in s1:
        value, inside, margin = _source_pixels(item.assets["vv"].get_absolute_href(), crs, x, y)
        new = np.isnan(power) & inside & (value > 0)
        tie |= np.isnan(power) & inside & (margin < TIE_PX)
        power[new] = value[new]
    cube = ds.s1.sel(s1_band=ds.s1_band.values[0]).isel(time=0).values
    assert str(ds.s1_band.values[0]).lower() == "vv"
    check = ~tie & np.isfinite(power)
    assert check.sum() > 20_000 and tie.sum() < 0.1 * check.sum()  # ~4% expected
    np.testing.assert_allclose(cube[check], 10 * np.log10(power[check]), atol=1e-4, rtol=0)
    assert np.isnan(cube[~tie & np.isnan(power)]).all()


def test_nearest_differs_from_bilinear_where_it_should(
    nearest_cube: xr.Dataset,
    small_region,
) -> None:
    """The option reaches the reader: bilinear (the default) gives other 20 m values."""
    items, aoi, profile = small_region.items, small_region.aoi, small_region.profile
    load = LoadOptions(reader=READERS[_engine(nearest_cube)])
    bilinear = build_cube(items, aoi=aoi, profile=profile, config=CubeConfig(load=load)).load()
    for band in ("B05", "B01"):  # parcels are uniform: they differ along parcel borders
        near = nearest_cube.s2.sel(s2_band=band).values
        smooth = bilinear.s2.sel(s2_band=band).values
        assert ((near != smooth) & (near > 0)).sum() > 1000, band
    assert "nearest" in nearest_cube.attrs["load_options"]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: LoadOptions(s2_resampling="cubic"), "s2_resampling"),
        (lambda: LoadOptions(s1_resampling="average"), "s1_resampling"),
        (lambda: LoadOptions(reader="gdal"), "reader"),
        (lambda: CubeConfig(chip_size=0), "chip_size"),
        (lambda: CubeConfig(chip_size=2049), "chip_size"),
        (lambda: CubeConfig(chunk_chips=0), "chunk_chips"),
        (lambda: CubeConfig(task_chunks=0), "task_chunks"),
        (lambda: CubeConfig(resolution=float("nan")), "resolution"),
        (lambda: PairingRule(max_lag_days=-1), "max_lag_days"),
        (lambda: PairingRule(orbit_state="sideways"), "orbit_state"),
    ],
)
def test_options_are_refused_when_given(make, words: str) -> None:
    with pytest.raises(OptionError, match=words) as caught:
        make()
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, GeommError)


def test_odc_reader_keeps_gdal_methods() -> None:
    assert LoadOptions(reader=OdcReader(), s2_resampling="cubic").s2_resampling == "cubic"
    assert CubeConfig(chip_size=np.int64(64)).chip_size == 64


def test_the_cli_passes_resampling_to_the_cube(sample_catalog, tmp_path) -> None:
    from geomm.cli import main
    from geomm.cube import open_cube
    from geomm.sample import sample_aoi_path

    out = tmp_path / "nearest.zarr"
    args = ["cube", "--catalog", str(sample_catalog), "--aoi", str(sample_aoi_path())]
    args += ["--start", "2024-06-01", "--end", "2024-06-06", "--out", str(out)]
    assert main([*args, "--resampling", "nearest"]) == 0
    options = json.loads(open_cube(out).attrs["load_options"])
    assert options["s2_resampling"] == options["s1_resampling"] == "nearest"
