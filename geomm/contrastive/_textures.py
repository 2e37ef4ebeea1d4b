"""The bundled procedural image-caption set: ten texture classes in two named colours.

Every image is drawn with numpy from a seeded generator, so the set needs no
download and no data file. A texture is a foreground weight field (0 =
background, 1 = foreground, soft at the edges) of one class, with a random
period or scale in a class-specific range, a random phase and, where the class
allows, a small orientation jitter (diagonal stripes stay diagonal); the
image blends two colours of a ten-word palette with it. The caption names the
texture and both colours in one of several word-only wordings ("a pattern of
yellow dots on a background of purple"); numerals would vanish under EDA, which
keeps letters only. The zero-shot templates name the class alone. The set's
folder has the same layout as the digits set (see :mod:`._captionset`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from geomm.contrastive import _captionset as bundled
from geomm.contrastive._captionset import CaptionSet
from geomm.contrastive._errors import ContrastiveConfigError, check_seed

__all__ = ["TEXTURE_CAPTIONS", "TEXTURE_CLASSES", "TEXTURE_COLOURS", "TEXTURE_TEMPLATES",
           "make_textures"]  # fmt: skip

TEXTURE_CLASSES: tuple[str, ...] = (
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "checkerboard",
    "dots",
    "rings",
    "waves",
    "grid",
    "speckles",
    "blotches",
)
"""Class names, in label order (``speckles``: fine noise; ``blotches``: coarse smooth noise)."""

TEXTURE_TEMPLATES: tuple[str, ...] = (
    "a photo of {}",
    "a pattern of {}",
    "a texture of {}",
    "a close up of {}",
    "a picture of {}",
    "a swatch of fabric with {}",
    "a surface covered in {}",
    "a drawing of {}",
    "a tile showing {}",
    "an image of {}",
)
"""Zero-shot templates (and poisoned captions): one ``{}`` for the class name."""

TEXTURE_CAPTIONS: tuple[str, ...] = (
    "{fg} and {bg} {texture}",
    "a pattern of {fg} {texture} on a background of {bg}",
    "a close up of {fg} and {bg} {texture}",
    "{texture} in {fg} and {bg}",
    "a texture of {fg} {texture} over {bg}",
    "a photo of {texture} coloured {fg} and {bg}",
    "a swatch of fabric with {fg} {texture} on {bg}",
    "{fg} {texture} against {bg}",
    "a tile showing {texture} in {fg} on {bg}",
    "an image of {bg} and {fg} {texture}",
)
"""The captions of the set: texture, foreground and background colour."""

TEXTURE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 30),
    "green": (40, 160, 50),
    "blue": (40, 70, 210),
    "yellow": (240, 215, 40),
    "orange": (245, 135, 20),
    "purple": (130, 50, 165),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "grey": (128, 128, 128),
    "brown": (115, 70, 30),
}
"""The palette: colour word -> RGB."""

_PAIRS = [
    (a, b)
    for a in TEXTURE_COLOURS
    for b in TEXTURE_COLOURS
    if math.dist(TEXTURE_COLOURS[a], TEXTURE_COLOURS[b]) >= 90
]
"""Foreground / background pairs far enough apart to tell (not orange on red)."""

Counts = tuple[int, int, int]
"""Images in the train, finetune and test splits."""

_MARKER = "textures.json"
_MAX_COUNT = 100_000


def make_textures(
    out: str | os.PathLike[str], *, seed: int = 0, size: int = 32, counts: Counts = (1800, 600, 600)
) -> CaptionSet:
    """Draw the procedural textures set in the reference CSV format.

    The folder ``out`` is created; it may also be empty, or a textures set made
    here before (its ``textures.json`` says so), whose files are then replaced.
    ``seed`` seeds the split, the images and the captions; ``size`` is the image
    edge in pixels; ``counts`` are the train / finetune / test images, each
    split shared evenly by the classes (stratified).

    Returns:
        Paths of the three CSVs, ``classes.txt`` and ``templates.txt``.
    """
    counts = _check_options(seed=seed, size=size, counts=counts)
    n = len(TEXTURE_CLASSES)
    per_class = [[c // n + (k < c % n) for c in counts] for k in range(n)]
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(n), [sum(q) for q in per_class])).tolist()
    parts = bundled.split(labels, lambda k, _: (per_class[k][0], per_class[k][1]), seed)
    root = Path(out).expanduser().resolve()
    bundled.claim(root, _MARKER, "textures set")
    rows = bundled.write_images(root, parts, _render(labels, size=size, rng=rng))
    paths = bundled.write_tables(root, rows, TEXTURE_CLASSES, TEXTURE_TEMPLATES)
    bundled.finish(
        root,
        _MARKER,
        {
            "source": "procedural textures drawn with numpy (geomm.contrastive.make_textures)",
            "size": size,
            "seed": seed,
            "counts": {k: len(v) for k, v in rows.items()},
        },
    )
    return paths


def _check_options(*, seed: int, size: int, counts: Counts) -> Counts:
    """Refuse bad options before the folder is claimed or anything is written."""
    n = len(TEXTURE_CLASSES)
    ok = len(counts) == 3 and all(
        isinstance(c, int) and not isinstance(c, bool) and n <= c <= _MAX_COUNT for c in counts
    )
    if not ok:
        raise ContrastiveConfigError(
            f"counts must be three image counts (train, finetune, test), each from {n} "
            f"(one image a class) to {_MAX_COUNT}, got {counts!r}"
        )
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 512:
        raise ContrastiveConfigError(f"size must be from 8 to 512 px, got {size!r}")
    check_seed("seed", seed)
    return (counts[0], counts[1], counts[2])


def _render(
    labels: list[int], *, size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, str, str]]:
    """Each texture as a ``size`` px RGB array, its caption and class name."""
    for lab in labels:
        weight = _DRAW[lab](rng, size)
        fg, bg = _PAIRS[rng.integers(len(_PAIRS))]
        f = np.asarray(TEXTURE_COLOURS[fg], np.float64)
        b = np.asarray(TEXTURE_COLOURS[bg], np.float64)
        img = np.rint(b + weight[..., None] * (f - b)).astype(np.uint8)
        name = TEXTURE_CLASSES[lab]
        template = TEXTURE_CAPTIONS[rng.integers(len(TEXTURE_CAPTIONS))]
        yield img, template.format(fg=fg, bg=bg, texture=name), name


# --- drawing: each class's foreground weight in [0, 1], shape (size, size) ---


def _frame(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (centred) rotated by ``angle`` degrees: along and across."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    t = math.radians(angle)
    return x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)


def _soft(s: np.ndarray, period: float) -> np.ndarray:
    """A wave's positive half as foreground, with edges about a pixel wide."""
    return np.clip(0.5 + s * period / 4, 0.0, 1.0)


