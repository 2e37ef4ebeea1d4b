"""Library errors name Python arguments; the command line shows them as its flags.

``geomm.cli._flags`` is the one place that translates (``resume=True`` ->
``--resume``): these tests raise each kind of library advice through
``geomm.cli.main`` and read the printed line, check that the library's own
text names the argument (a notebook user has no flags), and that every
argument a library error message names has its entry in the table.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

import geomm
import geomm.cli._main
from geomm.aoi import read_aoi
from geomm.cli import EXIT_USER_ERROR, main
from geomm.cli._flags import FLAGS, as_flags, flag_for
from geomm.errors import (
    GeommError,
    ImageOutsideRootError,
    MissingImagesError,
    SizeLimitError,
    UnknownLabelError,
)

# (the library's error, the words it must carry, the flags the command line must print)
LIBRARY_ERRORS = [
    (GeommError("rerun with resume=True to continue"), ["resume=True"], ["--resume"]),
    (GeommError("pass overwrite=True to replace it"), ["overwrite=True"], ["--overwrite"]),
    (
        SizeLimitError("the cube", 120 * 10**9, 50 * 10**9),
        ["max_size=50.0 GB", "scheduler=ADDRESS", "max_size=None"],
        ["--max-size 50.0 GB", "--scheduler ADDRESS", "--max-size none"],
    ),
    (
        GeommError("or pass allow_outside_catalog=True if you trust this catalog"),
        ["allow_outside_catalog=True"],
        ["--allow-outside-catalog"],
    ),
    (
        ImageOutsideRootError("c.csv", 2, "../x.png", "/x.png"),
        ["allow_outside_root=True"],
        ["--allow-outside-catalog"],
    ),
    (
        MissingImagesError("c.csv", ["a.png"], 3),
        ["image_key=..."],
        ["--image-key ..."],
    ),
    (
        UnknownLabelError("target", ["banana"], ["zero", "one"]),
        ["classes=..."],
        ["--classes ..."],
    ),
    (
        GeommError("pass weights=PATH (or weights='random')"),
        ["weights=PATH", "weights='random'"],
        ["--weights PATH", "--weights random"],
    ),
    (
        GeommError('check the URL, or search catalog="sample" offline'),
        ['catalog="sample"'],
        ["--catalog sample"],
    ),
    (
        GeommError("give start= and end= to build a cube over the AOI, or cube= with one"),
        ["start=", "end=", "cube="],
        ["give --start and --end to build", "or --cube with one"],
    ),
    (
        GeommError("no collections to search; name them in collections="),
        ["collections="],
        ["name them in --collections"],
    ),
    (
        GeommError("'.' is the current folder; pass out= a new path inside it instead"),
        ["out="],
        ["pass --out a new path"],
    ),
    (
        GeommError("build the cube with CubeConfig(chip_size=112) to embed it"),
        ["chip_size=112"],
        ["build the cube with --chip-size 112 to embed it"],
    ),
    (
        GeommError(
            "the supervised recipe needs class names and templates (classes=..., templates=...)"
        ),  # fmt: skip
        ["classes=...", "templates=..."],
        ["(--classes ..., --templates ...)"],
    ),
]


def _printed(monkeypatch, capsys, error: BaseException) -> str:
    """The one line ``geomm`` prints when a command raises ``error``."""

    def raising(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(geomm.cli._main, "app", raising)
    assert main(["search"]) == EXIT_USER_ERROR
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(("error", "words", "flags"), LIBRARY_ERRORS)
def test_each_library_advice_is_printed_as_the_flag(monkeypatch, capsys, error, words, flags):
    line = _printed(monkeypatch, capsys, error)
    for flag in flags:
        assert flag in line
    for word in words:
        assert word not in line


@pytest.mark.parametrize(("error", "words", "flags"), LIBRARY_ERRORS)
def test_the_library_error_itself_names_the_argument(error, words, flags):
    text = str(error)
    for word in words:
        assert word in text
    assert not re.search(r"(?<![\w-])--[a-z]", text)


def test_a_caption_csv_error_names_the_argument_and_the_cli_the_flag(tmp_path, capsys):
    from geomm.contrastive import read_caption_csv

    (tmp_path / "data").mkdir()
    (tmp_path / "x.png").write_bytes(b"")
    csv = tmp_path / "data" / "c.csv"
    csv.write_text("image,caption\n../x.png,a picture\n")
    with pytest.raises(ImageOutsideRootError) as caught:
        read_caption_csv(csv)
    assert "allow_outside_root=True" in str(caught.value) and "--" not in str(caught.value)
    args = ["cleanclip", "poison", "--csv", str(csv), "--out", str(tmp_path / "p")]
    assert main([*args, "--target", "a", "--count", "1"]) == EXIT_USER_ERROR
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and line.endswith("or pass --allow-outside-catalog if "
                                                        "you trust this CSV")  # fmt: skip


def test_a_catalog_href_error_names_the_argument_and_the_cli_the_flag(tmp_path, capsys):
    from geomm.errors import UntrustedHrefError
    from geomm.stac import search
    from geomm.testing import make_item, write_static_catalog

    footprint = mapping(box(10, 45, 11, 46))
    item = make_item("S2-X", collection="sentinel-2-l2a", geometry=footprint,
                     datetime="2024-06-05T10:00:00Z",
                     assets={"B04": {"href": "/etc/passwd"}})  # fmt: skip
    catalog = write_static_catalog(tmp_path / "cat", {"sentinel-2-l2a": [item]})
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps(mapping(box(10.2, 45.2, 10.4, 45.4))))
    with pytest.raises(UntrustedHrefError) as caught:
        search(str(catalog), aoi=read_aoi(aoi), start="2024-06-01", end="2024-06-30",
               collections=["sentinel-2-l2a"])  # fmt: skip
    assert "allow_outside_catalog=True" in str(caught.value)
    args = ["search", "--catalog", str(catalog), "--aoi", str(aoi), "--start", "2024-06-01"]
    assert main([*args, "--end", "2024-06-30", "--collections", "sentinel-2-l2a"]) == 1
    line = capsys.readouterr().err.strip()
    assert "--allow-outside-catalog" in line and "allow_outside_catalog" not in line


def test_words_that_are_no_advice_are_left_alone():
    text = (
        "cannot reach https://x/stac?limit=5&out=3; the file 'out=3.json' and "
        "my_out=3 stay; nothing was trained (stop_after_epochs=0?)"
    )
    assert as_flags(text) == text


def test_a_notebook_only_way_out_is_dropped():
    library = (
        "cube 'c.zarr' is damaged: ...; repair it with write_cube(cube, path, resume=True) "
        "(the same cube), or open it with allow_incomplete=True"
    )
    assert as_flags(library) == (
        "cube 'c.zarr' is damaged: ...; repair it with the same `geomm cube` command with "
        "--resume (the same cube)"
    )


def test_every_flag_in_the_table_is_a_flag_of_some_command():
    import typer.main

    from geomm.cli import app

    def flags(command) -> set[str]:
        own = {o for p in getattr(command, "params", ()) for o in getattr(p, "opts", ())}
        for sub in getattr(command, "commands", {}).values():
            own |= flags(sub)
        return own

    known = flags(typer.main.get_command(app))
    assert sorted(set(FLAGS.values()) - known) == []
    assert flag_for("warmup_steps") == "--warmup" and flag_for("label_key") == "--label-key"


# Arguments a library message may name that no command has a flag for, each with why.
NOT_FLAGS = {
    "allow_incomplete": "open_cube's way into an unfinished cube; no command opens one so",
    "download": "the command line always may download; the phrase is dropped",
    "stop_after_epochs": "a notebook's way to train part of a run",
    "engine": "LoadOptions' reader engine, a Python-only choice",
    "reader": "LoadOptions' reader object (reader=OdcReader()), a Python-only choice",
    "normalization": "a ModelSpec field with no flag; quoted as a value",
    "resolution": "a cube attribute quoted in a diagnosis",
    "k": "a trigger's parameter quoted in a diagnosis",
    "strength": "a trigger's parameter quoted in a diagnosis",
    "type": "a STAC document's field quoted in a diagnosis",
}
_ADVICE = re.compile(r"(?<![\w.'\"/?&=\-{])([a-z][a-z0-9_]*)=(?!=)")


def _error_texts(tree: ast.AST):
    """The literal text of every error geomm raises, builds in an ``__init__`` or warns."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            source = node.exc
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("__init__", "warn"):
            source = node
        else:
            continue
        for part in ast.walk(source) if source is not None else ():
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                yield node.lineno, part.value


def test_every_argument_library_errors_name_is_in_the_table():
    package = Path(geomm.__file__).parent
    missing = {}
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] == "cli":
            continue
        for line, text in _error_texts(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _ADVICE.findall(text):
                if name not in FLAGS and name not in NOT_FLAGS:
                    missing[name] = f"{path.relative_to(package)}:{line}"
    assert missing == {}
