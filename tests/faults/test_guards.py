"""Issue 13 case 10 and the option ranges: a job too large, an option out of range or a
scheduler that cannot work is refused up front with one line, never started, never a
MemoryError, a hang or an internal error."""

from __future__ import annotations

import json
import re
import socket
import time
import warnings
from pathlib import Path

import pytest

from geomm.aoi import aoi_from_geojson, read_aoi
from geomm.cli import main
from geomm.cube import (
    CompositeSpec,
    CubeConfig,
    CubeGrid,
    PairingRule,
    build_cube,
    cube_grid,
    cube_size,
    dask_scheduler,
    make_cube,
    parse_size,
    quicklook,
)
from geomm.cube._quicklook import QuicklookError
from geomm.errors import (
    CrsAreaWarning,
    GeommError,
    OptionError,
    SchedulerError,
    SizeLimitError,
)
from geomm.stac import search
from tests.faults._cli import DATES, SAMPLE_AOI, one_line_error


@pytest.fixture
def whole_earth(tmp_path) -> Path:
    path = tmp_path / "earth.geojson"
    ring = [[-179, -80], [0, -80], [179, -80], [179, 80], [0, 80], [-179, 80], [-179, -80]]
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    return path


# --------------------------------------------------------------------------- size


def test_cube_size_is_grid_times_dates_times_layer_bytes():
    grid = CubeGrid("EPSG:32632", 10.0, 120, 8, col0=0, row0=10, ncols=3, nrows=2)
    # by hand: 2 x 3 chips of 120 px = 240 x 360 px; 12 S2 uint16 + 2 S1 float32 + clear bool
    assert cube_size(grid, 4).nbytes == 240 * 360 * 4 * (12 * 2 + 2 * 4 + 1) == 11_404_800
    assert cube_size(grid, 4, composite=True).nbytes == 240 * 360 * 4 * (33 + 2)  # + n_clear


def test_cube_size_equals_the_bytes_of_the_cube_it_plans(sample_catalog):
    aoi = read_aoi(SAMPLE_AOI)
    found = search("sample", aoi=aoi, start="2024-06-01", end="2024-07-31")
    for config in (CubeConfig(), CubeConfig(composite=CompositeSpec("median", "1M"))):
        ds = build_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)
        pixel_vars = [v for v in ds.data_vars.values() if {"y", "x"} <= set(v.dims)]
        truth = sum(v.size * v.dtype.itemsize for v in pixel_vars)  # what Zarr would hold
        planned = cube_size(config.grid(aoi), ds.sizes["time"], composite=bool(config.composite))
        assert planned.nbytes == truth


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("50GB", 50 * 10**9),
        ("200 gb", 200 * 10**9),
        ("1TB", 10**12),
        ("1.5GB", 1_500_000_000),
        ("1TiB", 2**40),
        ("512MiB", 512 * 2**20),
        ("1000", 1000),
        ("none", None),
    ],
)
def test_max_size_values_are_read_in_decimal_and_binary_units(text, nbytes):
    assert parse_size(text) == nbytes


@pytest.mark.parametrize("text", ["0", "-1GB", "lots", "1XB", "inf", "1e999GB", ""])
def test_bad_max_size_values_are_refused(text):
    with pytest.raises(OptionError, match="cannot read size"):
        parse_size(text)


def test_a_whole_earth_cube_is_refused_before_the_search(
    whole_earth, tmp_path, monkeypatch, capsys
):
    import geomm.cube._make

    def no_search(*_args, **_kwargs):
        raise AssertionError("searched although the grid alone is too large")

    monkeypatch.setattr(geomm.cube._make, "search", no_search)
    store = tmp_path / "earth.zarr"
    began = time.perf_counter()
    line = one_line_error(capsys, ["cube", "--aoi", str(whole_earth), *DATES, "--out", str(store)])
    assert time.perf_counter() - began < 10
    grid = cube_grid(read_aoi(whole_earth))
    expected = grid.shape[0] * grid.shape[1] * 33  # one date is the least a cube has
    assert f"{grid.shape[0]} x {grid.shape[1]} px x at least 1 time(s) x 33 bytes" in line
    assert f"{expected / 1e12:.1f} TB uncompressed" in line
    assert "above the limit --max-size 50.0 GB" in line and "--scheduler ADDRESS" in line
    assert not store.exists()


def test_embed_is_refused_by_the_same_guard(whole_earth, tmp_path, capsys):
    args = ["embed", "--aoi", str(whole_earth), *DATES, "--out", str(tmp_path / "e.parquet")]
    line = one_line_error(capsys, [*args, "--model", "croma-tiny", "--weights", "random"])
    assert "TB uncompressed, above the limit --max-size 50.0 GB" in line
    assert not (tmp_path / "e.cube.zarr").exists()


