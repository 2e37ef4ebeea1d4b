"""Recipes: resume equals an uninterrupted run, what each recipe trains, clear errors."""

from __future__ import annotations

import pytest
import torch

from geomm.contrastive import (
    DIGIT_CLASSES,
    DIGIT_TEMPLATES,
    LOGIT_SCALE_MAX,
    CheckpointError,
    ContrastiveConfigError,
    TrainConfig,
    create_model,
    load_model,
    read_caption_csv,
    train,
)
from geomm.errors import ForeignFileError


@pytest.fixture(scope="module")
def finetune_rows(digits, tmp_path_factory):
    """A 192-row slice of the finetuning split (three batches of 64), absolute paths
    outside the slice's folder (trusted: ``allow_outside_root=True``)."""
    import pandas as pd

    df = pd.read_csv(digits.finetune).head(192)
    df["image"] = [str(digits.root / p) for p in df.image]
    out = tmp_path_factory.mktemp("slice") / "finetune-192.csv"
    df.to_csv(out, index=False)
    return read_caption_csv(out, allow_outside_root=True)


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_gives_the_uninterrupted_result(finetune_rows, tmp_path):
    cfg = TrainConfig(recipe="cleanclip", epochs=2, batch_size=64, lr=1e-3, warmup_steps=2, seed=5)
    a = create_model("small-clip", seed=1)
    full = train(a, finetune_rows, tmp_path / "full", cfg)
    assert full.finished and len(full.history) == 2

    b = create_model("small-clip", seed=1)
    half = train(b, finetune_rows, tmp_path / "split", cfg, stop_after_epochs=1)
    assert not half.finished and len(half.history) == 1
    c = create_model("small-clip", seed=99)  # a fresh process would start from anything
    rest = train(c, finetune_rows, tmp_path / "split", cfg, resume=True)
    assert rest.finished and len(rest.history) == 2
    for k, v in _params(a).items():
        torch.testing.assert_close(c.state_dict()[k], v, rtol=0, atol=0, msg=k)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(rest.history) == strip(full.history)  # same losses, lr, scale, exactly
    # the checkpoint rebuilds the model without knowing its options
    loaded = load_model(tmp_path / "split")
    for k, v in _params(a).items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)


def test_existing_runs_are_not_overwritten_silently(finetune_rows, tmp_path):
    cfg = TrainConfig(recipe="mmcl", epochs=1, lr=1e-3)
    train(create_model(seed=0), finetune_rows, tmp_path / "run", cfg)
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(create_model(seed=0), finetune_rows, tmp_path / "run", cfg)
    with pytest.raises(CheckpointError, match="different configuration"):
        train(
            create_model(seed=0),
            finetune_rows,
            tmp_path / "run",
            TrainConfig(recipe="mmcl", epochs=1, lr=2e-3),
            resume=True,
        )
    again = train(create_model(seed=0), finetune_rows, tmp_path / "run", cfg, overwrite=True)
    assert again.finished
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "nothing")


def test_overwrite_keeps_a_checkpoint_file_geomm_did_not_write(finetune_rows, tmp_path):
    folder = tmp_path / "someone"
    folder.mkdir()
    (folder / "checkpoint.pt").write_bytes(b"my own model, not geomm's")
    cfg = TrainConfig(recipe="mmcl", epochs=1, lr=1e-3)
    with pytest.raises(ForeignFileError, match="not a checkpoint geomm wrote"):
        train(create_model(seed=0), finetune_rows, folder, cfg, overwrite=True)
    assert (folder / "checkpoint.pt").read_bytes() == b"my own model, not geomm's"


def test_supervised_trains_only_the_image_tower(finetune_rows, tmp_path):
    model = create_model(seed=0)
    before = _params(model)
    train(
        model,
        finetune_rows,
        tmp_path / "sup",
        TrainConfig(recipe="supervised", epochs=1, lr=1e-3, warmup_steps=0),
        classes=DIGIT_CLASSES,
        templates=DIGIT_TEMPLATES,
    )
    after = model.state_dict()
    text = [k for k in before if k.startswith("text.") or k == "_logit_scale"]
    image = [k for k in before if k.startswith("visual.") and "num_batches" not in k]
    assert text and all(torch.equal(before[k], after[k]) for k in text)
    assert all(not torch.equal(before[k], after[k]) for k in image)
    with pytest.raises(ContrastiveConfigError, match="class names"):
        train(
            create_model(seed=0),
            finetune_rows,
            tmp_path / "sup2",
            TrainConfig(recipe="supervised", epochs=1),
        )


def test_logit_scale_is_clamped_during_training(finetune_rows, tmp_path):
    model = create_model(seed=0)
    with torch.no_grad():
        model.logit_scale.fill_(6.0)
    train(model, finetune_rows, tmp_path / "clamp", TrainConfig(recipe="mmcl", epochs=1, lr=1e-3))
    assert float(model.logit_scale.detach()) <= LOGIT_SCALE_MAX + 1e-6


def test_inmodal_only_uses_augmented_copies(finetune_rows, tmp_path):
    res = train(
        create_model(seed=0),
        finetune_rows,
        tmp_path / "im",
        TrainConfig(recipe="inmodal", epochs=1, lr=1e-3),
    )
    row = res.history[0]
    assert row["loss"] == pytest.approx(row["inmodal"], rel=1e-6)
    assert TrainConfig(recipe="inmodal").loss_weights == (0.0, 1.0)
    assert TrainConfig(recipe="cleanclip").loss_weights == (1.0, 1.0)
    assert not TrainConfig(recipe="mmcl").augments


def test_bad_configs():
    with pytest.raises(ContrastiveConfigError, match="unknown recipe"):
        TrainConfig(recipe="magic")
    with pytest.raises(ContrastiveConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ContrastiveConfigError, match="unknown model"):
        create_model("resnet-9000")
