"""Contrastive losses on embeddings: CLIP/InfoNCE and CleanCLIP's in-modal term.

The losses take L2-normalised embeddings and the *multiplicative* logit scale
``exp(s)`` (as open_clip's ``ClipLoss`` does), never a model, so any pair of
towers (image/text, radar/optical) reuses them. Row ``i`` of ``a`` and row
``i`` of ``b`` are the positive pair; every other row of the batch is a
negative.

The CleanCLIP total follows the reference implementation
(nishadsinghi/CleanCLIP ``train.py``)::

    cross   = (CE(s A B^T) + CE(s B A^T)) / 2            original pairs only
    inmodal = (CE(s A A~^T) + CE(s B B~^T)) / 2          each against its augmentation
    total   = clip_weight * cross + inmodal_weight * inmodal
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from geomm.contrastive._errors import ContrastiveConfigError

__all__ = [
    "LOGIT_SCALE_MAX",
    "LossTerms",
    "clip_loss",
    "contrastive_loss",
    "info_nce",
    "inmodal_loss",
]

LOGIT_SCALE_MAX = 4.6052
"""Upper clamp of the log logit scale, ln(100), as in CLIP and the reference."""


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ContrastiveConfigError(
            f"contrastive losses need two (batch, dim) embeddings of one shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )


def info_nce(queries: Tensor, keys: Tensor, logit_scale: Tensor | float) -> Tensor:
    """One-directional InfoNCE: cross-entropy of ``scale * queries @ keys^T`` against the diagonal.

    Args:
        queries: (N, D) L2-normalised embeddings; row ``i`` is the anchor.
        keys: (N, D) L2-normalised embeddings; row ``i`` is the positive of anchor ``i``.
        logit_scale: the multiplicative scale ``exp(s)`` (a scalar tensor or float).

    Returns:
        The mean cross-entropy over the N anchors (a scalar tensor).
    """
    _check_pair(queries, keys)
    logits = logit_scale * queries @ keys.t()
    target = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(logits.float(), target)


def clip_loss(a: Tensor, b: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Symmetric CLIP loss ``(CE(s A B^T) + CE(s B A^T)) / 2``.

    Args:
        a: (N, D) L2-normalised embeddings of the first modality (e.g. images).
        b: (N, D) L2-normalised embeddings of the second modality (e.g. captions).
        logit_scale: the multiplicative scale ``exp(s)``.
    """
    return (info_nce(a, b, logit_scale) + info_nce(b, a, logit_scale)) / 2


def inmodal_loss(
    a: Tensor, a_aug: Tensor, b: Tensor, b_aug: Tensor, logit_scale: Tensor | float
) -> Tensor:
    """CleanCLIP's in-modal loss ``(CE(s A A~^T) + CE(s B B~^T)) / 2``.

    Each embedding is contrasted with the augmented copies of its own
    modality (one direction, as the reference computes it); this is what
    pulls a triggered image towards its own augmentations rather than towards
    the target caption.
    """
    return (info_nce(a, a_aug, logit_scale) + info_nce(b, b_aug, logit_scale)) / 2


@dataclass(frozen=True)
class LossTerms:
    """The weighted total and its parts, for logging."""

    total: Tensor
    """What the optimizer minimises."""
    crossmodal: Tensor
    """The symmetric CLIP term on the original pairs (detached when its weight is 0)."""
    inmodal: Tensor | None
    """The in-modal term, or None when no augmented copies were given."""


def contrastive_loss(
    a: Tensor,
    b: Tensor,
    logit_scale: Tensor | float,
    *,
    a_aug: Tensor | None = None,
    b_aug: Tensor | None = None,
    clip_weight: float = 1.0,
    inmodal_weight: float = 1.0,
) -> LossTerms:
    """The CleanCLIP objective (or plain CLIP when no augmented copies are given).

    Args:
        a: (N, D) normalised embeddings of the original first-modality inputs.
        b: (N, D) normalised embeddings of the original second-modality inputs.
        logit_scale: the multiplicative scale ``exp(s)`` shared by all terms.
        a_aug: (N, D) embeddings of an augmented copy of each ``a`` input.
        b_aug: (N, D) embeddings of an augmented copy of each ``b`` input.
        clip_weight: weight of the cross-modal term (0 gives in-modal only).
        inmodal_weight: weight of the in-modal term.

    Returns:
        The total and its terms.
    """
    if (a_aug is None) != (b_aug is None):
        raise ContrastiveConfigError("give augmented copies of both modalities, or of neither")
    if clip_weight < 0 or inmodal_weight < 0:
        raise ContrastiveConfigError(
            f"loss weights must be >= 0, got clip {clip_weight}, in-modal {inmodal_weight}"
        )
    cross = clip_loss(a, b, logit_scale)
    if a_aug is None or b_aug is None:
        if clip_weight == 0:
            raise ContrastiveConfigError(
                "clip_weight 0 without augmented copies leaves nothing to minimise"
            )
        return LossTerms(total=clip_weight * cross, crossmodal=cross, inmodal=None)
    inmodal = inmodal_loss(a, a_aug, b, b_aug, logit_scale)
    if clip_weight == 0:  # in-modal only: the cross term is logged, not trained
        return LossTerms(total=inmodal_weight * inmodal, crossmodal=cross.detach(), inmodal=inmodal)
    total = clip_weight * cross + inmodal_weight * inmodal
    return LossTerms(total=total, crossmodal=cross, inmodal=inmodal)
