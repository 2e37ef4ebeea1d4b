"""The CleanCLIP recipe on a real open_clip architecture (random weights, offline)."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from geomm.contrastive import (
    CheckpointError,
    ContrastiveConfigError,
    TrainConfig,
    create_model,
    load_checkpoint,
    load_model,
    save_checkpoint,
    train,
)

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


_TINY_VIT = {  # an open_clip ViT small enough to checkpoint in a test (3.6 M parameters)
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory) -> str:
    """Register :data:`_TINY_VIT` with open_clip, as a user's own config would be."""
    import open_clip

    path = tmp_path_factory.mktemp("open_clip_configs") / "geomm-tiny-vit.json"
    path.write_text(json.dumps(_TINY_VIT))
    open_clip.add_model_config(path)
    return "geomm-tiny-vit"


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_an_open_clip_checkpoint_saves_and_reloads_to_the_same_model(tmp_path, tiny_vit):
    """A geomm checkpoint of an open_clip model rebuilds it, input size included.

    At 64 px the ViT's positional embedding has 5 rows instead of 50, so a
    checkpoint that forgot the size override would not load.
    """
    model = create_model(f"open_clip:{tiny_vit}", image_size=64, seed=0).eval()
    path = save_checkpoint(tmp_path / "ck.pt", model, step=3)
    assert not (tmp_path / "ck.pt.tmp").exists()  # written atomically
    assert load_checkpoint(path)["step"] == 3
    loaded = load_model(path)
    assert loaded.spec() == {"kind": "open_clip", "name": tiny_vit, "image_size": 64}
    assert loaded.image_size == 64 and not loaded.training
    assert _same_weights(model, loaded)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    tokens = model.tokenize(["a square painted red", "a blue circle"])
    with torch.no_grad():
        assert torch.equal(loaded.encode_image(images), model.encode_image(images))
        assert torch.equal(loaded.encode_text(tokens), model.encode_text(tokens))
    other = create_model(f"open_clip:{tiny_vit}", image_size=64, seed=1)
    assert not _same_weights(other, loaded)  # the comparison can fail


def test_a_checkpoint_at_another_input_size_is_refused_clearly(tmp_path, tiny_vit):
    model = create_model(f"open_clip:{tiny_vit}", image_size=64, seed=0)
    ckpt = {**torch.load(save_checkpoint(tmp_path / "a.pt", model), weights_only=True)}
    ckpt["spec"] = {**ckpt["spec"], "image_size": None}  # as if saved without the override
    torch.save(ckpt, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="do not fit their architecture"):
        load_model(tmp_path / "b.pt")


def test_a_local_open_clip_checkpoint_file_is_accepted_as_pretrained(tmp_path, tiny_vit):
    """open_clip's own format (a bare state dict), the offline stand-in for a pretrained tag."""
    source = create_model(f"open_clip:{tiny_vit}", image_size=64, seed=2)
    weights = tmp_path / "open_clip_tiny.pt"
    torch.save(source.model.state_dict(), weights)
    model = create_model(f"open_clip:{tiny_vit}", pretrained=weights, image_size=64, seed=3)
    assert _same_weights(model, source)  # seed 3 alone would give other weights


def test_offline_refusals():
    with pytest.raises(ContrastiveConfigError, match="not a local file"):
        create_model("open_clip:RN50", pretrained="openai")
    with pytest.raises(ContrastiveConfigError, match="no architecture"):
        create_model("open_clip:NotAModel-1")
