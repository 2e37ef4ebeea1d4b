"""The reference's optimisation details: AdamW groups, warmup + cosine, scale clamp.

CleanCLIP's ``main.py`` puts parameters whose names contain ``bn``, ``ln``,
``bias`` or ``logit_scale`` in a group without weight decay; here the same
rule is applied by what a parameter *is* (any normalisation layer's weights,
any bias, the logit scale), so it also holds for towers whose layer names
differ (open_clip's ``ln_1``, torchvision's ``bn1``, a GRU's ``bias_ih_l0``,
a ``GroupNorm``). The schedule is the reference's ``cosine_scheduler``:
linear warmup ``lr * (step + 1) / warmup``, then a half cosine to 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from geomm.contrastive._loss import LOGIT_SCALE_MAX

__all__ = [
    "clamp_logit_scale",
    "cosine_lr",
    "make_optimizer",
    "param_groups",
]

_NORMS = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)


def param_groups(
    model: nn.Module, weight_decay: float, *, only: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Two AdamW groups: ``[no decay (norms, biases, logit scale), decay (the rest)]``.

    Args:
        model: the model.
        weight_decay: decay of the second group.
        only: restrict to these parameter names (e.g. the image tower); None: all.
            Frozen parameters (``requires_grad=False``) are always left out.
    """
    wanted = set(only) if only is not None else None
    no_decay_ids: set[int] = set()
    for module in model.modules():
        if isinstance(module, _NORMS):
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    scale = getattr(model, "logit_scale", None)  # a DualEncoder names it whatever it likes
    if isinstance(scale, nn.Parameter):
        no_decay_ids.add(id(scale))
    no_decay: list[nn.Parameter] = []
    decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad or (wanted is not None and name not in wanted):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if id(p) in no_decay_ids or "bias" in leaf or "logit_scale" in leaf:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": no_decay, "weight_decay": 0.0},
        {"params": decay, "weight_decay": weight_decay},
    ]


def make_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    only: Iterable[str] | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (the reference's betas and eps by default)."""
    return torch.optim.AdamW(
        param_groups(model, weight_decay, only=only), lr=lr, betas=betas, eps=eps
    )


def cosine_lr(step: int, *, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Learning rate at ``step`` (0-based): linear warmup, then cosine decay to 0."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    n = step - warmup_steps
    d = max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * n / d)) * base_lr


@torch.no_grad()
def clamp_logit_scale(scale: nn.Parameter, *, max_value: float = LOGIT_SCALE_MAX) -> None:
    """Clamp the log logit scale to ``[0, ln 100]`` in place, after each step."""
    scale.clamp_(0.0, max_value)
