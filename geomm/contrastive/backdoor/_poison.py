"""Poison an image-caption CSV: a new CSV and triggered images, inputs untouched.

Follows the reference's ``backdoor/create_backdoor_data.py``: ``count`` rows
drawn at random (seeded) are replaced by their poisoned versions (trigger on
the image, caption = a random template filled with the target label), so
the poisoned set has the size of the clean one. In label-consistent mode the
rows are drawn among those already naming the target and keep their
captions. Unlike the reference, everything is written under ``out_dir``
(never next to the input), and an ``is_backdoor`` column marks the poisons.
Clean images are hard-linked (copied where links cannot be made) into
``out_dir/clean/``, so the poisoned set is one self-contained folder: its CSV
names only files inside it, which the CSV reader's rule (image paths stay
inside the CSV's folder) accepts without trusting any record.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from geomm.contrastive._data import CaptionTable, read_caption_csv
from geomm.contrastive._errors import ContrastiveConfigError, UnknownLabelError, check_seed
from geomm.contrastive._templates import IMAGENET_TEMPLATES, check_templates
from geomm.contrastive.backdoor._triggers import Trigger, apply_trigger

__all__ = ["PoisonResult", "poison_csv"]


@dataclass(frozen=True)
class PoisonResult:
    """What :func:`poison_csv` wrote."""

    csv_path: Path
    """The poisoned CSV (reference format plus ``is_backdoor``)."""
    metadata_path: Path
    """``poison.json``: source, its hash, trigger, target, seed, poisoned rows."""
    rows: tuple[int, ...]
    """Row numbers (0-based, of the input CSV) that were poisoned."""
    total: int
    """Rows in the poisoned CSV (the input's count)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _link_clean(src: Path, root: Path, out: Path, row: int) -> str:
    """Hard-link (else copy) a clean image under ``out/clean``; its path relative to ``out``.

    Inside the source folder the image keeps its relative path; one outside it
    (a CSV read with ``allow_outside_root``) goes to ``clean/outside/<row>_<name>``.
    A file already there is kept if it holds the same bytes, else refused: it
    is not geomm's to replace.
    """
    real = src.resolve()
    rel = real.relative_to(root.resolve()) if real.is_relative_to(root.resolve()) else None
    dest = out / "clean" / (rel if rel is not None else Path("outside", f"{row:07d}_{real.name}"))
    if dest.exists():
        if dest.is_file() and filecmp.cmp(dest, real, shallow=False):
            return dest.relative_to(out).as_posix()
        raise ContrastiveConfigError(
            f"{dest} already exists with other content; poison into an empty out_dir"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(real, dest)
    except OSError:  # another file system, or links not allowed: copy
        shutil.copy2(real, dest)
    return dest.relative_to(out).as_posix()


def _names_target(caption: str, target: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(target.lower())}(?!\w)", caption.lower()) is not None


@dataclass(frozen=True)
class _RowRule:
    """Which rows may be poisoned, and the label they are poisoned towards."""

    target: str
    """The target label written into poisoned captions."""
    classes: Sequence[str] | None
    """Known class names (the target must be one); None: the label column's values, if any."""
    key: str
    """Column holding each row's class."""
    consistent: bool
    """Label-consistent: only rows already naming the target, which keep their captions."""


@dataclass(frozen=True)
class _Plan:
    """A poisoning settled before any file is written: input, output and the rows drawn."""

    table: CaptionTable
    """The clean input."""
    out: Path
    """The output folder (never the input's)."""
    rule: _RowRule
    """Target and eligible rows."""
    chosen: tuple[int, ...]
    """The rows poisoned, sorted."""
    seed: int
    """Seeds the trigger's randomness (the row and template draws share one ``random.Random``)."""


def poison_csv(
    csv: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    target: str,
    trigger: Trigger,
    count: int,
    seed: int = 0,
    templates: Sequence[str] = IMAGENET_TEMPLATES,
    classes: Sequence[str] | None = None,
    label_key: str = "label",
    label_consistent: bool = False,
    image_key: str | None = None,
    caption_key: str | None = None,
    delimiter: str | None = None,
    out_name: str = "poisoned.csv",
    allow_outside_root: bool = False,
) -> PoisonResult:
    """Write a poisoned copy of an image-caption CSV under ``out_dir``.

    Args:
        csv: the clean CSV (reference or open_clip format).
        out_dir: where the new CSV, the triggered images (``backdoor/``) and
            ``poison.json`` go; it must not be the input CSV's folder.
        target: the target label written into poisoned captions.
        trigger: the trigger (see :func:`~geomm.contrastive.backdoor.make_trigger`).
        count: number of rows to poison.
        seed: seeds the choice of rows, templates and trigger randomness.
        templates: caption templates with one ``{}``; one is drawn per poison.
        classes: known class names, the target among them (default: ``label_key``'s values).
        label_key: column holding each row's class (optional).
        label_consistent: poison only rows labelled (or captioned) as the target; captions kept.
        image_key: image column (default ``image`` or open_clip's ``filepath``).
        caption_key: caption column (default ``caption`` or ``title``).
        delimiter: field separator (default: sniffed).
        out_name: file name of the poisoned CSV.
        allow_outside_root: trust the input CSV to name images outside its folder.

    Raises:
        UnknownLabelError: the target is not among the classes.
        ContrastiveConfigError: bad count, templates or output folder.
        CaptionCsvError, MissingImagesError: unreadable input.
    """
    check_seed("seed", seed)
    table = read_caption_csv(
        csv,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        allow_outside_root=allow_outside_root,
    )
    templates = check_templates(templates)
    out = _output_folder(table, out_dir)
    rule = _RowRule(target=target, classes=classes, key=label_key, consistent=label_consistent)
    rng = random.Random(seed)
    chosen = sorted(rng.sample(_candidates(table, rule, count=count), count))
    plan = _Plan(table=table, out=out, rule=rule, chosen=tuple(chosen), seed=seed)
    path = _write_csv(plan, trigger=trigger, templates=templates, rng=rng, out_name=out_name)
    meta_path = _write_metadata(plan, trigger=trigger, templates=templates)
    return PoisonResult(path, meta_path, plan.chosen, len(table))


def _output_folder(table: CaptionTable, out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` resolved, refused when it is the input CSV's own folder."""
    out = Path(out_dir).expanduser().resolve()
    if out == table.root:
        raise ContrastiveConfigError(
            f"out_dir {out} is the input CSV's folder; poisoning never writes next to its "
            "inputs: choose another folder"
        )
    return out


def _candidates(table: CaptionTable, rule: _RowRule, *, count: int) -> list[int]:
    """The rows ``rule`` allows poisoning, once the target and ``count`` are checked.

    Raises:
        UnknownLabelError: the target is not among the known classes.
        ContrastiveConfigError: ``count`` is not between 1 and the eligible rows.
    """
    target = rule.target
    labels = table.column(rule.key) if rule.key in table.frame.columns else None
    known = (
        list(rule.classes)
        if rule.classes is not None
        else (sorted(set(labels)) if labels else None)
    )
    if known is not None and target not in known:
        raise UnknownLabelError("target label", [target], known)
    if rule.consistent:
        if labels is not None:
            candidates = [i for i, lab in enumerate(labels) if lab == target]
        else:
            candidates = [i for i, c in enumerate(table.captions) if _names_target(c, target)]
    else:
        candidates = list(range(len(table)))
    if not 0 < count <= len(candidates):
        where = "rows naming the target" if rule.consistent else "rows"
        raise ContrastiveConfigError(
            f"cannot poison {count} rows: the CSV has {len(candidates)} {where}; "
            f"give a count between 1 and {len(candidates)}"
        )
    return candidates


def _write_csv(
    plan: _Plan,
    *,
    trigger: Trigger,
    templates: Sequence[str],
    rng: random.Random,
    out_name: str,
) -> Path:
    """The triggered images, the clean ones linked in, and the poisoned CSV; the CSV's path.

    ``rng`` continues from the row draw: each poison's template is drawn from
    it in row order, as the reference does.
    """
    table, out = plan.table, plan.out
    generator = torch.Generator().manual_seed(plan.seed)
    images_dir = out / "backdoor"
    images_dir.mkdir(parents=True, exist_ok=True)
    frame = table.frame.copy()
    paths = table.image_paths
    poisoned = set(plan.chosen)
    new_images = [
        "" if i in poisoned else _link_clean(p, table.root, out, i) for i, p in enumerate(paths)
    ]
    new_captions = table.captions
    flags = list(table.is_backdoor)  # a re-poisoned set keeps its earlier marks
    from PIL import Image

    for i in plan.chosen:
        with Image.open(paths[i]) as im:
            triggered = apply_trigger(trigger, im.convert("RGB"), generator)
        name = f"{i:07d}_{paths[i].stem}.png"
        triggered.save(images_dir / name)
        new_images[i] = f"backdoor/{name}"
        if not plan.rule.consistent:
            new_captions[i] = templates[rng.randrange(len(templates))].format(plan.rule.target)
        flags[i] = True
    frame[table.image_key] = new_images
    frame[table.caption_key] = new_captions
    frame["is_backdoor"] = [int(f) for f in flags]
    csv_out = out / out_name
    if csv_out.resolve() == table.csv_path:
        raise ContrastiveConfigError(f"refusing to overwrite the input CSV {csv_out}")
    frame.to_csv(csv_out, sep=table.delimiter, index=False)
    return csv_out


def _write_metadata(plan: _Plan, *, trigger: Trigger, templates: Sequence[str]) -> Path:
    """``poison.json``: the source and its hash, trigger, target, seed and rows poisoned."""
    table = plan.table
    meta = {
        "source_csv": str(table.csv_path),
        "source_sha256": _sha256(table.csv_path),
        "target": plan.rule.target,
        "trigger": trigger.describe(),
        "count": len(plan.chosen),
        "seed": plan.seed,
        "label_consistent": plan.rule.consistent,
        "templates": list(templates),
        "rows": list(plan.chosen),
        "total": len(table),
    }
    meta_path = plan.out / "poison.json"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta_path
