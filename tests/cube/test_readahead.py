"""Read-ahead: the first blocks read before Dask exists are the blocks the tasks would read."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from geomm.cube import CubeConfig, CubePlan, build_cube, make_cube, plan_cube, write_cube
from geomm.cube._readahead import ReadAhead, read_chunk
from geomm.cube._reader import BlockRequest, GridWindow, PixelWindow
from geomm.errors import AssetReadError
from geomm.stac import S2_BANDS


def _first_window(plan: CubePlan) -> GridWindow:
    edge = plan.grid.chunk_px * plan.config.load.reader.block_chunks(plan.config.task_chunks)
    height, width = plan.grid.shape
    return GridWindow(plan.grid, PixelWindow(0, min(edge, height), 0, min(edge, width)))


@pytest.fixture(scope="module")
def plan(small_region) -> CubePlan:
    r = small_region
    return plan_cube(r.items, aoi=r.aoi, profile=r.profile, config=CubeConfig())


def test_a_block_read_ahead_is_the_chunk_a_task_reads_and_is_handed_out_once(plan) -> None:
    reader = plan.config.load.reader
    request = BlockRequest(mosaic=plan.s2[0], window=_first_window(plan))
    layers = len(S2_BANDS) + 1
    ahead = plan.read_ahead(workers=2)
    try:
        chunk = ahead.take(request, layers)
        assert chunk is not None and chunk.shape == (1, layers, *request.window.pixels.shape)
        np.testing.assert_array_equal(chunk, read_chunk(reader, request, layers))
        assert chunk[0, :-1].any() and chunk[0, -1].any()  # reflectance and clear pixels
        assert ahead.take(request, layers) is None  # once
        other = BlockRequest(mosaic=plan.s1[0], window=request.window)
        assert ahead.take(other, layers) is None  # never asked for with 13 layers
    finally:
        ahead.close()


@dataclass(frozen=True)
class _Failing:
    """A reader whose blocks cannot be read."""

    name: str = "failing"
    resampling: tuple[str, ...] | None = None

    def block_chunks(self, task_chunks: int) -> int:
        return task_chunks

    def sources(self, items, verdicts, *, grid):
        return ()

    def read_block(self, request, *, out=None):
        raise AssetReadError("item-1", "B04", "/data/b04.tif", "truncated file")


def test_a_failed_read_ahead_raises_in_the_task_that_takes_it(plan) -> None:
    request = BlockRequest(mosaic=plan.s2[0], window=_first_window(plan))
    ahead = ReadAhead(workers=1)
    ahead.submit(_Failing(), [request], 13)
    with pytest.raises(AssetReadError, match="truncated file"):
        ahead.take(request, 13)
    ahead.close()


def test_a_pickled_read_ahead_is_empty(plan) -> None:
    request = BlockRequest(mosaic=plan.s2[0], window=_first_window(plan))
    ahead = plan.read_ahead(workers=1)
    again = pickle.loads(pickle.dumps(ahead))
    assert again.take(request, len(S2_BANDS) + 1) is None
    ahead.close()
    again.close()


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}


def test_make_cube_reads_ahead_and_writes_the_store_build_and_write_make(
    small_region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = small_region
    taken: list[bool] = []
    take = ReadAhead.take

    def counting(self, request, layers):
        chunk = take(self, request, layers)
        taken.append(chunk is not None)
        return chunk

    monkeypatch.setattr(ReadAhead, "take", counting)
    run = make_cube(
        str(r.folder / "catalog.json"),
        aoi=r.aoi,
        start="2024-06-01",
        end="2024-06-10",
        out=tmp_path / "ahead.zarr",
    )
    assert run.report.blocks_written >= 1
    assert any(taken)  # the tasks found blocks read ahead
    monkeypatch.setattr(ReadAhead, "take", take)
    plain = build_cube(r.items, aoi=r.aoi, profile=r.profile, config=CubeConfig())
    write_cube(plain, tmp_path / "plain.zarr")
    assert _files(tmp_path / "ahead.zarr") == _files(tmp_path / "plain.zarr")


def test_no_read_ahead_for_a_resumed_store_or_a_cluster(
    small_region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = small_region
    asked: list[int] = []
    original = CubePlan.read_ahead

    def spy(self, *, workers):
        asked.append(workers)
        return original(self, workers=workers)

    monkeypatch.setattr(CubePlan, "read_ahead", spy)
    common = dict(aoi=r.aoi, start="2024-06-01", end="2024-06-10", out=tmp_path / "c.zarr")
    make_cube(str(r.folder / "catalog.json"), **common)
    assert len(asked) == 1
    make_cube(str(r.folder / "catalog.json"), **common, resume=True)
    assert len(asked) == 1  # a resumed store may have its first blocks done
    make_cube(str(r.folder / "catalog.json"), **common, overwrite=True)
    assert len(asked) == 2  # a replaced one has every block to write
    make_cube(str(r.folder / "catalog.json"), **{**common, "out": tmp_path / "d.zarr"},
              scheduler="local")  # fmt: skip
    assert len(asked) == 2  # a cluster's tasks run in other processes
