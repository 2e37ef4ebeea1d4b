"""Single-file outputs replace only what geomm wrote (the fuzz test found both).

``geomm search --out FILE`` and ``geomm quicklook --out FILE`` replaced any
file of that name, a user's own included; ``geomm embed --out .`` was an
internal error. Now an existing file is replaced only when it carries
geomm's signature (``geomm._outputs``), a folder is named as one, and
nothing is written before the check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geomm._outputs import SIGNATURE, check_replaceable
from geomm.cli import main
from geomm.errors import ForeignFileError

AOI = {
    "type": "Polygon",
    "coordinates": [
        [[11.975, 48.015], [11.99, 48.015], [11.99, 48.025], [11.975, 48.025], [11.975, 48.015]]
    ],
}
DATES = ["--start", "2024-06-01", "--end", "2024-06-20"]


@pytest.fixture(scope="module")
def aoi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outputs") / "aoi.geojson"
    path.write_text(json.dumps(AOI))
    return path


@pytest.fixture(scope="module")
def cube(aoi: Path) -> Path:
    store = aoi.parent / "cube.zarr"
    assert (
        main(["cube", "--catalog", "sample", "--aoi", str(aoi), *DATES, "--out", str(store)]) == 0
    )
    return store


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_search_keeps_a_users_file_and_replaces_its_own(aoi, tmp_path, capsys):
    mine = tmp_path / "items.geojson"
    mine.write_text("my notes\n")
    args = ["search", "--catalog", "sample", "--aoi", str(aoi), *DATES, "--out", str(mine)]
    assert main(args) == 1
    assert "was not written by geomm" in _one_error(capsys)
    assert mine.read_text() == "my notes\n"
    fresh = tmp_path / "fresh.geojson"
    args[-1] = str(fresh)
    assert main(args) == 0
    doc = json.loads(fresh.read_text())
    assert doc["generator"] == SIGNATURE and doc["features"]

    assert main(args) == 0  # its own file: replaced without a word
    capsys.readouterr()


def test_quicklook_keeps_a_users_png_and_replaces_its_own(cube, tmp_path, capsys):
    photo = tmp_path / "q.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"holiday" * 100)
    before = photo.read_bytes()
    assert main(["quicklook", str(cube), "--out", str(photo)]) == 1
    assert "was not written by geomm" in _one_error(capsys)
    assert photo.read_bytes() == before
    ours = tmp_path / "ours.png"
    assert main(["quicklook", str(cube), "--out", str(ours)]) == 0
    first = ours.read_bytes()
    assert SIGNATURE.encode() in first[:65536]
    assert main(["quicklook", str(cube), "--out", str(ours)]) == 0
    assert ours.read_bytes() == first  # replaced by the same drawing
    capsys.readouterr()


@pytest.mark.parametrize("command", ["search", "quicklook", "embed"])
def test_a_folder_as_out_is_named_and_left_alone(command, aoi, cube, tmp_path, monkeypatch, capsys):
    (tmp_path / "keep.txt").write_text("mine\n")
    monkeypatch.chdir(tmp_path)
    args = {
        "search": ["search", "--catalog", "sample", "--aoi", str(aoi), *DATES],
        "quicklook": ["quicklook", str(cube)],
        "embed": [
            "embed",
            "--aoi",
            str(aoi),
            "--cube",
            str(cube),
            "--model",
            "croma-tiny",
            "--weights",
            "random",
        ],  # fmt: skip
    }[command]
    for out in (".", str(tmp_path)):
        assert main([*args, "--out", out]) == 1
        assert "is a folder" in _one_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_check_replaceable_rule(tmp_path):
    assert check_replaceable(tmp_path / "new.json", what="x") == tmp_path / "new.json"
    ours = tmp_path / "ours.md"
    ours.write_text(f"# page\n<!-- {SIGNATURE} -->\n")
    assert check_replaceable(ours, what="x") == ours
    late = tmp_path / "late.txt"
    late.write_bytes(b"x" * 70000 + SIGNATURE.encode())  # past the head: not a signature
    with pytest.raises(ForeignFileError):
        check_replaceable(late, what="x")


@pytest.mark.parametrize("command", ["cube", "search", "embed", "quicklook"])
def test_an_object_store_url_as_out_is_refused_not_written_locally(
    command, aoi, cube, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # Path("s3://b/x") would be the local folder s3:/b/x
    args = {
        "cube": ["cube", "--catalog", "sample", "--aoi", str(aoi), *DATES],
        "search": ["search", "--catalog", "sample", "--aoi", str(aoi), *DATES],
        "embed": [
            "embed",
            "--aoi",
            str(aoi),
            "--cube",
            str(cube),
            "--model",
            "croma-tiny",
            "--weights",
            "random",
        ],  # fmt: skip
        "quicklook": ["quicklook", str(cube)],
    }[command]
    assert main([*args, "--out", "s3://bucket/out.x"]) == 1
    assert "is a URL" in _one_error(capsys)
    assert not (tmp_path / "s3:").exists()
