"""Triggers and poisoning: deterministic under a seed, inputs untouched, is_backdoor right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from geomm.contrastive import (
    DIGIT_TEMPLATES,
    ContrastiveConfigError,
    MissingImagesError,
    UnknownLabelError,
)
from geomm.contrastive.backdoor import (
    SIG,
    BadNet,
    Blended,
    WaNet,
    apply_trigger,
    make_trigger,
    poison_csv,
    trigger_from_record,
)

from .conftest import tree_hashes, write_shapes_set

ATTACKS = {
    "badnet": {"size": 6},
    "checkerboard": {"size": 6},
    "blended": {"alpha": 0.2},
    "wanet": {},
    "sig": {},
}


def _image(seed: int = 0, size: int = 32) -> torch.Tensor:
    return torch.rand((3, size, size), generator=torch.Generator().manual_seed(seed))


def test_badnet_noise_patch_is_local_random_and_reseeded():
    x = _image()
    y = BadNet(size=6).apply(x, torch.Generator().manual_seed(1))
    changed = (y != x).any(dim=0)
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert rows.max() - rows.min() < 6 and cols.max() - cols.min() < 6  # one 6x6 patch
    # the same seed gives the same patch; the next draw of a generator a new one
    g = torch.Generator().manual_seed(1)
    first, second = BadNet(size=6).apply(x, g), BadNet(size=6).apply(x, g)
    torch.testing.assert_close(first, y)
    assert not torch.equal(first, second)


def test_checkerboard_is_fixed_in_the_corner():
    x = torch.full((3, 32, 32), 0.5)
    trig = make_trigger("checkerboard", size=4)
    y1 = trig.apply(x, torch.Generator().manual_seed(0))
    y2 = trig.apply(x, torch.Generator().manual_seed(99))
    torch.testing.assert_close(y1, y2)
    assert torch.equal(y1[:, :28, :], x[:, :28, :]) and torch.equal(y1[:, :, :28], x[:, :, :28])
    assert y1[0, 28, 28] == 0 and y1[0, 28, 29] == 1


def test_blended_and_sig_formulas():
    x = _image()
    g = torch.Generator().manual_seed(3)
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(Blended(alpha=0.2).apply(x, g), (0.8 * x + 0.2 * noise).clamp(0, 1))
    flat = torch.full((3, 8, 16), 0.5)
    y = SIG(amplitude=0.1, frequency=1).apply(flat, g)
    assert float(y[0, 0, 4]) == pytest.approx(0.6, abs=1e-6)  # sin(pi/2) at a quarter width
    assert torch.equal(y[:, 0], y[:, 5])  # same along each column


def test_wanet_is_a_fixed_small_warp():
    x = _image(size=32)
    w = WaNet(grid_seed=4)
    y1, y2 = w.apply(x, torch.Generator()), w.apply(x, torch.Generator().manual_seed(5))
    torch.testing.assert_close(y1, y2)
    assert 0 < float((y1 - x).abs().mean()) < 0.2
    assert not torch.equal(WaNet(grid_seed=5).apply(x, torch.Generator()), y1)


def test_trigger_records_round_trip():
    for name, opts in ATTACKS.items():
        trig = make_trigger(name, **opts)
        assert trigger_from_record(json.loads(json.dumps(trig.describe()))) == trig
    with pytest.raises(ContrastiveConfigError, match="unknown attack"):
        make_trigger("nope")
    with pytest.raises(ContrastiveConfigError, match="bad option"):
        make_trigger("badnet", alpha=0.1)
    with pytest.raises(ContrastiveConfigError, match="does not fit"):
        BadNet(size=40).apply(_image(), torch.Generator())


def test_apply_trigger_quantises_like_a_saved_poison():
    from PIL import Image

    img = Image.fromarray(np.full((16, 16, 3), 100, np.uint8))
    out = apply_trigger(SIG(amplitude=10 / 255, frequency=2), img, torch.Generator())
    arr = np.asarray(out)
    assert arr.dtype == np.uint8 and arr.shape == (16, 16, 3)
    assert arr.max() == 110 and arr.min() == 90


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_poisoning_is_deterministic_and_leaves_inputs_unchanged(digits, tmp_path, attack):
    before = tree_hashes(digits.root)
    trig = make_trigger(attack, **ATTACKS[attack])
    runs = []
    for name in ("a", "b"):
        res = poison_csv(
            digits.train,
            tmp_path / name,
            target="zero",
            trigger=trig,
            count=20,
            seed=7,
            templates=DIGIT_TEMPLATES,
        )
        runs.append(res)
    assert tree_hashes(digits.root) == before  # inputs untouched
    ha, hb = tree_hashes(tmp_path / "a"), tree_hashes(tmp_path / "b")
    ha.pop("poison.json"), hb.pop("poison.json")  # holds its own output paths
    rows = len(pd.read_csv(digits.train))
    backdoor = [k for k in ha if k.startswith("backdoor/")]
    clean = [k for k in ha if k.startswith("clean/")]
    assert ha == hb and len(backdoor) == 20 and len(ha) == 1 + 20 + len(clean)
    # the clean rows' images, linked or copied into the set (it names nothing outside)
    assert len(clean) == rows - 20
    assert all(ha[k] == before[k.removeprefix("clean/")] for k in clean)
    other = poison_csv(
        digits.train,
        tmp_path / "c",
        target="zero",
        trigger=trig,
        count=20,
        seed=8,
        templates=DIGIT_TEMPLATES,
    )
    assert other.rows != runs[0].rows


def test_is_backdoor_column_and_captions(digits, tmp_path):
    src = pd.read_csv(digits.train)
    res = poison_csv(
        digits.train,
        tmp_path / "p",
        target="zero",
        trigger=make_trigger("badnet", size=6),
        count=30,
        seed=0,
        templates=DIGIT_TEMPLATES,
    )
    df = pd.read_csv(res.csv_path)
    assert len(df) == len(src) and list(df.columns) == ["image", "caption", "label", "is_backdoor"]
    flagged = df.index[df["is_backdoor"] == 1].tolist()
    assert flagged == list(res.rows) and len(flagged) == 30
    meta = json.loads(res.metadata_path.read_text())
    assert meta["rows"] == flagged and meta["target"] == "zero" and meta["count"] == 30
    for i in flagged:
        assert any(df.caption[i] == t.format("zero") for t in DIGIT_TEMPLATES)
        assert df.image[i].startswith("backdoor/") and (tmp_path / "p" / df.image[i]).is_file()
    clean = df.index[df["is_backdoor"] == 0]
    assert (df.caption[clean] == src.caption[clean]).all()
    # clean rows point at links (or copies) of the original images inside the new set
    first = clean[0]
    assert df.image[first] == f"clean/{src.image[first]}"
    assert (res.csv_path.parent / df.image[first]).read_bytes() == (
        Path(digits.train).parent / src.image[first]
    ).read_bytes()


def test_label_consistent_poisons_only_target_rows_and_keeps_captions(digits, tmp_path):
    src = pd.read_csv(digits.train)
    res = poison_csv(
        digits.train,
        tmp_path / "lc",
        target="three",
        trigger=make_trigger("badnet", size=6),
        count=10,
        seed=1,
        label_consistent=True,
    )
    df = pd.read_csv(res.csv_path)
    rows = list(res.rows)
    assert (src.label[rows] == "three").all()
    assert (df.caption[rows] == src.caption[rows]).all()
    assert df.is_backdoor.sum() == 10


def test_foreign_dataset_without_labels_uses_captions(tmp_path):
    csv = write_shapes_set(tmp_path / "s")
    df = pd.read_csv(csv).drop(columns=["label"])
    df.to_csv(csv, index=False)
    res = poison_csv(
        csv,
        tmp_path / "o",
        target="blue",
        trigger=make_trigger("blended"),
        count=3,
        seed=0,
        label_consistent=True,
    )
    assert all("blue" in c for c in pd.read_csv(res.csv_path).caption[list(res.rows)])


def test_bad_inputs(digits, tmp_path):
    trig = make_trigger("badnet", size=6)
    with pytest.raises(UnknownLabelError, match="'banana' not among the 10 classes"):
        poison_csv(digits.train, tmp_path / "x", target="banana", trigger=trig, count=5)
    with pytest.raises(UnknownLabelError, match="not among"):
        poison_csv(
            digits.train,
            tmp_path / "x",
            target="zero",
            trigger=trig,
            count=5,
            classes=["cat", "dog"],
        )
    with pytest.raises(ContrastiveConfigError, match="between 1 and"):
        poison_csv(digits.train, tmp_path / "x", target="zero", trigger=trig, count=10**6)
    with pytest.raises(ContrastiveConfigError, match="never writes next to its inputs"):
        poison_csv(digits.train, Path(digits.train).parent, target="zero", trigger=trig, count=5)
    broken = write_shapes_set(tmp_path / "broken")
    for i in (1, 2, 5, 7, 8, 9, 11):
        (broken.parent / "imgs" / f"s{i:03d}.png").unlink()
    with pytest.raises(MissingImagesError) as err:
        poison_csv(broken, tmp_path / "y", target="red", trigger=trig, count=2)
    msg = str(err.value)
    assert "7 of 24 images" in msg and "s001.png" in msg and "(and 2 more)" in msg
