"""The bundled offline image-caption set: scikit-learn's digits as 32 px captioned images.

scikit-learn ships 1797 handwritten digits (8x8, 17 grey levels) inside its
wheel, so this set needs no download. Each digit is upsampled bicubically to
32 px and written as an RGB PNG; its caption is a word-only template filled
with the class name ("a handwritten seven"): numerals would vanish under
EDA, which keeps letters only. The split into train / finetune / test is
stratified by class and seeded; each split is a CSV in the reference format
(``image``, ``caption``) plus a ``label`` column with the class name.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from geomm.contrastive._captionset import (
    CaptionSet,
    claim,
    finish,
    split,
    write_images,
    write_tables,
)
from geomm.contrastive._errors import ContrastiveConfigError, check_seed
from geomm.contrastive._templates import IMAGENET_TEMPLATES

__all__ = [
    "DIGIT_CLASSES",
    "DIGIT_TEMPLATES",
    "DigitsSet",
    "caption_vocabulary",
    "make_digits",
]

DIGIT_CLASSES: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
"""Class names, in label order."""

DIGIT_TEMPLATES: tuple[str, ...] = (
    "a photo of the digit {}",
    "a handwritten {}",
    "the number {} written by hand",
    "a picture of a {}",
    "a scanned digit showing {}",
    "a blurry image of the number {}",
    "a small white {} on a black background",
    "a low resolution photo of a {}",
    "a drawing of the digit {}",
    "someone wrote the number {}",
)
"""Word-only caption templates: captions, poisoned captions and zero-shot prompts."""


def caption_vocabulary() -> list[str]:
    """Every word of the digit classes, digit templates and ImageNet templates."""
    text = " ".join([*DIGIT_CLASSES, *DIGIT_TEMPLATES, *IMAGENET_TEMPLATES]).lower()
    return sorted(set(re.findall(r"[a-z]+", text)))


_MARKER = "digits.json"


DigitsSet = CaptionSet
"""Where :func:`make_digits` wrote the set (the record every bundled set returns)."""


def make_digits(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    size: int = 32,
    fractions: tuple[float, float, float] = (0.5, 0.25, 0.25),
) -> DigitsSet:
    """Render scikit-learn's digits as a captioned image set in the reference CSV format.

    Args:
        out: output folder (created); it may be new, empty, or a digits set made
            here before (its ``digits.json`` says so), whose files are replaced.
        seed: seeds the split and the caption templates.
        size: image edge in pixels.
        fractions: train / finetune / test shares (stratified by class).

    Returns:
        Paths of the three CSVs, ``classes.txt`` and ``templates.txt``.
    """
    _check_options(seed=seed, size=size, fractions=fractions)
    images, labels = _load_digits()
    parts = split(
        labels.tolist(), lambda _, n: (round(fractions[0] * n), round(fractions[1] * n)), seed
    )
    root = Path(out).expanduser().resolve()
    claim(root, _MARKER, "digits set")
    rows = write_images(root, parts, _render(images, labels, size=size, seed=seed))
    paths = write_tables(root, rows, DIGIT_CLASSES, DIGIT_TEMPLATES)
    finish(
        root,
        _MARKER,
        {
            "source": "sklearn.datasets.load_digits (UCI optical digits, 8x8)",
            "size": size,
            "seed": seed,
            "fractions": list(fractions),
            "counts": {k: len(v) for k, v in rows.items()},
        },
    )
    return paths


def _check_options(*, seed: int, size: int, fractions: tuple[float, float, float]) -> None:
    """Refuse bad options before the folder is claimed or anything is written."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ContrastiveConfigError(
            f"fractions must be three positive shares summing to 1, got {fractions}"
        )
    if not 8 <= size <= 512:
        raise ContrastiveConfigError(
            f"size must be from 8 to 512 px (8 px digits, upsampled), got {size}"
        )
    check_seed("seed", seed)


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as 8-bit grey images, and their classes."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ContrastiveConfigError(
            "scikit-learn is needed for the digits set: pip install 'geomm[contrastive]'"
        ) from e
    digits = load_digits()
    images = (digits.images / 16.0 * 255.0).round().astype(np.uint8)
    return images, np.asarray(digits.target)


def _render(
    images: np.ndarray, labels: np.ndarray, *, size: int, seed: int
) -> Iterator[tuple[Any, str, str]]:
    """Each digit as a ``size`` px RGB image with a drawn caption, and its class name."""
    from PIL import Image

    rng = random.Random(seed + 1)
    for img, lab in zip(images, labels.tolist(), strict=True):
        pil = Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
        name = DIGIT_CLASSES[lab]
        yield pil, DIGIT_TEMPLATES[rng.randrange(len(DIGIT_TEMPLATES))].format(name), name