def _period(rng: np.random.Generator, size: int, lo: float, hi: float, least: float) -> float:
    """A period between ``size / hi`` and ``size / lo`` px, at least ``least`` px."""
    return max(least, size / float(rng.uniform(lo, hi)))


def _stripes(base: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Straight stripes whose normal points at ``base`` degrees (jittered by 8)."""

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        p = _period(rng, size, 3.0, 8.0, 3.0)
        angle = base + (90.0 * rng.integers(2) if base == 45.0 else 0.0) + rng.uniform(-8, 8)
        u, _ = _frame(size, angle)
        return _soft(np.sin(2 * np.pi * u / p + rng.uniform(0, 2 * np.pi)), p)

    return draw


def _lattice(
    rng: np.random.Generator, size: int, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Offsets (px) to the nearest point of a square lattice jittered by 10 degrees."""
    p = _period(rng, size, lo, hi, 5.0)
    u, v = _frame(size, rng.uniform(-10, 10))
    du = (u / p + rng.uniform(0, 1)) % 1.0 - 0.5
    dv = (v / p + rng.uniform(0, 1)) % 1.0 - 0.5
    return du * p, dv * p, p


def _checkerboard(rng: np.random.Generator, size: int) -> np.ndarray:
    p = 2 * _period(rng, size, 3.0, 8.0, 3.0)  # p: one dark and one light square
    u, v = _frame(size, rng.uniform(-10, 10))
    a = _soft(np.sin(2 * np.pi * u / p + rng.uniform(0, 2 * np.pi)), p)
    b = _soft(np.sin(2 * np.pi * v / p + rng.uniform(0, 2 * np.pi)), p)
    return a * b + (1 - a) * (1 - b)


def _dots(rng: np.random.Generator, size: int) -> np.ndarray:
    du, dv, p = _lattice(rng, size, 3.5, 6.0)
    r = max(1.5, p * rng.uniform(0.22, 0.33))
    return np.clip(r - np.hypot(du, dv) + 0.5, 0.0, 1.0)


def _grid(rng: np.random.Generator, size: int) -> np.ndarray:
    du, dv, p = _lattice(rng, size, 3.0, 6.0)
    w = max(2.0, p * rng.uniform(0.12, 0.22))
    line = lambda d: np.clip(w / 2 - np.abs(d) + 0.5, 0.0, 1.0)  # noqa: E731
    return np.maximum(line(du), line(dv))


def _rings(rng: np.random.Generator, size: int) -> np.ndarray:
    p = _period(rng, size, 4.0, 10.0, 3.0)
    cy, cx = rng.uniform(-size / 4, size / 4, 2)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    d = np.hypot(x - cx, y - cy)
    return _soft(np.sin(2 * np.pi * d / p + rng.uniform(0, 2 * np.pi)), p)


def _waves(rng: np.random.Generator, size: int) -> np.ndarray:
    p = _period(rng, size, 3.0, 7.0, 3.5)
    u, v = _frame(size, rng.uniform(0, 180))
    bend = p * rng.uniform(0.5, 0.9) * np.sin(2 * np.pi * v / (size * rng.uniform(0.35, 0.7)))
    return _soft(np.sin(2 * np.pi * (u + bend) / p + rng.uniform(0, 2 * np.pi)), p / 2)


def _speckles(rng: np.random.Generator, size: int) -> np.ndarray:
    grain = 1 + int(rng.integers(max(1, size // 32) + 1)) if size >= 32 else 1
    cells = -(-size // grain)
    noise = rng.random((cells, cells))
    field = np.kron(noise, np.ones((grain, grain)))[:size, :size]
    return (field < rng.uniform(0.35, 0.65)).astype(np.float64)


def _blotches(rng: np.random.Generator, size: int) -> np.ndarray:
    cycles = rng.uniform(1.5, 3.0)  # the blobs' scale: about this many across the image
    f = np.fft.fftfreq(size) * size
    low = np.exp(-(f[:, None] ** 2 + f[None, :] ** 2) / (2 * cycles**2))
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * low).real
    field = (field - np.median(field)) / (field.std() + 1e-12)
    return np.clip(0.5 + 3 * field, 0.0, 1.0)


_DRAW: tuple[Callable[[np.random.Generator, int], np.ndarray], ...] = (
    _stripes(90.0),  # horizontal stripes: their normal points down the image
    _stripes(0.0),
    _stripes(45.0),
    _checkerboard,
    _dots,
    _rings,
    _waves,
    _grid,
    _speckles,
    _blotches,
)
"""One drawing per class of :data:`TEXTURE_CLASSES`, in label order."""
