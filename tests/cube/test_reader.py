"""The reader protocol: both readers fit it and read the cube's blocks from a plain loop."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr

from geomm.cube import (
    CubeConfig,
    GeommReader,
    LoadOptions,
    OdcReader,
    Reader,
    build_cube,
    pair_items,
)
from geomm.cube._reader import BlockRequest, GridWindow, Mosaic, PixelWindow, Sensor
from geomm.errors import OptionError


@pytest.fixture(scope="module", params=[GeommReader(), OdcReader()], ids=["geomm", "odc"])
def reader(request: pytest.FixtureRequest) -> Reader:
    return request.param


@pytest.fixture(scope="module")
def cube(small_region, reader: Reader) -> xr.Dataset:
    r = small_region
    config = CubeConfig(load=LoadOptions(reader=reader))
    return build_cube(r.items, aoi=r.aoi, profile=r.profile, config=config).load()


def _mosaics(small_region, reader: Reader, grid) -> tuple[Mosaic, Mosaic]:
    """The S2 acquisition and S1 pass of the region's first pair, as the reader's mosaics."""
    r = small_region
    verdict = {i.id: r.profile.describe(i) for i in r.items}
    s2 = [i for i in r.items if verdict[i.id].sensor == "sentinel-2"]
    s1 = [i for i in r.items if verdict[i.id].sensor == "sentinel-1"]
    pair = pair_items(s2, s1)[0]

    def mosaic(items, sensor: Sensor) -> Mosaic:
        sources = reader.sources(items, [verdict[i.id] for i in items], grid=grid)
        return Mosaic(sensor, sources, r.profile, "bilinear")

    return mosaic(pair.s2.items, Sensor.S2), mosaic(pair.s1.items, Sensor.S1)


def test_readers_are_readers_and_name_themselves() -> None:
    assert isinstance(GeommReader(), Reader) and isinstance(OdcReader(), Reader)
    assert (GeommReader().name, OdcReader().name) == ("geomm", "odc")
    assert GeommReader() == GeommReader() and LoadOptions() == LoadOptions(reader=GeommReader())
    with pytest.raises(OptionError, match="reader"):
        LoadOptions(reader=object())


def test_a_block_read_in_a_plain_loop_is_the_cube_block(small_region, reader, cube) -> None:
    """No Dask: a pickled reader and request give the cube's values, and its clear mask."""
    grid = CubeConfig().grid(small_region.aoi)
    s2, s1 = _mosaics(small_region, reader, grid)
    edge = grid.chunk_px * reader.block_chunks(CubeConfig().task_chunks)
    window = PixelWindow(0, min(edge, grid.shape[0]), 0, min(edge, grid.shape[1]))
    rows, cols = window.rows, window.cols
    for mosaic, var in ((s2, "s2"), (s1, "s1")):
        request = BlockRequest(mosaic=mosaic, window=GridWindow(grid, window))
        again, request = pickle.loads(pickle.dumps((reader, request)))
        block = again.read_block(request)
        expected = cube[var].isel(time=0).values[:, rows, cols]
        assert block.data.dtype == expected.dtype and block.valid.shape == window.shape
        np.testing.assert_array_equal(block.data, expected)
        if var == "s2":
            np.testing.assert_array_equal(block.valid, cube.clear.isel(time=0).values[rows, cols])
        else:
            np.testing.assert_array_equal(block.valid, ~np.isnan(expected).any(axis=0))
        assert block.valid.any()


def test_a_request_without_sources_is_an_empty_block(small_region, reader) -> None:
    grid = CubeConfig().grid(small_region.aoi)
    window = GridWindow(grid, PixelWindow(3, 9, 4, 8))
    for sensor, empty in ((Sensor.S1, np.nan), (Sensor.S2, 0)):
        mosaic = Mosaic(sensor, (), small_region.profile, "nearest")
        out = np.full((len(sensor.bands), 6, 4), 7, dtype=sensor.dtype)
        block = reader.read_block(BlockRequest(mosaic=mosaic, window=window), out=out)
        assert block.data is out and not block.valid.any()
        np.testing.assert_array_equal(out, np.full_like(out, empty))
