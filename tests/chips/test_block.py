"""Blocks of chips read from a real cube: values, coverage fractions, one read per chunk."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import zarr.storage

from geomm.aoi import read_aoi
from geomm.chips import (
    ChipBlock,
    ChipError,
    chip_blocks,
    cube_chips,
    read_block,
    read_block_from_store,
)
from geomm.chips import _block as block_module
from geomm.cube import CubeConfig, build_cube, open_cube, write_cube
from geomm.sample import sample_aoi_path
from geomm.stac import search

CHUNK_PX = 240  # chunk_chips=2 x 120 px


@pytest.fixture(scope="module")
def built(sample_catalog):
    """A lazy 4 x 5 chip cube (2 times) from the sample catalog, in 2 x 2 chip chunks."""
    aoi = read_aoi(sample_aoi_path())
    found = search(sample_catalog, aoi=aoi, start="2024-06-01", end="2024-06-12")
    config = CubeConfig(chunk_chips=2, task_chunks=1)  # Dask chunks = Zarr chunks
    return build_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)


@pytest.fixture(scope="module")
def store(built, tmp_path_factory):
    path = tmp_path_factory.mktemp("chips") / "cube.zarr"
    write_cube(built, path)
    return path


@pytest.fixture(scope="module")
def truth(store):
    """The whole cube as numpy arrays (the independent reference)."""
    ds = open_cube(store).load()
    return {
        "s2": ds.s2.transpose("time", "s2_band", "y", "x").values,
        "s1": ds.s1.transpose("time", "s1_band", "y", "x").values,
        "clear": ds.clear.transpose("time", "y", "x").values,
        "time": ds.time.values,
        "s1_time": ds.s1_time.values,
    }


class StoreReads:
    """Records every key read from local Zarr stores."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.keys: list[str] = []
        original = zarr.storage.LocalStore.get

        async def get(store, key, prototype=None, byte_range=None):
            self.keys.append(key)
            return await original(store, key, prototype, byte_range)

        monkeypatch.setattr(zarr.storage.LocalStore, "get", get)

    def pixel_chunks(self) -> list[str]:
        return sorted(k for k in self.keys if k.split("/")[0] in ("s2", "s1", "clear"))


def expected_chunk_keys(block: ChipBlock, times: int) -> list[str]:
    bi, bj = block.y.start // CHUNK_PX, block.x.start // CHUNK_PX
    keys = []
    for t in range(times):
        keys += [f"s2/c/{t}/0/{bi}/{bj}", f"s1/c/{t}/0/{bi}/{bj}", f"clear/c/{t}/{bi}/{bj}"]
    return sorted(keys)


def test_blocks_are_the_cubes_zarr_chunks(store):
    ds = open_cube(store)
    assert ds.s2.encoding["chunks"] == (1, 12, CHUNK_PX, CHUNK_PX)
    chips = cube_chips(ds)
    assert len(chips) == 20  # 4 rows x 5 columns of 120 px chips (480 x 600 px)
    blocks = chip_blocks(ds, chips)
    col0, row0 = chips[0].col, chips[0].row
    assert [(b.y, b.x) for b in blocks] == [
        (slice(y, y + CHUNK_PX), slice(x, min(x + CHUNK_PX, 600)))
        for y in (0, 240)
        for x in (0, 240, 480)
    ]
    # names: global row/col of the chunk's north-west chip
    assert [b.name for b in blocks] == [
        f"r{row0 - i:05d}_c{col0 + j:05d}" for i in (0, 2) for j in (0, 2, 4)
    ]
    assert blocks[0].name == "r04438_c00228"
    # every chip in exactly one block, the one holding its window
    seen = [c for b in blocks for c in b.chips]
    assert sorted(c.chip_id for c in seen) == sorted(c.chip_id for c in chips)
    for b in blocks:
        for c in b.chips:
            assert b.y.start <= c.y.start and c.y.stop <= b.y.stop
            assert b.x.start <= c.x.start and c.x.stop <= b.x.stop
    assert [len(b.chips) for b in blocks] == [4, 4, 2, 4, 4, 2]
    assert pickle.loads(pickle.dumps(blocks)) == blocks
    # only the blocks of the chips asked for, chips in the order given
    some = [chips[19], chips[0], chips[6], chips[0]]
    picked = chip_blocks(ds, some)
    assert [[c.chip_id for c in b.chips] for b in picked] == [
        [chips[0].chip_id, chips[6].chip_id],
        [chips[19].chip_id],
    ]


