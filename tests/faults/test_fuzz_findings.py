"""What the CLI fuzz test (test_fuzz_cli.py) found, each pinned as a plain test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geomm._redact import redact_text
from geomm.cli import main


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_a_newline_in_a_quoted_value_keeps_the_error_on_one_line(tmp_path, capsys):
    csv = tmp_path / "c.csv"
    csv.write_text("image,caption\n")
    args = ["cleanclip", "poison", "--csv", str(csv), "--out", str(tmp_path / "o"),
            "--target", "zero", "--count", "1", "--templates", "two\nlines"]  # fmt: skip
    assert main(args) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert "two\\nlines" in lines[0]  # shown as typed, escaped


def test_a_password_in_an_address_without_a_scheme_is_redacted():
    quoted = "invalid address 'user:PASSWORD@127.0.0.1:9'; maybe: ipv6 needs brackets"
    assert (
        redact_text(quoted) == "invalid address 'REDACTED@127.0.0.1:9'; maybe: ipv6 needs brackets"
    )
    for harmless in ("EPSG:4326 at 12:30", "host:8786", "[::1]:80", "a 10:20@ b"):
        assert redact_text(harmless) == harmless


def test_scheduler_credentials_never_reach_the_error(tmp_path, capsys):
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [[[12, 48], [12.01, 48],
                   [12.01, 48.01], [12, 48]]]}))  # fmt: skip
    address = "tcp://user:PASSWORD@127.0.0.1:9"
    args = ["cube", "--aoi", str(aoi), "--start", "2024-06-01", "--end", "2024-06-10",
            "--out", str(tmp_path / "c.zarr"), "--scheduler", address]  # fmt: skip
    assert main(args) == 1
    lines = _error_lines(capsys)
    assert lines and "PASSWORD" not in "\n".join(lines)


def test_too_many_threads_are_refused_before_torch_starts_them(tmp_path, capsys):
    args = ["cleanclip", "make-digits", "--out", str(tmp_path / "d")]
    assert main(["cleanclip", "reproduce", "--threads", "1000000", "--out", str(tmp_path)]) == 1
    assert "--threads must be within 1..256" in _error_lines(capsys)[-1]
    assert main(args) == 0  # torch still works in this process
    capsys.readouterr()


def test_make_digits_keeps_a_folder_of_someone_elses_files(tmp_path: Path, capsys):
    theirs = tmp_path / "data"
    theirs.mkdir()
    (theirs / "train.csv").write_text("their,own\n")
    assert main(["cleanclip", "make-digits", "--out", str(theirs)]) == 1
    assert "is not a digits set geomm made" in _error_lines(capsys)[0]
    assert sorted(p.name for p in theirs.iterdir()) == ["train.csv"]
    assert (theirs / "train.csv").read_text() == "their,own\n"
    ours = tmp_path / "digits"
    assert main(["cleanclip", "make-digits", "--out", str(ours)]) == 0
    first = (ours / "train.csv").read_text()
    assert main(["cleanclip", "make-digits", "--out", str(ours)]) == 0  # its own: made again
    assert (ours / "train.csv").read_text() == first
    capsys.readouterr()


def test_cli_advice_names_flags_not_python_arguments():
    from geomm.cli._flags import as_flags as _as_flags

    library = (
        "cube 'c.zarr' is damaged: ...; repair it with write_cube(cube, path, resume=True) "
        "(the same cube), or open it with allow_incomplete=True"
    )
    assert _as_flags(library) == (
        "cube 'c.zarr' is damaged: ...; repair it with the same `geomm cube` command with "
        "--resume (the same cube)"
    )
    assert _as_flags("rerun with resume=True (or overwrite=True to start again)") == (
        "rerun with --resume (or --overwrite to start again)"
    )


def test_a_quicklook_date_far_outside_nanosecond_timestamps_is_still_a_date():
    import pandas as pd
    import xarray as xr

    from geomm.cube._quicklook import QuicklookError, pick_time

    ds = xr.Dataset(coords={"time": pd.to_datetime(["2024-06-01", "2024-06-11", "2024-06-21"])})
    assert pick_time(ds, "9999-12-31") == 2  # was OutOfBoundsDatetime: exit 70
    assert pick_time(ds, "0001-01-01") == 0
    assert pick_time(ds, "2024-06-12") == 1
    for nothing in ("", " ", "NaT"):  # no date at all: said so (the first fix crashed on it)
        with pytest.raises(QuicklookError, match="neither an index nor a date"):
            pick_time(ds, nothing)