def test_the_limit_counts_the_paired_dates(sample_catalog, tmp_path):
    aoi = read_aoi(SAMPLE_AOI)
    found = search("sample", aoi=aoi, start="2024-06-01", end="2024-07-31")
    ds = build_cube(found.items, aoi=aoi, profile=found.source.profile)
    times = ds.sizes["time"]
    assert times > 1
    truth = sum(ds[v].size * ds[v].dtype.itemsize for v in ("s2", "s1", "clear"))
    store = tmp_path / "cube.zarr"
    limit = truth // times + 1  # one date fits, all of them do not
    with pytest.raises(SizeLimitError) as caught:
        make_cube(
            "sample", aoi=aoi, start="2024-06-01", end="2024-07-31", out=store, max_size=limit
        )
    assert caught.value.size == truth and caught.value.limit == limit
    assert f"x {times} time(s) x 33 bytes" in str(caught.value)
    assert "max_size=" in str(caught.value) and "--max-size" not in str(caught.value)
    assert not store.exists()


def test_max_size_none_lifts_the_limit_and_bad_values_are_refused(sample_catalog, tmp_path):
    aoi = read_aoi(SAMPLE_AOI)
    run = make_cube(
        "sample", aoi=aoi, start="2024-06-01", end="2024-06-10", out=tmp_path / "c", max_size=None
    )
    assert run.report.blocks_written >= 1
    for bad in (0, -5, float("nan"), "50GB", True):
        with pytest.raises(OptionError, match="max_size must be a positive number of bytes"):
            make_cube("sample", aoi=aoi, start="2024-06-01", end="2024-06-10",
                      out=tmp_path / "d", max_size=bad)  # fmt: skip


def test_a_bad_max_size_flag_is_one_line(tmp_path, capsys):
    args = ["cube", "--aoi", str(SAMPLE_AOI), *DATES, "--out", str(tmp_path / "c.zarr")]
    line = one_line_error(capsys, [*args, "--max-size", "lots"])
    assert line == (
        "error: --max-size: cannot read size 'lots'; give a positive size such as 50GB, "
        "200GB or 1TB, or none for no limit"
    )


# --------------------------------------------------------------------------- option ranges


@pytest.mark.parametrize(
    ("option", "pattern"),
    [
        (["--chip-size", "100000"], r"chip_size must be .* within 1\.\.2048, got 100000"),
        (["--chip-size", "2056"], r"within 1\.\.2048, got 2056"),
        (["--chunk-chips", "100"], r"chunk_chips=100 makes chunks of 12000 px, above 4096 px"),
        (["--max-lag-days", "1e308"], r"max_lag_days must be within 0\.\.366, got 1e\+308"),
        (["--max-lag-days", "367"], r"max_lag_days must be within 0\.\.366, got 367"),
        (["--max-lag-days", "inf"], r"max_lag_days must be a finite number of days, got inf"),
        (["--crs", "EPSG:99999"], r"crs='EPSG:99999' is not a coordinate reference system"),
        (["--crs", "not-a-crs"], r"crs='not-a-crs' is not a coordinate reference system"),
        (["--composite", "median", "--period", "0D"], r"period '0D' is empty; it needs a posi"),
        (["--composite", "median", "--period", "-1M"], r"cannot read period '-1M'"),
        (["--composite", "median", "--period", "abc"], r"cannot read period 'abc'"),
        (["--composite", "median", "--period", "99999999999999999999D"], r"cannot read period"),
    ],
)
def test_cube_options_out_of_range_are_one_line(tmp_path, capsys, option, pattern):
    store = tmp_path / "cube.zarr"
    line = one_line_error(
        capsys, ["cube", "--aoi", str(SAMPLE_AOI), *DATES, "--out", str(store), *option]
    )
    assert re.search(pattern, line), line
    assert not store.exists()


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: CubeConfig(chip_size=100000), r"within 1\.\.2048"),
        (lambda: CubeConfig(chip_size=True), r"got True"),
        (lambda: CubeConfig(crs="EPSG:99999"), r"crs='EPSG:99999'"),
        (lambda: CubeConfig(crs="EPSG:4326"), r"must be projected"),
        (lambda: PairingRule(max_lag_days=1e308), r"within 0\.\.366"),
        (lambda: CompositeSpec("median", "0D"), r"period '0D' is empty"),
    ],
)
def test_configs_refuse_out_of_range_options_when_made(make, pattern):
    with pytest.raises(GeommError, match=pattern) as caught:
        make()
    assert isinstance(caught.value, ValueError)


