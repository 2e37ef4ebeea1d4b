"""The epoch loop of :func:`~geomm.contrastive.train`: batches, steps, a checkpoint per epoch.

It runs inside ``train``'s forked torch RNG: each epoch's batch order comes
from its own seeded generator, while the DataLoader and AutoAugment draw from
the global one, whose state every checkpoint saves. A resumed run therefore
takes exactly the steps an uninterrupted one would; changes here must keep
the order of those draws.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from geomm.contrastive._data import CaptionTable, ImageStore
from geomm.contrastive._encoders import ImageTextModel
from geomm.contrastive._errors import ContrastiveConfigError
from geomm.contrastive._loss import contrastive_loss
from geomm.contrastive._models import save_checkpoint
from geomm.contrastive._optim import clamp_logit_scale, cosine_lr

if TYPE_CHECKING:
    from geomm.contrastive._train import TrainConfig

__all__ = ["Loop", "Pairs", "Setup", "Start", "run_epochs"]


class Pairs(Dataset[dict[str, Any]]):
    """A table's pairs as tensors: image, tokens, and the in-modal recipes' augmented copies.

    The augmented caption tokens are fixed for the run (one EDA draw per
    caption, as the reference does); AutoAugment runs on every draw of an image.
    """

    def __init__(
        self,
        store: ImageStore,
        tokens: torch.Tensor,
        preprocess: Callable[[Any], torch.Tensor],
        *,
        aug_tokens: torch.Tensor | None,
        labels: list[int] | None,
    ):
        self.store = store
        self.tokens = tokens
        self.preprocess = preprocess
        self.aug_tokens = aug_tokens
        self.labels = labels
        self.autoaugment = None
        if aug_tokens is not None:
            from torchvision.transforms import AutoAugment, AutoAugmentPolicy

            self.autoaugment = AutoAugment(AutoAugmentPolicy.IMAGENET)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> dict[str, Any]:
        image = self.store[i]
        item: dict[str, Any] = {"image": self.preprocess(image), "tokens": self.tokens[i]}
        if self.autoaugment is not None and self.aug_tokens is not None:
            item["image_aug"] = self.preprocess(self.autoaugment(image))
            item["tokens_aug"] = self.aug_tokens[i]
        if self.labels is not None:
            item["label"] = self.labels[i]
        return item


@dataclass(frozen=True)
class Setup:
    """What a run trains, built once before its first step."""

    table: CaptionTable
    """The training pairs."""
    out: Path
    """The run folder."""
    checkpoint: Path
    """``out/checkpoint.pt``, written after every epoch."""
    device: torch.device
    """Where the model and batches live."""
    dataset: Pairs
    """Preprocessed pairs (and augmented copies) in row order."""
    total_steps: int
    """Optimizer steps of the whole run (the cosine schedule's length)."""
    optimizer: torch.optim.Optimizer
    """AdamW over the parameters the recipe trains."""


@dataclass(frozen=True)
class Start:
    """Where the epochs begin: a fresh run, or a checkpoint being resumed."""

    epoch: int = 0
    """Epochs already done."""
    step: int = 0
    """Optimizer steps already done."""
    history: tuple[dict[str, float], ...] = ()
    """Log rows of the epochs already done."""
    rng: torch.Tensor | None = None
    """The global torch RNG state to continue from; None: seed it afresh."""


@dataclass(frozen=True)
class Loop:
    """How the epochs run and report, fixed for one call of ``train``."""

    weights: tuple[float, float]
    """(clip_weight, inmodal_weight) of the loss."""
    text_targets: torch.Tensor | None
    """Supervised recipe: the frozen class vectors; None for contrastive recipes."""
    stop_after_epochs: int | None
    """Stop (resumably) after this many epochs in this call."""
    write_checkpoints: bool
    """Write ``checkpoint.pt`` after every epoch."""
    progress: Callable[[dict[str, float]], None] | None
    """Called with each epoch's log row."""


def run_epochs(
    model: ImageTextModel, setup: Setup, config: TrainConfig, *, start: Start, loop: Loop
) -> list[dict[str, float]]:
    """The epochs from ``start`` on, each checkpointed; the whole run's log rows."""
    autocast = torch.autocast(setup.device.type, dtype=torch.bfloat16, enabled=config.bf16)
    history = list(start.history)
    step = start.step
    epochs_done = 0
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
        if start.rng is not None:
            torch.set_rng_state(start.rng)
        else:
            torch.manual_seed(config.seed)
        for epoch in range(start.epoch, config.epochs):
            if loop.stop_after_epochs is not None and epochs_done >= loop.stop_after_epochs:
                break
            row = _epoch(model, setup, config, epoch=epoch, step=step, loop=loop, autocast=autocast)
            step = int(row["step"])
            history.append(row)
            epochs_done += 1
            if loop.write_checkpoints:
                _save_epoch(model, setup, config, epoch=epoch, step=step, history=history)
            if loop.progress is not None:
                loop.progress(row)
    return history


def _epoch(
    model: ImageTextModel,
    setup: Setup,
    config: TrainConfig,
    *,
    epoch: int,
    step: int,
    loop: Loop,
    autocast: torch.autocast,
) -> dict[str, float]:
    """One pass over the pairs in this epoch's seeded order; its log row."""
    te = time.perf_counter()
    n = len(setup.dataset)
    order = torch.randperm(
        n, generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    )
    loader = DataLoader(
        setup.dataset,
        batch_size=min(config.batch_size, n),
        sampler=order.tolist(),
        num_workers=config.num_workers,
        drop_last=n >= config.batch_size,
    )
    model.train()
    sums: dict[str, float] = {}
    lr = 0.0
    for batch in loader:
        lr = cosine_lr(
            step, base_lr=config.lr, warmup_steps=config.warmup_steps, total_steps=setup.total_steps
        )
        for group in setup.optimizer.param_groups:
            group["lr"] = lr
        with autocast:
            terms = _step_loss(
                model,
                batch,
                device=setup.device,
                weights=loop.weights,
                text_targets=loop.text_targets,
            )
        setup.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(terms["loss"])
        setup.optimizer.step()
        clamp_logit_scale(model.logit_scale)
        step += 1
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
    steps_here = max(1, len(loader))
    row = {k: v / steps_here for k, v in sums.items()}
    row.update(
        epoch=epoch + 1,
        step=step,
        lr=lr,
        logit_scale=float(model.logit_scale.detach().exp()),
        seconds=time.perf_counter() - te,
    )
    return row


def _save_epoch(
    model: ImageTextModel,
    setup: Setup,
    config: TrainConfig,
    *,
    epoch: int,
    step: int,
    history: list[dict[str, float]],
) -> None:
    """``checkpoint.pt`` after ``epoch``: weights, optimizer, RNG and log, all a resume needs."""
    save_checkpoint(
        setup.checkpoint,
        model,
        train={
            "config": config.resumable_fields(),
            "epoch": epoch + 1,
            "step": step,
            "optimizer": setup.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "history": history,
        },
        data={"csv": str(setup.table.csv_path), "rows": len(setup.dataset)},
    )


def _step_loss(
    model: ImageTextModel,
    batch: dict[str, Any],
    *,
    device: torch.device,
    weights: tuple[float, float],
    text_targets: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """The loss of one batch (``loss``, with detached terms to log), in the recipe's form."""
    clip_w, inmodal_w = weights
    images = batch["image"].to(device, non_blocking=True)
    scale = model.logit_scale.exp()
    if text_targets is not None:  # supervised: image tower vs fixed class vectors
        logits = scale.detach() * model.encode_image(images).float() @ text_targets.t()
        loss = F.cross_entropy(logits, batch["label"].to(device))
        return {"loss": loss, "ce": loss.detach()}
    tokens = batch["tokens"].to(device, non_blocking=True)
    if "image_aug" in batch:
        n = images.shape[0]
        img = model.encode_image(torch.cat([images, batch["image_aug"].to(device)])).float()
        txt = model.encode_text(torch.cat([tokens, batch["tokens_aug"].to(device)])).float()
        terms = contrastive_loss(
            img[:n],
            txt[:n],
            scale,
            a_aug=img[n:],
            b_aug=txt[n:],
            clip_weight=clip_w,
            inmodal_weight=inmodal_w,
        )
    else:
        img = model.encode_image(images).float()
        txt = model.encode_text(tokens).float()
        terms = contrastive_loss(img, txt, scale, clip_weight=clip_w)
    out = {"loss": terms.total, "crossmodal": terms.crossmodal.detach()}
    if terms.inmodal is not None:
        out["inmodal"] = terms.inmodal.detach()
    if not math.isfinite(float(terms.total.detach())):
        raise ContrastiveConfigError(
            "the loss became non-finite; lower the learning rate or turn off bf16"
        )
    return out
