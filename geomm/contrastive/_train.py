"""Recipes: CLIP pretraining and the CleanCLIP finetuning family, resumable.

Recipes (the reference's flags in brackets):

- ``clip``: symmetric CLIP loss on the pairs as given (pretraining).
- ``mmcl``: the same loss on clean pairs (finetuning, multimodal only).
- ``cleanclip``: CLIP loss + in-modal loss, weights 1 and 1 [``--inmodal``].
- ``inmodal``: in-modal loss only [``--inmodal --clip_weight 0``].
- ``supervised``: cross-entropy of the image tower against the zero-shot
  class vectors (frozen text tower) on labelled clean data; the paper's
  supervised finetuning, with the head initialised from the text tower so
  the model stays a zero-shot classifier.

In-modal recipes see each batch twice: the original pairs and one augmented
copy (torchvision AutoAugment, ImageNet policy, on each image every time it
is drawn; one EDA augmentation per caption, drawn once per run as the
reference does). Optimisation follows the reference: AdamW with no decay on
norms, biases and the logit scale, linear warmup then cosine, the log logit
scale clamped to [0, ln 100] after each step.

Each epoch ends with ``checkpoint.pt`` in the run folder (weights, optimizer,
step, RNG state): ``resume=True`` continues exactly where it stopped, so an
interrupted run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from geomm.contrastive._data import CaptionTable, ImageStore, read_caption_csv, resolve_labels
from geomm.contrastive._eda import eda_many
from geomm.contrastive._encoders import ImageTextModel
from geomm.contrastive._epochs import Loop, Pairs, Setup, Start, run_epochs
from geomm.contrastive._errors import CheckpointError, ContrastiveConfigError, check_seed
from geomm.contrastive._models import load_checkpoint
from geomm.contrastive._optim import make_optimizer
from geomm.contrastive._synonyms import SynonymSource
from geomm.contrastive._templates import check_templates
from geomm.errors import ForeignFileError

__all__ = ["RECIPES", "TrainConfig", "TrainResult", "class_vectors", "train"]

log = logging.getLogger(__name__)

RECIPES = ("clip", "mmcl", "cleanclip", "inmodal", "supervised")
"""Recipe names :class:`TrainConfig` accepts."""

_WEIGHTS = {
    "clip": (1.0, 0.0),
    "mmcl": (1.0, 0.0),
    "cleanclip": (1.0, 1.0),
    "inmodal": (0.0, 1.0),
    "supervised": (0.0, 0.0),
}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: recipe, optimisation and seed."""

    recipe: str = "clip"
    """One of :data:`RECIPES`."""
    epochs: int = 10
    """Passes over the data."""
    batch_size: int = 64
    """Pairs per step (in-modal recipes encode twice as many inputs)."""
    lr: float = 5e-4
    """Peak learning rate (reached after the warmup)."""
    weight_decay: float = 0.1
    """AdamW decay of the decayed group (reference default)."""
    warmup_steps: int = 10
    """Linear warmup steps (the reference uses 10000 at CC3M scale)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    clip_weight: float | None = None
    """Weight of the cross-modal term; None: the recipe's."""
    inmodal_weight: float | None = None
    """Weight of the in-modal term; None: the recipe's."""
    seed: int = 0
    """Seeds batch order, augmentations and EDA."""
    bf16: bool = False
    """Run forward passes under CPU/GPU bf16 autocast."""
    num_workers: int = 0
    """DataLoader worker processes (0: load in the training process)."""
    device: str = "cpu"
    """Torch device of the run."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(self.betas))
        if self.recipe not in RECIPES:
            raise ContrastiveConfigError(
                f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ContrastiveConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not math.isfinite(self.lr) or not self.lr > 0:
            raise ContrastiveConfigError(f"lr must be a finite number > 0, got {self.lr}")
        if not math.isfinite(self.weight_decay) or not self.weight_decay >= 0:
            raise ContrastiveConfigError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay}"
            )
        if self.warmup_steps < 0:
            raise ContrastiveConfigError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        check_seed("seed", self.seed)

    @property
    def loss_weights(self) -> tuple[float, float]:
        """(clip_weight, inmodal_weight) in force."""
        cw, iw = _WEIGHTS[self.recipe]
        return (
            cw if self.clip_weight is None else self.clip_weight,
            iw if self.inmodal_weight is None else self.inmodal_weight,
        )

    @property
    def augments(self) -> bool:
        """Whether batches carry augmented copies (the in-modal term is on)."""
        return self.recipe != "supervised" and self.loss_weights[1] > 0

    def resumable_fields(self) -> dict[str, Any]:
        """Fields that must match for a checkpoint to be resumed."""
        d = asdict(self)
        d.pop("num_workers")
        d.pop("device")
        d["betas"] = list(d["betas"])
        return d


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    out_dir: Path
    """The run folder."""
    checkpoint: Path | None
    """``checkpoint.pt`` (load with :func:`~geomm.contrastive.load_model`); None if not written."""
    history: tuple[dict[str, float], ...]
    """Per-epoch means of the loss terms, the last lr and the logit scale."""
    finished: bool
    """False when ``stop_after_epochs`` stopped it early (resume later)."""
    seconds: float = 0.0
    """Wall time of this call."""
    config: TrainConfig = field(default_factory=TrainConfig)
    """The configuration."""


@torch.no_grad()
def class_vectors(
    model: ImageTextModel, classes: Sequence[str], templates: Sequence[str], *, batch: int = 256
) -> torch.Tensor:
    """Zero-shot class vectors: each class's caption embeddings averaged over templates.

    Returns:
        (K, D) unit vectors, one per class, in ``classes`` order.
    """
    templates = check_templates(templates)
    was_training = model.training
    model.eval()
    device = model.logit_scale.device
    texts = [t.format(c) for c in classes for t in templates]
    embs = []
    for i in range(0, len(texts), batch):
        embs.append(model.encode_text(model.tokenize(texts[i : i + batch]).to(device)).float())
    emb = torch.cat(embs).view(len(classes), len(templates), -1).mean(dim=1)
    model.train(was_training)
    return F.normalize(emb, dim=-1)


def _as_table(data: CaptionTable | str | os.PathLike[str]) -> CaptionTable:
    return data if isinstance(data, CaptionTable) else read_caption_csv(data)


@dataclass(frozen=True)
class _Supervision:
    """What the supervised recipe trains against (the other recipes ignore it)."""

    classes: Sequence[str] | None
    """Class names, in label-index order."""
    templates: Sequence[str] | None
    """Caption templates the class vectors average over."""
    label_key: str
    """The CSV's label column."""


