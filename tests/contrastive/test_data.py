"""The CSV reader: keys, delimiters, open_clip's TSV, relative paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geomm.contrastive import (
    CaptionCsvError,
    MissingImagesError,
    UnknownLabelError,
    read_caption_csv,
    resolve_labels,
)

from .conftest import write_shapes_set


def test_reference_format_with_relative_paths(shapes_csv):
    t = read_caption_csv(shapes_csv)
    assert (t.image_key, t.caption_key, t.delimiter) == ("image", "caption", ",")
    assert len(t) == 24 and t.captions[0] == "a square painted red"
    assert t.image_paths[0] == shapes_csv.parent / "imgs" / "s000.png"
    assert t.column("label")[:3] == ["red", "green", "blue"]
    assert t.is_backdoor == [False] * 24


def test_open_clip_tsv_convention(tmp_path):
    csv = write_shapes_set(tmp_path / "oc", sep="\t")
    df = pd.read_csv(csv, sep="\t").rename(columns={"image": "filepath", "caption": "title"})
    df.to_csv(csv, sep="\t", index=False)
    t = read_caption_csv(csv)  # keys and delimiter found without options
    assert (t.image_key, t.caption_key, t.delimiter) == ("filepath", "title", "\t")
    assert t.captions[1] == "a square painted green"
    t2 = read_caption_csv(csv, image_key="filepath", caption_key="title", delimiter="\\t")
    assert t2.delimiter == "\t"


def test_custom_keys_and_delimiter(tmp_path):
    csv = write_shapes_set(tmp_path / "k")
    df = pd.read_csv(csv).rename(columns={"image": "path", "caption": "text"})
    out = csv.with_name("semi.csv")
    df.to_csv(out, sep=";", index=False)
    t = read_caption_csv(out, image_key="path", caption_key="text", delimiter=";")
    assert t.captions[2] == "a square painted blue" and t.image_paths[2].is_file()


def test_absolute_paths_are_kept(tmp_path):
    csv = write_shapes_set(tmp_path / "abs")
    df = pd.read_csv(csv)
    df["image"] = [str((csv.parent / p).resolve()) for p in df.image]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    df.to_csv(elsewhere / "abs.csv", index=False)
    with pytest.raises(CaptionCsvError, match="outside the CSV's folder"):  # issue 13 case 9
        read_caption_csv(elsewhere / "abs.csv")
    table = read_caption_csv(elsewhere / "abs.csv", allow_outside_root=True)
    assert table.image_paths[0].is_file()


def test_missing_column_names_what_is_there(shapes_csv):
    with pytest.raises(CaptionCsvError, match=r"lacks column\(s\) \['text'\].*caption_key=\.\.\."):
        read_caption_csv(shapes_csv, caption_key="text")
    df = pd.read_csv(shapes_csv).drop(columns=["caption"])
    df.to_csv(shapes_csv, index=False)
    with pytest.raises(CaptionCsvError, match="caption"):
        read_caption_csv(shapes_csv)


def test_missing_images_lists_the_first_few(tmp_path):
    csv = write_shapes_set(tmp_path / "m")
    for i in range(10):
        (csv.parent / "imgs" / f"s{i:03d}.png").unlink()
    with pytest.raises(MissingImagesError) as err:
        read_caption_csv(csv)
    e = err.value
    assert isinstance(e, FileNotFoundError) and len(e.missing) == 10 and e.total == 24
    msg = str(e)
    assert "10 of 24 images" in msg and "s000.png" in msg and "s004.png" in msg
    assert "s005.png" not in msg and "(and 5 more)" in msg
    assert read_caption_csv(csv, check_images=False)  # the check can be skipped


def test_no_such_file_and_empty(tmp_path):
    with pytest.raises(CaptionCsvError, match="no such CSV"):
        read_caption_csv(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("image,caption\n")
    with pytest.raises(CaptionCsvError, match="no rows"):
        read_caption_csv(empty)


def test_labels_by_name_or_index():
    classes = ["cat", "dog", "eel"]
    assert resolve_labels(["dog", "cat"], classes) == [1, 0]
    assert resolve_labels(["2", "0"], classes) == [2, 0]
    with pytest.raises(UnknownLabelError, match="'fox' not among the 3 classes"):
        resolve_labels(["cat", "fox"], classes)
    with pytest.raises(UnknownLabelError, match="'3'"):
        resolve_labels(["3"], classes)


def test_error_pickles(tmp_path):
    import pickle

    e = MissingImagesError("x.csv", ["a.png"], 3)
    assert str(pickle.loads(pickle.dumps(e))) == str(e)
    u = UnknownLabelError("target label", ["z"], ["a"])
    assert str(pickle.loads(pickle.dumps(u))) == str(u)
    assert Path  # keep import
