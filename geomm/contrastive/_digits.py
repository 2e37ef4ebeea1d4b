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

import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geomm._outputs import SIGNATURE, check_replaceable
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


@dataclass(frozen=True)
class DigitsSet:
    """Where :func:`make_digits` wrote the set."""

    root: Path
    """The output folder."""
    train: Path
    """CSV of the (pre)training split."""
    finetune: Path
    """CSV of the clean finetuning split."""
    test: Path
    """CSV of the test split."""
    classes: Path
    """``classes.txt``: one class name per line, in label order."""
    templates: Path
    """``templates.txt``: the caption templates, one per line."""


def _split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int) -> list[str]:
    rng = random.Random(seed)
    names = ["train", "finetune", "test"]
    out = [""] * len(labels)
    for c in sorted(set(labels.tolist())):
        idx = [i for i, lab in enumerate(labels.tolist()) if lab == c]
        rng.shuffle(idx)
        n_train = round(fractions[0] * len(idx))
        n_ft = round(fractions[1] * len(idx))
        for rank, i in enumerate(idx):
            out[i] = names[0] if rank < n_train else names[1] if rank < n_train + n_ft else names[2]
    return out


def _claim(root: Path) -> None:
    """Make ``root`` the digits set's folder, unless it holds files that are not one.

    The marker is written before any image, so a run that dies halfway left a
    folder the next run recognizes as its own.
    """
    if root.exists() and not root.is_dir():
        raise ContrastiveConfigError(f"{root} is a file; give a folder for the digits set")
    marker = root / "digits.json"
    if root.is_dir() and any(root.iterdir()):
        if not marker.is_file():
            raise ContrastiveConfigError(
                f"{root} holds files and is not a digits set geomm made (no digits.json); "
                "give a new or empty folder"
            )
        check_replaceable(marker, what="digits set")
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"generator": SIGNATURE, "complete": False}) + "\n")


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
    split = _split(labels, fractions, seed)
    root = Path(out).expanduser().resolve()
    _claim(root)
    rows = _write_images(root, images, labels, split=split, size=size, seed=seed)
    paths = _write_tables(root, rows)
    (root / "digits.json").write_text(
        json.dumps(
            {
                "generator": SIGNATURE,
                "source": "sklearn.datasets.load_digits (UCI optical digits, 8x8)",
                "size": size,
                "seed": seed,
                "fractions": list(fractions),
                "counts": {k: len(v) for k, v in rows.items()},
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
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


_Row = tuple[str, str, str]
"""A CSV row of the set: image path (relative to the set's folder), caption, class name."""


def _write_images(
    root: Path, images: np.ndarray, labels: np.ndarray, *, split: list[str], size: int, seed: int
) -> dict[str, list[_Row]]:
    """Each digit as a ``size`` px RGB PNG with a drawn caption; the rows of each split."""
    from PIL import Image

    rng = random.Random(seed + 1)
    rows: dict[str, list[_Row]] = {"train": [], "finetune": [], "test": []}
    for i, (img, lab, part) in enumerate(zip(images, labels.tolist(), split, strict=True)):
        folder = root / "images" / part
        folder.mkdir(parents=True, exist_ok=True)
        pil = Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
        rel = f"images/{part}/{i:04d}.png"
        pil.save(root / rel)
        name = DIGIT_CLASSES[lab]
        caption = DIGIT_TEMPLATES[rng.randrange(len(DIGIT_TEMPLATES))].format(name)
        rows[part].append((rel, caption, name))
    return rows


def _write_tables(root: Path, rows: dict[str, list[_Row]]) -> DigitsSet:
    """The three split CSVs, ``classes.txt`` and ``templates.txt``."""
    import pandas as pd

    paths = {}
    for part, part_rows in rows.items():
        paths[part] = root / f"{part}.csv"
        pd.DataFrame(part_rows, columns=["image", "caption", "label"]).to_csv(
            paths[part], index=False
        )
    classes = root / "classes.txt"
    classes.write_text("\n".join(DIGIT_CLASSES) + "\n", encoding="utf-8")
    templates = root / "templates.txt"
    templates.write_text("\n".join(DIGIT_TEMPLATES) + "\n", encoding="utf-8")
    return DigitsSet(root, paths["train"], paths["finetune"], paths["test"], classes, templates)