def train(
    model: ImageTextModel,
    data: CaptionTable | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    classes: Sequence[str] | None = None,
    templates: Sequence[str] | None = None,
    label_key: str = "label",
    synonyms: SynonymSource | None = None,
    stop_after_epochs: int | None = None,
    write_checkpoints: bool = True,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place with a recipe; write ``checkpoint.pt`` and ``train.json``.

    Args:
        model: the dual encoder (its current weights are the starting point).
        data: an image-caption CSV or a table read with :func:`read_caption_csv`.
        out_dir: run folder (created).
        config: recipe and optimisation.
        resume: continue from ``out_dir/checkpoint.pt`` (same config required).
        overwrite: start afresh even if ``out_dir`` holds a checkpoint.
        classes: supervised recipe: class names; labels come from ``label_key``.
        templates: supervised recipe: caption templates of the class vectors.
        label_key: supervised recipe: the CSV's label column.
        synonyms: EDA's synonym source (default: the bundled WordNet table).
        stop_after_epochs: stop (resumably) after this many epochs in this call.
        write_checkpoints: False writes no ``checkpoint.pt`` (a smoke test of a large
            model, where weights plus optimizer state are gigabytes); the run then
            cannot resume and :attr:`TrainResult.checkpoint` is None.
        progress: called with each epoch's log row.

    Raises:
        CheckpointError: a checkpoint exists and neither resume nor overwrite
            was asked, or resume was asked with a different config.
        ContrastiveConfigError: the supervised recipe without classes/templates/labels.
    """
    t0 = time.perf_counter()
    sup = _Supervision(classes, templates, label_key)
    setup = _setup(model, _as_table(data), Path(out_dir), config, sup=sup, synonyms=synonyms)
    start = _restore(model, setup, config, resume=resume, overwrite=overwrite)
    text_targets = None  # after the restore: a resumed run's vectors come from its weights
    if config.recipe == "supervised" and sup.classes and sup.templates:
        text_targets = class_vectors(model, sup.classes, sup.templates).to(setup.device)
    loop = Loop(config.loss_weights, text_targets, stop_after_epochs, write_checkpoints, progress)
    history = run_epochs(model, setup, config, start=start, loop=loop)
    finished = bool(history) and int(history[-1]["epoch"]) >= config.epochs
    if not history:
        raise ContrastiveConfigError(f"nothing was trained in {setup.out} (stop_after_epochs=0?)")
    seconds = time.perf_counter() - t0
    _write_log(setup, config, history=history, finished=finished)
    model.eval()
    checkpoint = setup.checkpoint if write_checkpoints else None
    return TrainResult(setup.out, checkpoint, tuple(history), finished, seconds, config)


def _setup(
    model: ImageTextModel,
    table: CaptionTable,
    out: Path,
    config: TrainConfig,
    *,
    sup: _Supervision,
    synonyms: SynonymSource | None,
) -> Setup:
    """The run folder, the model on its device, the dataset and the optimizer."""
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model.to(device)
    labels = None
    if config.recipe == "supervised":
        if not sup.classes or not sup.templates:
            raise ContrastiveConfigError(
                "the supervised recipe needs class names and caption templates "
                "(classes=..., templates=...) and a label column in the CSV"
            )
        labels = resolve_labels(table.column(sup.label_key), sup.classes, what="training label(s)")
    tokens = model.tokenize(table.captions)
    aug_tokens = None
    if config.augments:
        aug_tokens = model.tokenize(eda_many(table.captions, seed=config.seed, synonyms=synonyms))
    dataset = Pairs(
        ImageStore(table.image_paths),
        tokens,
        model.preprocess,
        aug_tokens=aug_tokens,
        labels=labels,
    )
    n = len(dataset)
    per_epoch = n // config.batch_size if n >= config.batch_size else 1
    only = None
    if config.recipe == "supervised":
        only = [name for name, _ in model.image_tower_parameters()]
    optimizer = make_optimizer(
        model,
        lr=config.lr,
        weight_decay=config.weight_decay,
        betas=config.betas,
        eps=config.eps,
        only=only,
    )
    return Setup(
        table=table,
        out=out,
        checkpoint=out / "checkpoint.pt",
        device=device,
        dataset=dataset,
        total_steps=per_epoch * config.epochs,
        optimizer=optimizer,
    )


def _check_ours(ckpt_path: Path) -> None:
    """Refuse to replace a ``checkpoint.pt`` that is not a geomm contrastive checkpoint."""
    try:
        load_checkpoint(ckpt_path)
    except CheckpointError as e:
        raise ForeignFileError(
            f"{ckpt_path} is not a checkpoint geomm wrote, so overwrite=True does not replace "
            "it: choose a new output folder, or move the file away yourself"
        ) from e


def _restore(
    model: ImageTextModel, setup: Setup, config: TrainConfig, *, resume: bool, overwrite: bool
) -> Start:
    """A fresh start, or the state of the checkpoint in the run folder (``resume=True``).

    Raises:
        CheckpointError: a checkpoint there and neither ``resume`` nor ``overwrite``;
            or one of another configuration or architecture.
    """
    out, ckpt_path = setup.out, setup.checkpoint
    if ckpt_path.exists() and overwrite:
        _check_ours(ckpt_path)
        ckpt_path.unlink()  # a fresh run never leaves a stale checkpoint behind
    if not ckpt_path.exists():
        return Start()
    if not resume:
        raise CheckpointError(
            f"{out} already holds a run (checkpoint.pt); pass resume=True to "
            "continue it, or overwrite=True / a new output folder to start afresh"
        )
    ckpt = load_checkpoint(ckpt_path)
    state = ckpt.get("train")
    if state is None or state["config"] != config.resumable_fields():
        raise CheckpointError(
            f"the run in {out} was made with a different configuration "
            f"({None if state is None else state['config']}); resume it with the same "
            "options or use a new output folder"
        )
    if ckpt["spec"] != model.spec():
        raise CheckpointError(f"the run in {out} trained another architecture")
    model.load_state_dict(ckpt["state_dict"])
    setup.optimizer.load_state_dict(state["optimizer"])
    start = Start(int(state["epoch"]), int(state["step"]), tuple(state["history"]), state["rng"])
    log.info("resuming %s at epoch %d (step %d)", out, start.epoch, start.step)
    return start


def _write_log(
    setup: Setup, config: TrainConfig, *, history: list[dict[str, float]], finished: bool
) -> None:
    """``train.json``: the configuration, the data and every epoch's log row."""
    doc = {
        "config": asdict(config),
        "data": str(setup.table.csv_path),
        "finished": finished,
        "history": history,
    }
    (setup.out / "train.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
