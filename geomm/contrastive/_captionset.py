"""What every bundled image-caption set shares: its folder, split, PNGs, tables and marker.

A bundled set (digits, textures) is a folder in the reference CSV format:
``train.csv``, ``finetune.csv`` and ``test.csv`` (columns ``image``,
``caption``, ``label``; image paths relative to the folder), ``classes.txt``
(class names in label order), ``templates.txt`` (the zero-shot templates) and
a marker JSON naming geomm as its writer. The marker is written first, with
``complete: false``, and rewritten with the set's record at the end, so a
folder of someone else's files is never written into, and a set geomm made
before (finished or not) is replaced.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geomm._outputs import SIGNATURE, check_replaceable
from geomm.contrastive._errors import ContrastiveConfigError

__all__ = ["PARTS", "CaptionSet", "Row", "claim", "finish", "split", "write_images", "write_tables"]

PARTS = ("train", "finetune", "test")
"""The splits of a bundled set, in order."""


@dataclass(frozen=True)
class CaptionSet:
    """Where :func:`~geomm.contrastive.make_digits` (or ``make_textures``) wrote a set."""

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


Row = tuple[str, str, str]
"""A CSV row of the set: image path (relative to the set's folder), caption, class name."""


def split(
    labels: Sequence[int], quota: Callable[[int, int], tuple[int, int]], seed: int
) -> list[str]:
    """Each item's split, stratified by class and seeded.

    Args:
        labels: each item's class.
        quota: (class, its item count) -> how many of them go to train and to
            finetune (the rest are test).
        seed: seeds the shuffle within each class.
    """
    rng = random.Random(seed)
    out = [""] * len(labels)
    for c in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == c]
        rng.shuffle(idx)
        n_train, n_ft = quota(c, len(idx))
        for rank, i in enumerate(idx):
            out[i] = PARTS[0] if rank < n_train else PARTS[1] if rank < n_train + n_ft else PARTS[2]
    return out


def claim(root: Path, marker: str, what: str) -> None:
    """Make ``root`` the set's folder, unless it holds files that are not one.

    The marker is written before any image, so a run that dies halfway left a
    folder the next run recognizes as its own.

    Args:
        root: the set's folder.
        marker: the marker's file name (``digits.json``).
        what: the set, for messages (``digits set``).
    """
    if root.exists() and not root.is_dir():
        raise ContrastiveConfigError(f"{root} is a file; give a folder for the {what}")
    path = root / marker
    if root.is_dir() and any(root.iterdir()):
        if not path.is_file():
            raise ContrastiveConfigError(
                f"{root} holds files and is not a {what} geomm made (no {marker}); "
                "give a new or empty folder"
            )
        check_replaceable(path, what=what)
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"generator": SIGNATURE, "complete": False}) + "\n")


def finish(root: Path, marker: str, record: dict[str, Any]) -> None:
    """Rewrite the marker with the finished set's record."""
    (root / marker).write_text(
        json.dumps({"generator": SIGNATURE, **record}, indent=2) + "\n", encoding="utf-8"
    )


def write_images(
    root: Path, parts: Sequence[str], images: Iterable[tuple[Any, str, str]]
) -> dict[str, list[Row]]:
    """Each image as ``images/<split>/<index>.png``; the rows of each split.

    Args:
        root: the set's folder.
        parts: each image's split.
        images: (PIL image or ``uint8`` array, caption, class name), one per item of ``parts``.
    """
    from PIL import Image

    rows: dict[str, list[Row]] = {p: [] for p in PARTS}
    for i, (part, (img, caption, name)) in enumerate(zip(parts, images, strict=True)):
        folder = root / "images" / part
        folder.mkdir(parents=True, exist_ok=True)
        pil = Image.fromarray(img) if isinstance(img, np.ndarray) else img
        rel = f"images/{part}/{i:04d}.png"
        pil.save(root / rel)
        rows[part].append((rel, caption, name))
    return rows


def write_tables(
    root: Path, rows: dict[str, list[Row]], classes: Sequence[str], templates: Sequence[str]
) -> CaptionSet:
    """The three split CSVs, ``classes.txt`` and ``templates.txt``."""
    import pandas as pd

    paths = {}
    for part, part_rows in rows.items():
        paths[part] = root / f"{part}.csv"
        pd.DataFrame(part_rows, columns=["image", "caption", "label"]).to_csv(
            paths[part], index=False
        )
    classes_path = root / "classes.txt"
    classes_path.write_text("\n".join(classes) + "\n", encoding="utf-8")
    templates_path = root / "templates.txt"
    templates_path.write_text("\n".join(templates) + "\n", encoding="utf-8")
    return CaptionSet(
        root, paths["train"], paths["finetune"], paths["test"], classes_path, templates_path
    )
