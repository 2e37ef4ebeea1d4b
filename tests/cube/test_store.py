"""Zarr cube stores: round trip with CRS, refusal of wrong reuse, and resume after SIGKILL."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geomm.aoi import read_aoi
from geomm.cube import CubeConfig, CubeStoreError, build_cube, open_cube, write_cube
from geomm.cube._store import progress_dir
from geomm.sample import sample_aoi_path
from geomm.stac import search
from tests.cube.conftest import write_interrupted

PIXEL_VARS = ["s2", "s1", "clear"]


@pytest.fixture(scope="module")
def small_cube(sample_catalog):
    aoi = read_aoi(sample_aoi_path())
    found = search(sample_catalog, aoi=aoi, start="2024-06-01", end="2024-06-12")
    return build_cube(
        found.items,
        aoi=aoi,
        profile=found.source.profile,
        config=CubeConfig(chunk_chips=2, task_chunks=1),
    )


def test_round_trip_keeps_values_crs_and_pairing(small_cube, tmp_path):
    import rioxarray  # noqa: F401

    report = write_cube(small_cube, tmp_path / "c.zarr")
    assert (report.blocks_total, report.blocks_written, report.blocks_skipped) == (6, 6, 0)
    assert not progress_dir(tmp_path / "c.zarr").exists()
    plain = xr.open_zarr(tmp_path / "c.zarr", decode_coords="all", consolidated=False)
    assert plain.rio.crs.to_epsg() == int(small_cube.attrs["crs"].split(":")[1])
    assert plain.attrs["geomm_status"] == "complete"
    back = open_cube(tmp_path / "c.zarr").load()
    expected = small_cube.compute()
    for name in [*PIXEL_VARS, "s1_time", "s1_lag_days", "s1_relative_orbit"]:
        xr.testing.assert_equal(
            back[name].reset_coords(drop=True), expected[name].reset_coords(drop=True)
        )
    assert list(back.s1_orbit_state.values) == list(expected.s1_orbit_state.values)
    assert back.s2.encoding["chunks"] == (1, 12, 240, 240)


def test_existing_store_is_never_silently_reused(small_cube, tmp_path):
    path = tmp_path / "c.zarr"
    write_cube(small_cube, path)
    with pytest.raises(CubeStoreError, match="already holds a complete cube; pass overwrite=True"):
        write_cube(small_cube, path)
    again = write_cube(small_cube, path, resume=True)  # complete: nothing to do
    assert again.blocks_written == 0 and again.blocks_skipped == 6
    other = small_cube.isel(time=[0])  # another cube: other times
    with pytest.raises(CubeStoreError, match="built from different scenes"):
        write_cube(other, path, resume=True)
    write_cube(other, path, overwrite=True)
    assert open_cube(path).sizes["time"] == 1


def test_a_store_that_cannot_be_written_says_so_and_resumes(small_cube, tmp_path, monkeypatch):
    import geomm.cube._blocks as blocks_module

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CubeStoreError, match=r"cannot write the cube store .*Not a directory"):
        write_cube(small_cube, blocker / "c.zarr")

    # the disk fills up after the first batch of 4 blocks (one write per variable and time)
    real, calls = blocks_module.write_chunks, []
    first_batch = 4 * len(PIXEL_VARS) * small_cube.sizes["time"]

    def disk_full(values, array, origin):
        calls.append(origin)
        if len(calls) > first_batch:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(values, array, origin)

    monkeypatch.setattr(blocks_module, "write_chunks", disk_full)
    path = tmp_path / "c.zarr"
    with pytest.raises(CubeStoreError, match=r"No space left on device.*resume=True"):
        write_cube(small_cube, path)
    with pytest.raises(CubeStoreError, match="incomplete"):
        open_cube(path)
    monkeypatch.setattr(blocks_module, "write_chunks", real)  # room again
    report = write_cube(small_cube, path, resume=True)
    assert (report.blocks_skipped, report.blocks_written) == (4, 2)
    done = open_cube(path).load()
    expected = small_cube.compute()  # not .load(): that would load the shared fixture in place
    for name in PIXEL_VARS:
        np.testing.assert_array_equal(done[name].values, expected[name].values)


def test_incomplete_store_is_refused_by_open_and_by_plain_rerun(small_cube, tmp_path):
    path = tmp_path / "c.zarr"
    calls = write_interrupted(small_cube, path, blocks=2)
    with pytest.raises(CubeStoreError, match=r"is incomplete .* resume=True"):
        open_cube(path)
    with pytest.raises(CubeStoreError, match="an interrupted cube; pass resume=True"):
        write_cube(small_cube, path)
    assert sorted(p.name for p in progress_dir(path).iterdir()) == [b.name for b in calls]
    report = write_cube(small_cube, path, resume=True)
    assert (report.blocks_written, report.blocks_skipped) == (4, 2)
    xr.testing.assert_equal(
        open_cube(path)[PIXEL_VARS].compute().reset_coords(drop=True),
        small_cube[PIXEL_VARS].compute().reset_coords(drop=True),
    )


def _chunk_files(store: Path, marker: str) -> dict[str, int]:
    """mtime_ns of every chunk file (all times) of the pixel variables in a marked block.

    A marker names the block's pixel extent, ``y<start>-<stop>_x<start>-<stop>``.
    """
    (y0, y1), (x0, x1) = (
        (int(a), int(b)) for a, b in (part[1:].split("-") for part in marker.split("_"))
    )
    attrs = json.loads((store / "zarr.json").read_text())["attributes"]
    edge = attrs["chip_size"] * attrs["chunk_chips"]
    out = {}
    for var in PIXEL_VARS:
        for f in (store / var / "c").glob("*/**/*"):
            if not f.is_file():
                continue
            row, col = (int(p) for p in f.relative_to(store / var / "c").parts[-2:])
            if y0 <= row * edge < y1 and x0 <= col * edge < x1:
                out[str(f.relative_to(store))] = f.stat().st_mtime_ns
    return out


def test_sigkill_mid_write_then_resume_equals_an_uninterrupted_run(sample_catalog, tmp_path):
    args = [
        "cube",
        "--catalog",
        str(sample_catalog),
        "--aoi",
        str(sample_aoi_path()),
        "--start",
        "2024-06-01",
        "--end",
        "2024-07-31",
        "--chunk-chips",
        "1",
    ]
    exe = [sys.executable, "-m", "geomm.cli"]
    reference = tmp_path / "reference.zarr"
    subprocess.run([*exe, *args, "--out", str(reference)], check=True, capture_output=True)

    store = tmp_path / "killed.zarr"
    proc = subprocess.Popen(
        [*exe, *args, "--out", str(store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    markers = progress_dir(store)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if markers.exists() and len(list(markers.iterdir())) >= 3:
            break
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in markers.iterdir())
    assert 3 <= len(done) < 20, done  # killed mid-write: some blocks done, not all
    with pytest.raises(CubeStoreError, match="incomplete"):
        open_cube(store)
    before = {}
    for name in done:
        before.update(_chunk_files(store, name))
    assert before

    resumed = subprocess.run(
        [*exe, *args, "--out", str(store), "--resume"], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done)} already done" in resumed.stdout
    after = {}
    for name in done:
        after.update(_chunk_files(store, name))
    assert after == before  # no chunk of a block marked complete was rewritten

    a = open_cube(store).load()
    b = open_cube(reference).load()
    for name in [*PIXEL_VARS, "s1_time", "s1_lag_days"]:
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_direct_chunk_writes_equal_xarray_region_writes(small_cube, tmp_path, monkeypatch):
    """The fast path (Zarr chunk by chunk) and xarray's encoder write identical stores."""
    import geomm.cube._blocks as blocks_module

    cube = small_cube.chunk({"y": 480, "x": 480})  # Dask chunks of 2 x 2 Zarr chunks
    fast = tmp_path / "fast.zarr"
    write_cube(cube, fast)
    seen = []
    real = blocks_module.direct_targets
    monkeypatch.setattr(blocks_module, "direct_targets", lambda *a: seen.append(real(*a)) and None)
    slow = tmp_path / "slow.zarr"
    write_cube(cube, slow)
    assert seen and seen[0] is not None  # the fast path was on offer, and declined here
    a, b = open_cube(fast), open_cube(slow)
    assert a.s2.encoding["chunks"] == b.s2.encoding["chunks"] == (1, 12, 240, 240)
    for name in PIXEL_VARS:
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_misaligned_dask_chunks_fall_back_to_xarray_and_its_safety_check(small_cube, tmp_path):
    cube = small_cube.chunk({"y": (100, 380), "x": 240})  # 100 px: inside a Zarr chunk
    with pytest.raises(ValueError, match="overlap multiple Dask chunks"):
        write_cube(cube, tmp_path / "c.zarr")


def test_resume_refuses_another_dask_chunking(small_cube, tmp_path):
    """The reader's tasks follow the Dask chunks, and warped values may differ by rounding
    between chunkings: an interrupted store resumes only with the chunking it began with."""
    path = tmp_path / "c.zarr"

    def stop_at_first(block):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_cube(small_cube, path, progress=stop_at_first)
    rechunked = small_cube.chunk({"y": 480, "x": 480})
    with pytest.raises(CubeStoreError, match="different scenes, grid or options"):
        write_cube(rechunked, path, resume=True)
    assert write_cube(small_cube, path, resume=True).blocks_skipped == 1
