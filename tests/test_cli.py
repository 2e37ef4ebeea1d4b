"""The command line: one clear line and a non-zero exit for every user error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

import geomm
from geomm.cli import EXIT_USER_ERROR, main
from geomm.testing import make_item, write_static_catalog


@pytest.fixture(scope="module")
def tiny_catalog(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clicat")
    items = [
        make_item(
            "S2-A",
            collection="sentinel-2-l2a",
            geometry=mapping(box(10, 45, 11, 46)),
            datetime="2024-06-05T10:00:00Z",
            cloud=12.5,
            properties={
                "sat:orbit_state": "descending",
                "sat:relative_orbit": 65,
                "proj:code": "EPSG:32632",
            },
        ),
        make_item(
            "S2-B",
            collection="sentinel-2-l2a",
            geometry=mapping(box(10, 45, 11, 46)),
            datetime="2024-06-25T10:00:00Z",
            cloud=90.0,
        ),
    ]
    return write_static_catalog(folder, {"sentinel-2-l2a": items})


@pytest.fixture
def aoi_file(tmp_path) -> Path:
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps(mapping(box(10.2, 45.2, 10.4, 45.4))))
    return path


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_console_script_version_and_help():
    exe = Path(sys.executable).parent / "geomm"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"geomm {geomm.__version__}"
    helptext = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "search" in helptext.stdout


def test_search_prints_table_and_writes_item_collection(tiny_catalog, aoi_file, tmp_path, capsys):
    out_file = tmp_path / "items.geojson"
    code, out, err = run(
        [
            "search",
            "--catalog",
            str(tiny_catalog),
            "--aoi",
            str(aoi_file),
            "--collections",
            "sentinel-2-l2a",
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-30",
            "--max-cloud",
            "50",
            "--out",
            str(out_file),
        ],
        capsys,
    )
    assert code == 0, err
    assert "S2-A" in out and "S2-B" not in out
    assert "12.5" in out and "descending 65" in out and "EPSG:32632" in out
    assert "1 item(s)" in out and "1 skipped as cloudier than 50%" in out
    doc = json.loads(out_file.read_text())
    assert [f["id"] for f in doc["features"]] == ["S2-A"]


def _expect_error(capsys, args, pattern, code=EXIT_USER_ERROR):
    got, out, err = run(args, capsys)
    assert got == code, (out, err)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith("error: ")
    import re

    assert re.search(pattern, lines[0]), lines[0]


def test_bad_inputs_exit_non_zero_with_one_line(tiny_catalog, tmp_path, aoi_file, capsys):
    base = [
        "search",
        "--catalog",
        str(tiny_catalog),
        "--collections",
        "sentinel-2-l2a",
        "--start",
        "2024-06-01",
        "--end",
        "2024-06-30",
    ]
    _expect_error(
        capsys,
        [*base, "--aoi", str(tmp_path / "missing.geojson")],
        r"AOI file .*missing.geojson' does not exist",
    )
    bad_json = tmp_path / "bad.geojson"
    bad_json.write_text("{not json")
    _expect_error(capsys, [*base, "--aoi", str(bad_json)], r"is not valid JSON \(line 1")
    bad_geojson = tmp_path / "badgeo.geojson"
    bad_geojson.write_text(json.dumps({"type": "Circle", "radius": 3}))
    _expect_error(capsys, [*base, "--aoi", str(bad_geojson)], r"unknown GeoJSON type 'Circle'")
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "Point", "coordinates": [10.3, 45.3]}))
    _expect_error(capsys, [*base, "--aoi", str(point)], r"contains a Point; an AOI must be")
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    _expect_error(capsys, [*base, "--aoi", str(empty)], r"contains no features")
    utm = tmp_path / "utm.geojson"
    utm.write_text(json.dumps(mapping(box(500000, 5300000, 501000, 5301000))))
    _expect_error(capsys, [*base, "--aoi", str(utm)], r"not longitude/latitude")
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(mapping(box(-60, -10, -59, -9))))
    _expect_error(capsys, [*base, "--aoi", str(far)], r"no scenes in .* intersecting the AOI")
    _expect_error(
        capsys,
        [
            "search",
            "--catalog",
            "nowhere-provider",
            "--aoi",
            str(aoi_file),
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-30",
        ],
        r"unknown catalog 'nowhere-provider'",
    )
    _expect_error(
        capsys,
        [*base, "--aoi", str(aoi_file), "--max-cloud", "150"],
        r"max_cloud must be within 0..100",  # a range error names the argument
    )


@pytest.mark.parametrize(
    ("option", "pattern"),
    [
        (["--chip-size", "0"], r"chip_size must be a positive whole number of pixels .* got 0"),
        (["--chip-size", "4096"], r"chip_size must be .* within \d+\.\.2048, got 4096"),
        (["--chunk-chips", "0"], r"chunk_chips must be a whole number >= 1, got 0"),
        (["--max-lag-days", "-1"], r"max_lag_days must be within 0..366, got -1"),
        (["--orbit-state", "sideways"], r"orbit_state must be 'ascending', 'descending'"),
        (["--composite", "max"], r"composite method must be one of \['median', 'mean'\]"),
        (["--resampling", "cubic"], r"--resampling must be one of \['bilinear', 'nearest'\]"),
    ],
)
def test_cube_options_are_refused_before_any_work(
    tiny_catalog, tmp_path, aoi_file, capsys, option, pattern
):
    store = tmp_path / "cube.zarr"
    args = ["cube", "--catalog", str(tiny_catalog), "--aoi", str(aoi_file)]
    args += ["--start", "2024-06-01", "--end", "2024-06-30", "--out", str(store), *option]
    _expect_error(capsys, args, pattern)  # one line: no progress bar before the error
    assert not store.exists() and not list(tmp_path.glob("*.progress"))


def test_unreachable_api_is_a_clean_error(aoi_file, capsys):
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _expect_error(
        capsys,
        [
            "search",
            "--catalog",
            f"http://127.0.0.1:{port}",
            "--aoi",
            str(aoi_file),
            "--collections",
            "sentinel-2-l2a",
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-30",
        ],
        r"cannot reach STAC API http://127.0.0.1:\d+",
    )


def test_verbose_shows_the_traceback(tmp_path, capsys):
    code, _, err = run(
        [
            "--verbose",
            "search",
            "--aoi",
            str(tmp_path / "x.geojson"),
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-30",
        ],
        capsys,
    )
    assert code == EXIT_USER_ERROR
    assert "Traceback" in err and "AoiError" in err


def test_an_unwritable_output_path_is_a_user_error(tiny_catalog, tmp_path, aoi_file, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = ["search", "--catalog", str(tiny_catalog), "--collections", "sentinel-2-l2a"]
    args += ["--aoi", str(aoi_file), "--start", "2024-06-01", "--end", "2024-06-30"]
    _expect_error(capsys, [*args, "--out", str(blocker / "items.geojson")], r"a-file'; check the")


def test_other_os_errors_are_still_reported_as_bugs(aoi_file, monkeypatch, capsys):
    import geomm.stac

    def broken(*_args, **_kwargs):
        raise OSError("a socket went away")  # no path: not the user's to fix

    monkeypatch.setattr(geomm.stac, "search", broken)
    args = ["search", "--aoi", str(aoi_file), "--start", "2024-06-01", "--end", "2024-06-02"]
    code, _, err = run(args, capsys)
    assert code == 70 and "internal error: OSError: a socket went away" in err


def test_usage_error_is_one_line_and_exit_1(capsys):
    code, _, err = run(["search", "--start", "2024-06-01"], capsys)
    assert code == 1
    assert err.strip() == "error: Missing option '--aoi'. (see `geomm search --help`)"
    code, _, err = run(["cube", "--chip-size", "abc"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: Invalid value for '--chip-size'")


def test_models_lists_inputs_and_where_weights_are(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out, _ = run(["models"], capsys)
    assert code == 0
    for name in ("croma-base", "croma-large", "croma-tiny"):
        assert name in out
    assert "B8A" in out and "VH" in out and "joint* (768)" in out
    assert "no published weights" in out  # croma-tiny
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "CROMA_base-0238d814.pt") in out
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "CROMA_base-0238d814.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"placeholder")
    code, out, _ = run(["models"], capsys)
    assert code == 0 and f"croma-base: {cached}\n" in out and "present" in out


def test_cleanclip_prints_a_path_with_markup_as_it_is(tmp_path, capsys):
    folder = tmp_path / "[/x] [red]digits"  # was a MarkupError (exit 70) after the set was made
    code, printed, err = run(["cleanclip", "make-digits", "--out", str(folder)], capsys)
    assert code == 0, err
    assert str(folder / "train.csv") in " ".join(printed.split())
