"""The bundled textures set: read back as users read it, captions and images true to the class."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geomm.contrastive import (
    TEXTURE_CLASSES,
    TEXTURE_TEMPLATES,
    ContrastiveConfigError,
    check_templates,
    clean_text,
    make_textures,
    read_caption_csv,
    read_lines,
)
from geomm.contrastive._textures import TEXTURE_COLOURS

from .conftest import tree_hashes
from .test_cli import run

PARTS = {"train": 1800, "finetune": 600, "test": 600}


@pytest.fixture(scope="module")
def textures(tmp_path_factory: pytest.TempPathFactory):
    """The default set, drawn once (read-only for the tests)."""
    return make_textures(tmp_path_factory.mktemp("textures") / "set", seed=0)


@pytest.fixture(scope="module")
def tables(textures):
    """Each split as ``finetune`` and ``train`` read it."""
    return {part: read_caption_csv(getattr(textures, part)) for part in PARTS}


def test_the_set_reads_back_in_the_reference_format(textures, tables):
    assert sum(len(t) for t in tables.values()) == 3000
    for part, n in PARTS.items():
        table = tables[part]
        assert len(table) == n and list(table.frame.columns) == ["image", "caption", "label"]
        assert Counter(table.frame.label) == {c: n // 10 for c in TEXTURE_CLASSES}
        for path in table.image_paths:
            assert path.parent == textures.root / "images" / part
            with Image.open(path) as img:
                assert (img.format, img.mode, img.size) == ("PNG", "RGB", (32, 32))
    images = [p for t in tables.values() for p in t.image_paths]
    assert len(set(images)) == 3000  # the splits are disjoint
    assert read_lines(textures.classes) == list(TEXTURE_CLASSES)
    assert check_templates(read_lines(textures.templates)) == TEXTURE_TEMPLATES
    record = json.loads((textures.root / "textures.json").read_text())
    assert record["counts"] == PARTS and record["size"] == 32 and "complete" not in record


def _dominant_colours(path: Path) -> set[str]:
    """The palette names of the two colours most pixels of the image have."""
    pixels = np.asarray(Image.open(path)).reshape(-1, 3)
    names = {rgb: name for name, rgb in TEXTURE_COLOURS.items()}
    top = Counter(map(tuple, pixels.tolist())).most_common(2)
    return {names.get(rgb, f"not a palette colour {rgb}") for rgb, _ in top}


def test_captions_name_the_class_and_exactly_the_two_colours_drawn(tables):
    templates = Counter()
    for table in tables.values():
        for path, caption, label in zip(
            table.image_paths, table.captions, table.frame.label, strict=True
        ):
            assert clean_text(caption) == caption  # letters only: EDA keeps every word
            assert f" {label} " in f" {caption} "
            others = [c for c in TEXTURE_CLASSES if c != label and f" {c} " in f" {caption} "]
            assert others == []
            said = {w for w in caption.split() if w in TEXTURE_COLOURS}
            assert said == _dominant_colours(path), (caption, path)
            templates[caption.split()[0]] += 1
    assert len(templates) >= 4  # the wording varies


def _power(path: Path) -> np.ndarray:
    """The image's 2-D power spectrum, summed over the colour channels, without DC."""
    a = np.asarray(Image.open(path)).astype(np.float64)
    a -= a.mean(axis=(0, 1))
    return sum(np.abs(np.fft.fft2(a[..., c])) ** 2 for c in range(3))


def _peaks(power: np.ndarray) -> tuple[float, float, float]:
    """Direction of the strongest frequency (degrees, 0 = along x), the power of the
    strongest one at least 45 degrees away relative to it, and the angle between them."""
    f = np.fft.fftfreq(power.shape[0])
    ky, kx = np.meshgrid(f, f, indexing="ij")
    direction = np.degrees(np.arctan2(ky, kx)) % 180
    i = int(np.argmax(power))
    apart = np.abs((direction - direction.flat[i] + 90) % 180 - 90)
    other = np.where(apart >= 45, power, 0.0)
    j = int(np.argmax(other))
    return float(direction.flat[i]), float(other.flat[j] / power.flat[i]), float(apart.flat[j])


def _from_axis(angle: float) -> float:
    return min(angle % 90, 90 - angle % 90)


def _by_class(tables) -> dict[str, list[Path]]:
    t = tables["test"]
    out: dict[str, list[Path]] = {}
    for path, label in zip(t.image_paths, t.frame.label, strict=True):
        out.setdefault(label, []).append(path)
    return out


def _share(paths: list[Path], holds) -> float:
    """The share of the images whose spectrum's peaks satisfy ``holds(angle, second, apart)``.

    A 32 px image has few frequencies, so a texture at an unlucky period and angle
    may put its peak one bin off; a wrongly drawn class fails on nearly every image.
    """
    return float(np.mean([bool(holds(*_peaks(_power(p)))) for p in paths]))


def test_stripes_run_the_way_their_class_says(tables):
    by_class = _by_class(tables)
    for label, near in (("horizontal stripes", 90), ("vertical stripes", 0)):
        share = _share(
            by_class[label],
            lambda angle, second, _, near=near: (
                abs((angle - near + 90) % 180 - 90) <= 20 and second < 0.2
            ),  # one direction only
        )
        assert share >= 0.95, (label, share)
    share = _share(
        by_class["diagonal stripes"],
        lambda angle, second, _: _from_axis(angle) >= 25 and second < 0.2,
    )
    assert share >= 0.9, share


