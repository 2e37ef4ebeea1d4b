"""The CleanCLIP recipe on a real open_clip architecture (random weights, offline)."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from geomm.contrastive import ContrastiveConfigError, TrainConfig, create_model, train

from .conftest import write_shapes_set

pytest.importorskip("open_clip")


def test_importing_geomm_contrastive_does_not_import_open_clip():
    import subprocess

    code = "import sys, geomm.contrastive; sys.exit('open_clip' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cleanclip_step_on_open_clip_rn50(tmp_path):
    csv = write_shapes_set(tmp_path / "set", n=2)
    model = create_model("open_clip:RN50", seed=0)  # pretrained=None: random weights
    tokens = model.tokenize(["a square painted red"])
    assert tokens.shape == (1, 77) and int(tokens[0, 0]) == 49406  # open_clip's BPE, SOT
    assert model.preprocess(__import__("PIL.Image").Image.new("RGB", (20, 20))).shape == (
        3,
        224,
        224,
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = train(
        model,
        csv,
        tmp_path / "run",
        TrainConfig(recipe="cleanclip", epochs=1, batch_size=2, lr=1e-4, warmup_steps=1),
        write_checkpoints=False,  # weights + AdamW state of RN50 are ~1.2 GB
    )
    row = res.history[0]
    assert row["step"] == 1
    assert all(math.isfinite(row[k]) for k in ("loss", "crossmodal", "inmodal"))
    assert row["loss"] == pytest.approx(row["crossmodal"] + row["inmodal"], rel=1e-5)
    after = dict(model.named_parameters())
    changed = [n for n, p in before.items() if not torch.equal(p, after[n].detach())]
    assert "model.logit_scale" in changed
    assert any(n.startswith("model.visual.") for n in changed)
    assert any(n.startswith("model.transformer.") for n in changed)
    # RN50 zero-initialises each bottleneck's last BatchNorm, so on the first step the
    # layers inside the residual branches get no gradient; everything else moves.
    unchanged = sorted(set(before) - set(changed))
    assert all(".layer" in n and ".bn" in n for n in unchanged), unchanged


def test_offline_refusals():
    with pytest.raises(ContrastiveConfigError, match="not a local file"):
        create_model("open_clip:RN50", pretrained="openai")
    with pytest.raises(ContrastiveConfigError, match="no architecture"):
        create_model("open_clip:NotAModel-1")