def test_read_block_values_equal_the_cube(store, truth):
    ds = open_cube(store)
    chips = cube_chips(ds)
    blocks = chip_blocks(ds, chips)
    assert sum(len(b.chips) for b in blocks) == 20
    T = len(truth["time"])
    # independent fractions: reshape the whole cube into (time, row, 120, col, 120)
    clear = truth["clear"].reshape(T, 4, 120, 5, 120).mean(axis=(2, 4))
    valid = np.isfinite(truth["s1"]).all(axis=1)
    coverage = valid.reshape(T, 4, 120, 5, 120).mean(axis=(2, 4))
    assert 0 < clear.min() < 1 and 0 < coverage.min() < 1  # both vary: a real test
    for block in blocks:
        data = read_block(ds, block)
        C = len(block.chips)
        assert data.chips == block.chips
        assert data.s2.shape == (T, C, 12, 120, 120) and data.s2.dtype == np.uint16
        assert data.s1.shape == (T, C, 2, 120, 120) and data.s1.dtype == np.float32
        assert data.clear_fraction.dtype == data.s1_coverage.dtype == np.float32
        np.testing.assert_array_equal(data.times, truth["time"])
        np.testing.assert_array_equal(data.s1_times, truth["s1_time"])
        assert data.times.dtype == data.s1_times.dtype == np.dtype("datetime64[ns]")
        for c, chip in enumerate(block.chips):
            np.testing.assert_array_equal(data.s2[:, c], truth["s2"][:, :, chip.y, chip.x])
            np.testing.assert_array_equal(data.s1[:, c], truth["s1"][:, :, chip.y, chip.x])
            i, j = chip.y.start // 120, chip.x.start // 120
            np.testing.assert_allclose(data.clear_fraction[:, c], clear[:, i, j], rtol=1e-6)
            np.testing.assert_allclose(data.s1_coverage[:, c], coverage[:, i, j], rtol=1e-6)


def test_each_zarr_chunk_is_read_once_per_block(store, monkeypatch):
    ds = open_cube(store)
    chips = cube_chips(ds)
    blocks = chip_blocks(ds, chips)
    T = ds.sizes["time"]
    reads = StoreReads(monkeypatch)
    for block in blocks:
        reads.keys.clear()
        read_block(ds, block)
        assert reads.pixel_chunks() == expected_chunk_keys(block, T)
    # one chip of a block still costs one read of its chunk, never more
    reads.keys.clear()
    (one,) = chip_blocks(ds, [chips[6]])
    data = read_block(ds, one)
    assert data.s2.shape[1] == 1
    assert reads.pixel_chunks() == expected_chunk_keys(one, T)


def test_lazy_and_loaded_cubes_give_the_same_blocks_and_values(built, store):
    stored = open_cube(store)
    loaded = built.compute()  # numpy-backed: blocks from the chunk_chips attribute
    assert built.s2.chunks and not loaded.s2.chunks
    for ds in (built, loaded):
        chips = cube_chips(ds)
        blocks = chip_blocks(ds, chips)
        assert blocks == chip_blocks(stored, cube_chips(stored))
        a, b = read_block(ds, blocks[4]), read_block(stored, blocks[4])
        np.testing.assert_array_equal(a.s2, b.s2)
        np.testing.assert_array_equal(a.s1, b.s1)
        np.testing.assert_array_equal(a.clear_fraction, b.clear_fraction)


