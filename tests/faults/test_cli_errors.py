"""Issue 13, errors that blamed geomm for the user's input: each is one plain line, exit 1.

Text is printed literally (never as Rich markup), a missing optional dependency names
its pip extra, and ``--verbose`` works anywhere and prints the error once.
"""

from __future__ import annotations

import json
import sys

import pytest

from geomm.cli import EXIT_USER_ERROR, main
from tests.faults._cli import DATES, SAMPLE_AOI, one_line_error


def polygon(ring: list) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [ring]}, allow_nan=True)


# --------------------------------------------------------------------------- AOI values


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (polygon([[float("nan"), 48], [12, 48], [12, 48.1], [float("nan"), 48]]), "(nan)"),
        (polygon([[11.9, 48], [float("inf"), 48], [12, 48.1], [11.9, 48]]), "(inf)"),
        (polygon([[11.9, 48], [12, float("-inf")], [12, 48.1], [11.9, 48]]), "(-inf)"),
    ],
)
def test_non_finite_aoi_coordinates_are_the_users_to_fix(tmp_path, capsys, text, pattern):
    aoi = tmp_path / "nan.geojson"
    aoi.write_text(text)  # json.dumps writes NaN/Infinity, and json.loads reads them back
    line = one_line_error(capsys, ["search", "--aoi", str(aoi), *DATES])
    assert line == (
        f"error: AOI {str(aoi)!r} has a non-finite coordinate {pattern}; every vertex needs "
        "a finite longitude and latitude: fix or redraw the polygon"
    )


def test_a_coordinate_that_is_not_a_number_is_named(tmp_path, capsys):
    aoi = tmp_path / "text.geojson"
    aoi.write_text(polygon([[11.9, 48], ["12", 48], [12, 48.1], [11.9, 48]]))
    line = one_line_error(capsys, ["search", "--aoi", str(aoi), *DATES])
    assert "has a coordinate '12' that is not a number" in line


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "cannot read AOI file .*utf-8"),
        (b"[1, 2, 3]", "is not GeoJSON"),
        (b'{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}', "contains a LineString"),
        (b'{"type": "Polygon", "coordinates": [[[0, 0], [1]]]}', "malformed Polygon"),
        (b'{"type": "Polygon", "coordinates": [[[0, 0], [0, 95], [1, 95], [0, 0]]]}', "not lon"),
    ],
)
def test_bad_aoi_files_are_one_line(tmp_path, capsys, content, pattern):
    import re

    aoi = tmp_path / "bad.geojson"
    aoi.write_bytes(content)
    line = one_line_error(capsys, ["cube", "--aoi", str(aoi), *DATES, "--out", str(tmp_path / "c")])
    assert re.search(pattern, line), line


# --------------------------------------------------------------------------- literal text


def test_a_path_with_markup_is_printed_as_it_is(tmp_path, capsys):
    folder = tmp_path / "[red]x["  # `[red]x[/red].geojson` in a folder named `[red]x[`
    folder.mkdir()
    aoi = folder / "red].geojson"
    aoi.write_text("{}")
    line = one_line_error(capsys, ["search", "--aoi", str(aoi), *DATES])
    assert f"AOI {str(aoi)!r} is not GeoJSON" in line
    assert "[red]x[/red].geojson" in line


def test_a_path_with_a_closing_tag_does_not_crash_the_printer(tmp_path, capsys):
    missing = tmp_path / "a[/b]c.geojson"  # rich read `[/b]` as a closing tag: MarkupError
    line = one_line_error(capsys, ["search", "--aoi", str(missing), *DATES])
    assert line.startswith(f"error: AOI file {str(missing)!r} does not exist")


