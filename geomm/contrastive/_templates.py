"""Caption templates: the 80 ImageNet prompts of CLIP and a reader for template files.

A template is a caption with one ``{}`` where the class name goes. The
CleanCLIP reference writes poisoned captions with the ImageNet templates and
averages zero-shot class vectors over them; both are configurable here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from geomm.contrastive._errors import ContrastiveConfigError

__all__ = ["IMAGENET_TEMPLATES", "check_templates", "read_lines"]

IMAGENET_TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
)
"""CLIP's 80 ImageNet prompt templates (OpenAI's prompt-engineering notebook)."""


def check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    """Return the templates as a tuple; each must hold exactly one ``{}``.

    Raises:
        ContrastiveConfigError: no templates, or one without exactly one ``{}``.
    """
    out = tuple(str(t) for t in templates)
    if not out:
        raise ContrastiveConfigError("no caption templates given; each needs one '{}'")
    bad = [t for t in out if t.count("{}") != 1]
    if bad:
        raise ContrastiveConfigError(
            f"caption templates need exactly one '{{}}' for the class name; bad: {bad[:3]}"
        )
    return out


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Non-empty, stripped lines of a text file (class names, templates).

    Raises:
        ContrastiveConfigError: the file does not exist or holds no lines.
    """
    p = Path(path)
    if not p.is_file():
        what = "a folder, not a file" if p.is_dir() else "no such file"
        raise ContrastiveConfigError(f"{p} is {what}; give a text file with one entry per line")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ContrastiveConfigError(
            f"{p} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
            "save it as UTF-8, one entry per line"
        ) from e
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ContrastiveConfigError(f"{p} is empty; write one entry per line")
    return lines
