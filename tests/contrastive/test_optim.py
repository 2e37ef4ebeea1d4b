"""The reference's optimisation details: parameter groups, schedule, logit-scale clamp."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from geomm.contrastive import (
    LOGIT_SCALE_MAX,
    SmallCLIP,
    clamp_logit_scale,
    cosine_lr,
    make_optimizer,
    param_groups,
)


def _names(model, group):
    ids = {id(p) for p in group["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_no_decay_on_norms_biases_and_logit_scale():
    model = SmallCLIP()
    no_decay, decay = param_groups(model, 0.1)
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    nd, d = _names(model, no_decay), _names(model, decay)
    assert "_logit_scale" in nd
    assert "visual.features.1.weight" in nd and "visual.features.1.bias" in nd  # BatchNorm
    assert {"text.gru.bias_ih_l0", "text.gru.bias_hh_l0", "visual.proj.bias"} <= nd
    assert {"visual.features.0.weight", "text.gru.weight_ih_l0", "text.embed.weight"} <= d
    assert not nd & d and nd | d == {n for n, _ in model.named_parameters()}


def test_groups_find_other_norm_layers_and_respect_filters():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.gn = nn.GroupNorm(1, 3)
            self.ln_final = nn.LayerNorm(3)
            self.frozen = nn.Linear(3, 3)
            self.frozen.requires_grad_(False)

    m = Odd()
    nd, d = (_names(m, g) for g in param_groups(m, 0.2))
    assert nd == {"lin.bias", "gn.weight", "gn.bias", "ln_final.weight", "ln_final.bias"}
    assert d == {"lin.weight"}
    nd, d = (_names(m, g) for g in param_groups(m, 0.2, only=["lin.weight"]))
    assert nd == set() and d == {"lin.weight"}
    opt = make_optimizer(m, lr=1e-3, weight_decay=0.2)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.999)


def test_warmup_then_cosine_values():
    lr = dict(base_lr=1.0, warmup_steps=4, total_steps=14)
    assert [cosine_lr(s, **lr) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert cosine_lr(4, **lr) == pytest.approx(1.0)
    assert cosine_lr(9, **lr) == pytest.approx(0.5)  # halfway through the cosine
    assert cosine_lr(14, **lr) == pytest.approx(0.0)
    assert cosine_lr(6, **lr) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 10)))
    assert cosine_lr(0, base_lr=0.1, warmup_steps=0, total_steps=10) == pytest.approx(0.1)


def test_logit_scale_clamp():
    p = nn.Parameter(torch.tensor(7.0))
    clamp_logit_scale(p)
    assert float(p.detach()) == pytest.approx(LOGIT_SCALE_MAX)
    p.data.fill_(-2.0)
    clamp_logit_scale(p)
    assert float(p.detach()) == 0.0
    p.data.fill_(2.5)
    clamp_logit_scale(p)
    assert float(p.detach()) == 2.5
