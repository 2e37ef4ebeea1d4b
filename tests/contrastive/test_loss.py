"""The losses against hand computations on fixed tensors, gradients included."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from geomm.contrastive import (
    LOGIT_SCALE_MAX,
    ContrastiveConfigError,
    clip_loss,
    contrastive_loss,
    info_nce,
    inmodal_loss,
)

# Two pairs in 2-D, unit vectors chosen so every dot product is simple.
A = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
B = torch.tensor([[0.6, 0.8], [0.8, -0.6]])
A_AUG = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
B_AUG = torch.tensor([[0.6, 0.8], [-0.6, 0.8]])
SCALE = 2.0


def ce_row(logits: list[float], i: int) -> float:
    """-log softmax(logits)[i], by hand."""
    return -logits[i] + math.log(sum(math.exp(x) for x in logits))


def test_info_nce_by_hand():
    # s * A @ B^T = 2 * [[0.6, 0.8], [0.8, -0.6]]
    expected = (ce_row([1.2, 1.6], 0) + ce_row([1.6, -1.2], 1)) / 2
    assert float(info_nce(A, B, SCALE)) == pytest.approx(expected, rel=1e-6)


def test_clip_loss_is_the_symmetric_mean_by_hand():
    # image->text rows: [1.2, 1.6], [1.6, -1.2]; text->image rows: B @ A^T = same matrix^T
    i2t = (ce_row([1.2, 1.6], 0) + ce_row([1.6, -1.2], 1)) / 2
    t2i = (ce_row([1.2, 1.6], 0) + ce_row([1.6, -1.2], 1)) / 2  # (A B^T)^T = B A^T, here symmetric
    assert float(clip_loss(A, B, SCALE)) == pytest.approx((i2t + t2i) / 2, rel=1e-6)
    # a non-symmetric case: the two directions differ
    b2 = torch.tensor([[0.6, 0.8], [1.0, 0.0]])
    logits = [[1.2, 2.0], [1.6, 0.0]]  # s * A @ b2^T
    i2t = (ce_row(logits[0], 0) + ce_row(logits[1], 1)) / 2
    t2i = (ce_row([logits[0][0], logits[1][0]], 0) + ce_row([logits[0][1], logits[1][1]], 1)) / 2
    assert float(clip_loss(A, b2, SCALE)) == pytest.approx((i2t + t2i) / 2, rel=1e-6)


def test_inmodal_loss_by_hand():
    # s * A @ A_aug^T = 2 * [[0.8, 0.0], [0.6, 1.0]]
    img = (ce_row([1.6, 0.0], 0) + ce_row([1.2, 2.0], 1)) / 2
    # s * B @ B_aug^T = 2 * [[1.0, 0.28], [0.0, -0.96]]
    txt = (ce_row([2.0, 0.56], 0) + ce_row([0.0, -1.92], 1)) / 2
    assert float(inmodal_loss(A, A_AUG, B, B_AUG, SCALE)) == pytest.approx(
        (img + txt) / 2, rel=1e-6
    )


def test_cleanclip_total_weights_the_terms():
    cross = float(clip_loss(A, B, SCALE))
    inmodal = float(inmodal_loss(A, A_AUG, B, B_AUG, SCALE))
    terms = contrastive_loss(
        A, B, SCALE, a_aug=A_AUG, b_aug=B_AUG, clip_weight=0.5, inmodal_weight=2.0
    )
    assert float(terms.total) == pytest.approx(0.5 * cross + 2.0 * inmodal, rel=1e-6)
    only = contrastive_loss(A, B, SCALE, a_aug=A_AUG, b_aug=B_AUG, clip_weight=0.0)
    assert float(only.total) == pytest.approx(inmodal, rel=1e-6)
    plain = contrastive_loss(A, B, SCALE)
    assert plain.inmodal is None and float(plain.total) == pytest.approx(cross, rel=1e-6)


def test_gradients_match_a_naive_reference():
    torch.manual_seed(0)
    a = F.normalize(torch.randn(5, 4), dim=-1).requires_grad_()
    b = F.normalize(torch.randn(5, 4), dim=-1).requires_grad_()
    log_s = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    clip_loss(a, b, log_s.exp()).backward()
    got = (a.grad.clone(), b.grad.clone(), log_s.grad.clone())
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    s2 = log_s.detach().clone().requires_grad_()
    logits = s2.exp() * a2 @ b2.t()
    loss = 0.0
    for i in range(5):  # row by row, the definition
        loss = (
            loss
            - torch.log_softmax(logits[i], 0)[i] / 10
            - torch.log_softmax(logits[:, i], 0)[i] / 10
        )
    loss.backward()
    for g, r in zip(got, (a2.grad, b2.grad, s2.grad), strict=True):
        torch.testing.assert_close(g, r)


def test_matches_open_clip_cliploss():
    open_clip = pytest.importorskip("open_clip")
    torch.manual_seed(1)
    a = F.normalize(torch.randn(6, 8), dim=-1)
    b = F.normalize(torch.randn(6, 8), dim=-1)
    ref = open_clip.ClipLoss()(a, b, torch.tensor(14.3))
    torch.testing.assert_close(clip_loss(a, b, torch.tensor(14.3)), ref)


def test_bad_shapes_and_weights_are_clear_errors():
    with pytest.raises(ContrastiveConfigError, match="one shape"):
        clip_loss(A, torch.zeros(3, 2), 1.0)
    with pytest.raises(ContrastiveConfigError, match="both modalities"):
        contrastive_loss(A, B, 1.0, a_aug=A_AUG)
    with pytest.raises(ContrastiveConfigError, match="nothing to minimise"):
        contrastive_loss(A, B, 1.0, clip_weight=0.0)
    assert pytest.approx(math.log(100), abs=1e-4) == LOGIT_SCALE_MAX