def test_output_paths_with_markup_are_printed_as_they_are(sample_catalog, tmp_path, capsys):
    store = tmp_path / "[bold]c[/].zarr"
    code = main(["cube", "--aoi", str(SAMPLE_AOI), "--start", "2024-06-01", "--end",
                 "2024-06-10", "--out", str(store)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"open_cube({str(store)!r})" in out  # the table title may wrap the path
    png = tmp_path / "[/]q.png"
    assert main(["quicklook", str(store), "--out", str(png), "--dpi", "20"]) == 0
    assert capsys.readouterr().out.startswith(f"{png}  (time ")


# --------------------------------------------------------------------------- extras


def _forget_geomm_embed(monkeypatch) -> None:
    """Make ``import geomm.embed`` run again (monkeypatch puts the modules back)."""
    for name in [m for m in sys.modules if m == "geomm.embed" or m.startswith("geomm.embed.")]:
        monkeypatch.delitem(sys.modules, name)


def test_embed_without_pyarrow_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    _forget_geomm_embed(monkeypatch)
    args = ["embed", "--aoi", str(SAMPLE_AOI), *DATES, "--out", str(tmp_path / "e.parquet")]
    line = one_line_error(capsys, args)
    assert line == (
        "error: geomm.embed needs the optional package 'pyarrow', which is not installed; "
        "install it with: pip install 'geomm[models]'"
    )


def test_a_model_without_torch_names_the_extra(tmp_path, monkeypatch):
    from geomm.embed import ModelSpec
    from geomm.errors import MissingExtraError

    def no_torch(_name):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr("geomm.models.model_info", no_torch)
    with pytest.raises(MissingExtraError, match=r"pip install 'geomm\[models\]'") as caught:
        ModelSpec("croma-base").check()
    assert isinstance(caught.value, ModuleNotFoundError) and caught.value.name == "torch"


@pytest.mark.parametrize(
    ("module", "command", "extra"),
    [
        ("geopandas", ["search"], "models"),
        ("sklearn", ["search"], "contrastive"),
        ("torch", ["search"], "models"),
        ("torch", ["cleanclip"], "contrastive"),
        ("planetary_computer.sas", ["search"], "planetary-computer"),
    ],
)
def test_the_cli_maps_any_missing_optional_module_to_its_extra(
    monkeypatch, capsys, module, command, extra
):
    import geomm.cli._main

    def missing(*_args, **_kwargs):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(geomm.cli._main, "app", missing)
    line = one_line_error(capsys, [*command, "--whatever"])
    top = module.split(".")[0]
    assert line == (
        f"error: this needs the optional package {top!r}, which is not installed; "
        f"install it with: pip install 'geomm[{extra}]'"
    )


def test_a_missing_module_of_no_extra_is_still_a_bug(monkeypatch, capsys):
    import geomm.cli._main

    def missing(*_args, **_kwargs):
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    monkeypatch.setattr(geomm.cli._main, "app", missing)
    assert main(["search"]) == 70
    assert "internal error: ModuleNotFoundError" in capsys.readouterr().err


# --------------------------------------------------------------------------- --verbose


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("flag", ["--verbose", "-v"])
def test_verbose_works_anywhere_and_prints_the_error_once(
    tmp_path, monkeypatch, capsys, where, flag
):
    monkeypatch.chdir(tmp_path)  # a short message: no wrapping hides a second copy
    missing = "x.geojson"
    args = ["search", "--aoi", missing, *DATES]
    at = {"first": 0, "middle": 3, "last": len(args)}[where]
    code = main([*args[:at], flag, *args[at:]])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err.count("Traceback (most recent call last)") == 1 and "aoi.py" in err
    message = f"AOI file {missing!r} does not exist"
    assert err.count(message) == 1, err
    assert err.rstrip().splitlines()[-1].startswith(f"error: {message}")


def test_without_verbose_a_later_run_shows_no_traceback(tmp_path, capsys):
    args = ["search", "--aoi", str(tmp_path / "x.geojson"), *DATES]
    main([*args, "-v"])
    capsys.readouterr()
    one_line_error(capsys, args)  # -v of the previous call does not stick


def test_a_folder_as_weights_is_named_a_folder(tmp_path, capsys):
    args = ["embed", "--aoi", str(SAMPLE_AOI), *DATES, "--out", str(tmp_path / "e.parquet")]
    line = one_line_error(capsys, [*args, "--model", "croma-tiny", "--weights", str(tmp_path)])
    assert line == (
        f"error: weights file {str(tmp_path)!r} is a folder; pass a checkpoint file, or 'random'"
    )
