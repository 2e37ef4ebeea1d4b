"""Zero-shot evaluation: clean accuracy (CA) and attack success rate (ASR).

CA is zero-shot top-1 accuracy with class vectors averaged over caption
templates. ASR is measured on test images whose true class is NOT the
target: the trigger is applied and the fraction classified as the target is
reported. (The reference code compares against the true labels instead, a
known bug; target-class images are excluded here, since classifying a
triggered "zero" as "zero" is no attack.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from geomm._outputs import SIGNATURE, check_replaceable
from geomm.contrastive._data import CaptionTable, ImageStore, read_caption_csv, resolve_labels
from geomm.contrastive._encoders import ImageTextModel
from geomm.contrastive._errors import ContrastiveConfigError, UnknownLabelError, check_seed
from geomm.contrastive._train import class_vectors
from geomm.contrastive.backdoor import Trigger, apply_trigger

__all__ = [
    "EvalResult",
    "attack_success_rate",
    "clean_accuracy",
    "evaluate",
    "predict",
]


def clean_accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """Top-1 accuracy: the fraction of predictions equal to their label."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape or p.size == 0:
        raise ContrastiveConfigError("need as many predictions as labels, and at least one")
    return float((p == y).mean())


def attack_success_rate(
    predictions: Sequence[int], labels: Sequence[int], target: int
) -> tuple[float, int]:
    """ASR over the images whose true label is not ``target``.

    Args:
        predictions: predicted class of each *triggered* image.
        labels: true class of each image.
        target: the attack's target class.

    Returns:
        (fraction of non-target images predicted as ``target``, how many there were).
    """
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape:
        raise ContrastiveConfigError("need as many predictions as labels")
    keep = y != target
    if not keep.any():
        raise ContrastiveConfigError("ASR needs test images outside the target class")
    return float((p[keep] == target).mean()), int(keep.sum())


@torch.no_grad()
def predict(
    model: ImageTextModel,
    images: ImageStore,
    vectors: torch.Tensor,
    *,
    indices: Sequence[int] | None = None,
    trigger: Trigger | None = None,
    seed: int = 0,
    batch: int = 256,
) -> list[int]:
    """Zero-shot class of each image (optionally after a trigger).

    Args:
        model: the dual encoder.
        images: the test images.
        vectors: (K, D) class vectors from :func:`class_vectors`.
        indices: which images (default all), in this order.
        trigger: applied to each image first; its randomness comes from ``seed``.
        seed: seeds the trigger's generator.
        batch: images per forward pass.
    """
    check_seed("seed", seed)
    model.eval()
    device = vectors.device
    idx = list(range(len(images))) if indices is None else list(indices)
    generator = torch.Generator().manual_seed(seed)
    preds: list[int] = []
    for start in range(0, len(idx), batch):
        tensors = []
        for i in idx[start : start + batch]:
            image = images[i]
            if trigger is not None:
                image = apply_trigger(trigger, image, generator)
            tensors.append(model.preprocess(image))
        emb = model.encode_image(torch.stack(tensors).to(device)).float()
        preds.extend((emb @ vectors.t()).argmax(dim=1).tolist())
    return preds


@dataclass(frozen=True)
class EvalResult:
    """Zero-shot CA and, with a trigger, ASR of one model on one test set."""

    ca: float
    """Clean top-1 accuracy (fraction)."""
    asr: float | None
    """Attack success rate on non-target images (fraction), None without a trigger."""
    n_test: int
    """Test images."""
    n_asr: int
    """Non-target test images the ASR counts."""
    target: str | None
    """Target class of the ASR."""
    trigger: dict[str, Any] | None
    """The trigger's record."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def evaluate(
    model: ImageTextModel,
    test: CaptionTable | str | os.PathLike[str],
    *,
    classes: Sequence[str],
    templates: Sequence[str],
    target: str | None = None,
    trigger: Trigger | None = None,
    label_key: str = "label",
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    images: ImageStore | None = None,
) -> EvalResult:
    """Zero-shot CA (and ASR when a target and trigger are given) on a labelled test CSV.

    Args:
        model: the dual encoder.
        test: test CSV (reference format plus a label column) or a read table.
        classes: class names, in label-index order.
        templates: caption templates with one ``{}``; class vectors average over them.
        target: the attack's target class (a name in ``classes``).
        trigger: the attack's trigger.
        label_key: column of true labels (class names or indices).
        seed: seeds the trigger's randomness.
        out: write the result as JSON here.
        images: a cache of the test images to reuse across calls.

    Raises:
        UnknownLabelError: a test label or the target is not among the classes.
    """
    check_seed("seed", seed)
    table = test if isinstance(test, CaptionTable) else read_caption_csv(test)
    labels = resolve_labels(table.column(label_key), classes, what="test label(s)")
    if (target is None) != (trigger is None):
        raise ContrastiveConfigError("ASR needs both a target label and a trigger")
    if target is not None and target not in classes:
        raise UnknownLabelError("target label", [target], classes)
    store = images if images is not None else ImageStore(table.image_paths)
    vectors = class_vectors(model, classes, templates).to(model.logit_scale.device)
    ca = clean_accuracy(predict(model, store, vectors), labels)
    asr, n_asr = None, 0
    if target is not None and trigger is not None:
        t = list(classes).index(target)
        keep = [i for i, y in enumerate(labels) if y != t]
        preds = predict(model, store, vectors, indices=keep, trigger=trigger, seed=seed)
        asr, n_asr = attack_success_rate(preds, [labels[i] for i in keep], t)
    result = EvalResult(
        ca=ca,
        asr=asr,
        n_test=len(labels),
        n_asr=n_asr,
        target=target,
        trigger=None if trigger is None else trigger.describe(),
    )
    if out is not None:
        path = check_replaceable(os.fspath(out), what="evaluation result")
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"generator": SIGNATURE, **result.to_json()}
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return result