def test_checkerboards_and_grids_have_two_crossing_directions(tables):
    by_class = _by_class(tables)
    for label, diagonal in (("checkerboard", True), ("grid", False)):
        # a checkerboard's waves run diagonally to its squares' edges; a grid's along them
        share = _share(
            by_class[label],
            lambda angle, second, apart, diagonal=diagonal: (
                second > 0.4 and apart > 60 and (_from_axis(angle) >= 20) == diagonal
            ),
        )
        assert share >= 0.9, (label, share)


def test_speckles_are_finer_than_blotches(tables):
    def high_share(path: Path) -> float:
        power = _power(path)
        f = np.fft.fftfreq(power.shape[0])
        return float(power[np.hypot(f[:, None], f[None, :]) > 0.25].sum() / power.sum())

    by_class = _by_class(tables)
    speckles = [high_share(p) for p in by_class["speckles"]]
    blotches = [high_share(p) for p in by_class["blotches"]]
    assert min(speckles) > 0.3 > 0.2 > max(blotches), (min(speckles), max(blotches))


def test_the_same_seed_draws_the_same_files_and_another_seed_others(textures, tmp_path):
    again = make_textures(tmp_path / "again", seed=0)
    assert tree_hashes(again.root) == tree_hashes(textures.root)
    small = (10, 10, 10)
    one = tree_hashes(make_textures(tmp_path / "one", seed=1, counts=small).root)
    other = tree_hashes(make_textures(tmp_path / "zero", seed=0, counts=small).root)
    drawn = [{h for k, h in t.items() if k.endswith(".png")} for t in (one, other)]
    assert len(drawn[0]) == len(drawn[1]) == 30 and not drawn[0] & drawn[1]
    assert one["train.csv"] != other["train.csv"]


def test_uneven_counts_are_shared_by_the_classes_as_evenly_as_they_go(tmp_path):
    made = make_textures(tmp_path / "t", seed=3, size=16, counts=(25, 12, 11))
    for part, n in (("train", 25), ("finetune", 12), ("test", 11)):
        per_class = Counter(read_caption_csv(getattr(made, part)).frame.label)
        assert sum(per_class.values()) == n and set(per_class) <= set(TEXTURE_CLASSES)
        assert max(per_class.values()) - min(per_class.get(c, 0) for c in TEXTURE_CLASSES) <= 1
    with Image.open(read_caption_csv(made.test).image_paths[0]) as img:
        assert img.size == (16, 16)


def test_a_folder_of_someone_elses_files_is_refused_and_left_alone(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "train.csv").write_text("their,own\n")
    with pytest.raises(ContrastiveConfigError, match="not a textures set geomm made"):
        make_textures(theirs, counts=(10, 10, 10))
    assert [p.name for p in theirs.iterdir()] == ["train.csv"]
    assert (theirs / "train.csv").read_text() == "their,own\n"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ContrastiveConfigError, match="is a file"):
        make_textures(tmp_path / "file", counts=(10, 10, 10))
    digits_like = tmp_path / "digits"
    digits_like.mkdir()
    (digits_like / "digits.json").write_text('{"generator": "written by geomm"}\n')
    with pytest.raises(ContrastiveConfigError, match="no textures.json"):
        make_textures(digits_like, counts=(10, 10, 10))


def test_a_set_made_before_is_made_again(tmp_path):
    first = make_textures(tmp_path / "t", seed=0, counts=(10, 10, 10))
    hashes = tree_hashes(first.root)
    (first.root / "textures.json").write_text(
        '{"generator": "written by geomm", "complete": false}\n'
    )  # as a run that died halfway leaves it
    assert tree_hashes(make_textures(tmp_path / "t", seed=0, counts=(10, 10, 10)).root) == hashes


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"size": 4}, "size must be from 8 to 512 px, got 4"),
        ({"size": 513}, "size must be"),
        ({"seed": -1}, "seed must be"),
        ({"counts": (1800, 600)}, "counts must be"),
        ({"counts": (1800, 9, 600)}, "counts must be"),
        ({"counts": (1800, 600.0, 600)}, "counts must be"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, options, named):
    with pytest.raises(ContrastiveConfigError, match=named):
        make_textures(tmp_path / "t", **options)
    assert not (tmp_path / "t").exists()


def test_the_command_writes_the_set(tmp_path):
    d = tmp_path / "textures"
    r = run("make-textures", "--out", d, "--size", "16", "--seed", "2")
    assert r.exit_code == 0, r.output
    assert f"wrote {d / 'train.csv'}" in r.output.replace("\n", "")
    table = read_caption_csv(d / "finetune.csv")
    assert len(table) == 600 and Counter(table.frame.label) == {c: 60 for c in TEXTURE_CLASSES}
    with Image.open(table.image_paths[0]) as img:
        assert img.size == (16, 16)
    assert json.loads((d / "textures.json").read_text())["seed"] == 2
    r = run("make-textures", "--out", d, "--size", "4")
    assert r.exit_code != 0 and "size must be from 8 to 512 px" in str(r.exception or r.output)