def test_blocks_of_a_lazy_cube_follow_its_dask_chunks(sample_catalog, store):
    """task_chunks=2: Dask chunks (and so blocks) of 2 x 2 Zarr chunks, same chips; values
    equal up to rounding (a task reads its whole area at once, so warped sample positions are
    interpolated from knots of another block: they move by ~1e-4 px)."""
    aoi = read_aoi(sample_aoi_path())
    found = search(sample_catalog, aoi=aoi, start="2024-06-01", end="2024-06-12")
    config = CubeConfig(chunk_chips=2, task_chunks=2)
    lazy = build_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)
    stored = open_cube(store)
    big, small = chip_blocks(lazy, cube_chips(lazy)), chip_blocks(stored, cube_chips(stored))
    assert [(b.y, b.x) for b in big] == [
        (slice(y, min(y + 480, 480)), slice(x, min(x + 480, 600))) for y in (0,) for x in (0, 480)
    ]
    assert sorted(c.chip_id for b in big for c in b.chips) == sorted(
        c.chip_id for b in small for c in b.chips
    )
    for block in big:
        got, want = read_block(lazy, block), read_block(stored, block)
        s2_diff = np.abs(got.s2.astype(np.int32) - want.s2)
        assert s2_diff.max() <= 1 and (s2_diff > 0).mean() < 1e-3
        np.testing.assert_array_equal(np.isnan(got.s1), np.isnan(want.s1))
        np.testing.assert_allclose(got.s1, want.s1, rtol=0, atol=0.01)  # dB


def test_read_block_from_store_opens_once_per_process(store):
    ds = open_cube(store)
    blocks = chip_blocks(ds, cube_chips(ds))
    block_module._open_store.cache_clear()
    first = read_block_from_store(store, blocks[0])
    second = read_block_from_store(str(store), blocks[1])
    info = block_module._open_store.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    np.testing.assert_array_equal(first.s2, read_block(ds, blocks[0]).s2)
    np.testing.assert_array_equal(second.s1, read_block(ds, blocks[1]).s1)


def test_read_block_from_store_in_a_fresh_worker_process(store):
    ds = open_cube(store)
    block = chip_blocks(ds, cube_chips(ds))[5]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        data = pool.submit(read_block_from_store, str(store), block).result(timeout=120)
    expected = read_block(ds, block)
    assert data.chips == block.chips
    np.testing.assert_array_equal(data.s2, expected.s2)
    np.testing.assert_array_equal(data.s1_coverage, expected.s1_coverage)


def test_chips_of_another_cube_or_straddling_chunks_are_refused(store):
    ds = open_cube(store)
    chips = cube_chips(ds)
    shifted = ds.isel(x=slice(120, None))  # another cube: windows differ
    with pytest.raises(ChipError, match="is not a chip of this cube"):
        chip_blocks(shifted, chips[:1])
    with pytest.raises(ChipError, match="straddle"):
        chip_blocks(ds.chunk({"x": 100}), chips)
    with pytest.raises(ChipError, match="no variable"):
        read_block(ds[["s2", "s1"]], chip_blocks(ds, chips)[0])


def test_fractions_count_pixels_where_both_polarisations_are_valid(built):
    """Hand-made masks in one chip: VH missing in rows 0-59, VV in rows 60-89."""
    ds = built.compute()
    chip = cube_chips(ds)[7]
    s1 = ds.s1.values.copy()  # (time, band, y, x)
    clear = ds.clear.values.copy()
    y0, x0 = chip.y.start, chip.x.start
    s1[:, :, chip.y, chip.x] = -12.0
    s1[:, 1, y0 : y0 + 60, chip.x] = np.nan  # VH
    s1[:, 0, y0 + 60 : y0 + 90, chip.x] = np.nan  # VV
    clear[:, chip.y, chip.x] = True
    clear[:, y0 : y0 + 30, x0 : x0 + 60] = False  # 1800 of 14400 pixels
    ds = ds.assign(s1=(ds.s1.dims, s1), clear=(ds.clear.dims, clear)).drop_vars("s1_time")
    (block,) = chip_blocks(ds, [chip])
    data = read_block(ds, block)
    np.testing.assert_array_equal(data.s1_coverage[:, 0], [0.25, 0.25])
    np.testing.assert_array_equal(data.clear_fraction[:, 0], [0.875, 0.875])
    assert np.isnat(data.s1_times).all()  # a cube without pairing: no S1 times
