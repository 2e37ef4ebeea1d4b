"""Dual encoders: the abstraction a radar/optical pair fits, and the small CLIP."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from geomm.contrastive import (
    ContrastiveConfigError,
    DualEncoder,
    HashTokenizer,
    SmallCLIP,
    SmallClipConfig,
    build_model,
    clamp_logit_scale,
    contrastive_loss,
    make_optimizer,
)


class RadarOptical(DualEncoder):
    """A CROMA-shaped pair: S1 (2 bands) and S2 (12 bands) pixel vectors."""

    modalities = ("sar", "optical")

    def __init__(self):
        super().__init__()
        self.sar = nn.Linear(2, 8)
        self.optical = nn.Sequential(nn.Linear(12, 8), nn.LayerNorm(8))
        self._scale = nn.Parameter(torch.tensor(2.0))

    @property
    def logit_scale(self) -> nn.Parameter:
        return self._scale

    def encode_a(self, batch):
        return nn.functional.normalize(self.sar(batch), dim=-1)

    def encode_b(self, batch):
        return nn.functional.normalize(self.optical(batch), dim=-1)


def test_a_radar_optical_pair_trains_with_the_same_loss_and_optimizer():
    torch.manual_seed(0)
    model = RadarOptical()
    s1, s2 = torch.randn(16, 2), torch.randn(16, 12)
    opt = make_optimizer(model, lr=0.05, weight_decay=0.1)
    no_decay = {id(p) for p in opt.param_groups[0]["params"]}
    assert id(model.logit_scale) in no_decay and id(model.optical[1].weight) in no_decay
    losses = []
    for _ in range(30):
        terms = contrastive_loss(model.encode_a(s1), model.encode_b(s2), model.logit_scale.exp())
        opt.zero_grad()
        terms.total.backward()
        opt.step()
        clamp_logit_scale(model.logit_scale)
        losses.append(float(terms.total.detach()))
    assert losses[-1] < losses[0] - 0.5


def test_small_clip_embeddings_and_padding():
    torch.manual_seed(0)
    model = SmallCLIP().eval()
    img = model.encode_image(torch.randn(3, 3, 32, 32))
    assert img.shape == (3, 64)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(3))
    tok = model.tokenize(["a handwritten seven", "a photo of the digit seven written by hand"])
    assert tok.shape == (2, 24) and int((tok[0] != 0).sum()) == 3
    # trailing padding never changes a caption's embedding
    short = model.encode_text(tok[:1, :5])
    torch.testing.assert_close(model.encode_text(tok[:1]), short)
    torch.testing.assert_close(model.encode_text(tok)[0], short[0])


def test_hash_tokenizer():
    t = HashTokenizer(buckets=50, context_length=4)
    ids = t(["Zero ONE, two!", "one two three four five"])
    assert ids[0, 1] == ids[1, 0] and ids[0, 3] == 0 and ids[1].ne(0).all()
    assert torch.equal(ids, t(["zero one two", "one two three four"]))
    assert ids.max() < 50 and ids[ids != 0].min() >= 1
    with pytest.raises(ContrastiveConfigError):
        HashTokenizer(buckets=1)


def test_spec_rebuilds_the_architecture():
    model = SmallCLIP(SmallClipConfig(embed_dim=32, widths=(8, 16), image_size=16))
    rebuilt = build_model(model.spec())
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    with pytest.raises(ContrastiveConfigError):
        SmallClipConfig(image_size=2, widths=(4, 4, 4))