def test_a_crs_far_from_the_aoi_warns_and_a_neighbour_zone_does_not():
    aoi = read_aoi(SAMPLE_AOI)  # at 12 E, on the boundary of UTM zones 32 and 33
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrsAreaWarning)
        for near in ("EPSG:32632", "EPSG:32633", "EPSG:32634", "EPSG:3035", "EPSG:3857"):
            cube_grid(aoi, crs=near)
        ring = [[179.5, -17.5], [180.5, -17.5], [180.5, -16.5], [179.5, -16.5], [179.5, -17.5]]
        across = aoi_from_geojson({"type": "Polygon", "coordinates": [ring]})
        cube_grid(across, crs="EPSG:32701")  # zone 1S starts at 180 W, the AOI centre's lon
    with pytest.warns(CrsAreaWarning, match=r"'EPSG:32610' .* lon -126\.\.-120") as caught:
        cube_grid(aoi, crs="EPSG:32610")  # UTM 10N: the US west coast
    assert caught[0].filename == __file__  # stacklevel points at the caller


def test_the_cli_prints_a_crs_warning_as_one_line(sample_catalog, tmp_path, capsys):
    args = ["cube", "--aoi", str(SAMPLE_AOI), "--start", "2024-06-01", "--end", "2024-06-10"]
    code = main([*args, "--out", str(tmp_path / "c.zarr"), "--crs", "EPSG:2193"])
    err = capsys.readouterr().err
    assert code == 0, err
    warned = [line for line in err.splitlines() if "EPSG:2193" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: cube CRS 'EPSG:2193'"), err


@pytest.mark.parametrize("dpi", ["100000", "0", "9", "1201"])
def test_quicklook_dpi_out_of_range_is_one_line(tmp_path, capsys, dpi):
    from geomm.cube import write_cube
    from tests.cube.test_quicklook import tiny_cube

    store = tmp_path / "c.zarr"
    write_cube(tiny_cube(), store)
    png = tmp_path / "q.png"
    line = one_line_error(capsys, ["quicklook", str(store), "--out", str(png), "--dpi", dpi])
    assert line == f"error: dpi must be a positive integer within 10..1200, got {dpi}"
    assert not png.exists()


def test_a_quicklook_too_many_pixels_is_refused_before_drawing(tmp_path):
    from tests.cube.test_quicklook import tiny_cube

    tall = tiny_cube().isel(x=slice(0, 10))  # 20 x 10 px: panels twice as high as wide
    # by hand: (2 * 5 + 0.8) in x (5 * 2 + 1.4) in at 1100 dpi = 11880 x 12540 px = 149 Mpx
    with pytest.raises(QuicklookError, match=r"dpi=1100 would be 11880 x 12540 px, above 100 Mpx"):
        quicklook(tall, dpi=1100, out=tmp_path / "q.png")
    assert not (tmp_path / "q.png").exists()
    fig = quicklook(tall, dpi=700)  # 7560 x 7980 px: 60 Mpx, within the limit
    assert tuple(round(v) for v in fig.get_size_inches() * 700) == (7560, 7980)


# --------------------------------------------------------------------------- schedulers


def refused_port() -> int:
    with socket.socket() as s:  # a port on 127.0.0.1 nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_named_within_the_timeout():
    address = f"tcp://127.0.0.1:{refused_port()}"
    began = time.perf_counter()
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at 'tcp://127") as e:
        with dask_scheduler(address, connect_timeout=1.0):
            pass
    assert time.perf_counter() - began < 10  # not 30 s, not forever: slack for a busy machine
    assert "within 1 s" in str(e.value) and "`dask scheduler` runs there" in str(e.value)


def test_a_scheduler_without_workers_is_named_not_waited_on_forever():
    import dask
    from distributed import LocalCluster

    before = dask.config.get("scheduler", None)
    with LocalCluster(
        n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        began = time.perf_counter()
        with pytest.raises(SchedulerError) as caught:
            with dask_scheduler(address, connect_timeout=5.0, worker_wait=1.0):
                raise AssertionError("ran on a scheduler without workers")
        assert time.perf_counter() - began < 10  # seconds
    # the refused client leaves no "distributed" default behind for later threaded runs
    assert dask.config.get("scheduler", None) == before
    assert str(caught.value) == (
        f"the Dask scheduler at {address!r} has no workers (none joined in 1 s); "
        f"start some with `dask worker {address}`"
    )


def test_the_cli_reports_an_unreachable_scheduler_in_one_line(
    sample_catalog, tmp_path, monkeypatch, capsys
):
    import geomm.cube._make

    monkeypatch.setattr(geomm.cube._make, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{refused_port()}"
    store = tmp_path / "c.zarr"
    args = ["cube", "--aoi", str(SAMPLE_AOI), "--start", "2024-06-01", "--end", "2024-06-10"]
    line = one_line_error(capsys, [*args, "--out", str(store), "--scheduler", address])
    assert line.startswith(f"error: cannot reach the Dask scheduler at {address!r} within 1 s")
