"""Backdoor triggers of the CleanCLIP reference (``backdoor/utils.py:apply_trigger``).

A trigger maps one (3, H, W) float image in [0, 1] to its triggered copy;
randomness (BadNet's patch noise and position, Blended's noise) comes from an
explicit ``torch.Generator``, so poisoning and evaluation are reproducible
from a seed. Triggers work at the image's own resolution (the reference first
resizes to 224 px); sizes are in pixels of that image.

Deviations from the reference, on purpose: values are clipped to [0, 1]
before quantising (the reference's ``ToPILImage`` wraps out-of-range bytes);
WaNet uses the WaNet paper's control grid (k=4, s=0.5) drawn from a seed,
instead of a per-pixel grid cached in a file; SIG adds the sinusoid (Barni et
al.) instead of blending it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from geomm.contrastive._errors import ContrastiveConfigError, check_seed

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "SIG",
    "BadNet",
    "Blended",
    "Trigger",
    "WaNet",
    "apply_trigger",
    "make_trigger",
    "trigger_from_record",
    "trigger_names",
]


@runtime_checkable
class Trigger(Protocol):
    """A backdoor trigger: ``apply`` one float image, ``describe`` for records."""

    @property
    def name(self) -> str:
        """Trigger family name, for records (read-only: the triggers are frozen dataclasses)."""
        ...

    def apply(self, image: Tensor, generator: torch.Generator) -> Tensor:
        """Triggered copy of a (3, H, W) float image in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able record of the trigger and its parameters."""
        ...


def _describe(obj: Any) -> dict[str, Any]:
    return {"name": obj.name, **asdict(obj)}


def _checkerboard(size: int) -> Tensor:
    idx = torch.arange(size)
    board = ((idx[:, None] + idx[None, :]) % 2).float()
    return board.expand(3, size, size)


@dataclass(frozen=True)
class BadNet:
    """A square patch pasted on the image (BadNets; CleanCLIP's default attack).

    ``pattern="noise"`` with ``location="random"`` is the reference's
    ``patch_type=random``: the image's channel mean plus N(0, 1) noise,
    resampled for every image at a random position. ``checkerboard`` or
    ``yellow`` in a fixed corner are structured, fixed triggers.
    """

    size: int = 16
    """Patch edge in pixels."""
    pattern: Literal["noise", "checkerboard", "yellow"] = "noise"
    """What the patch holds."""
    location: Literal["random", "bottom-right", "top-left"] = "random"
    """Where it goes: a fresh random position per image, or a fixed corner."""
    name: str = "badnet"
    """Trigger family name, for records."""

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ContrastiveConfigError(f"BadNet patch size must be >= 1, got {self.size}")
        if self.pattern not in ("noise", "checkerboard", "yellow"):
            raise ContrastiveConfigError(
                f"BadNet pattern must be noise, checkerboard or yellow, got {self.pattern!r}"
            )
        if self.location not in ("random", "bottom-right", "top-left"):
            raise ContrastiveConfigError(
                f"BadNet location must be random, bottom-right or top-left, got {self.location!r}"
            )

    def apply(self, image: Tensor, generator: torch.Generator) -> Tensor:
        """Paste the patch (see the class docstring)."""
        _, h, w = image.shape
        p = self.size
        if p > min(h, w):
            raise ContrastiveConfigError(f"BadNet patch of {p} px does not fit a {h}x{w} image")
        out = image.clone()
        if self.pattern == "noise":
            mean = image.mean(dim=(1, 2), keepdim=True)
            patch = mean + torch.randn((3, p, p), generator=generator)
        elif self.pattern == "checkerboard":
            patch = _checkerboard(p)
        else:
            patch = torch.tensor([1.0, 1.0, 0.0]).view(3, 1, 1).expand(3, p, p)
        if self.location == "random":
            top = int(torch.randint(0, h - p + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - p + 1, (1,), generator=generator))
        elif self.location == "bottom-right":
            top, left = h - p, w - p
        else:
            top, left = 0, 0
        out[:, top : top + p, left : left + p] = patch
        return out.clamp(0, 1)

    def describe(self) -> dict[str, Any]:
        """Record of the parameters."""
        return _describe(self)


@dataclass(frozen=True)
class Blended:
    """Blend with uniform noise: ``(1 - alpha) * image + alpha * noise``.

    As in the reference, the noise is drawn afresh for each image; with
    ``pattern_seed`` set, one fixed noise pattern (drawn from that seed) is
    used for every image instead (Chen et al.'s original blended attack).
    """

    alpha: float = 0.2
    """Weight of the noise."""
    pattern_seed: int | None = None
    """None: fresh noise per image (reference); an int: one fixed pattern."""
    name: str = "blended"
    """Trigger family name, for records."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ContrastiveConfigError(f"Blended alpha must be in (0, 1], got {self.alpha}")
        if self.pattern_seed is not None:
            check_seed("pattern_seed (the trigger seed)", self.pattern_seed)

    def apply(self, image: Tensor, generator: torch.Generator) -> Tensor:
        """Blend the image with uniform noise."""
        if self.pattern_seed is None:
            noise = torch.rand(image.shape, generator=generator)
        else:
            fixed = torch.Generator().manual_seed(self.pattern_seed)
            noise = torch.rand(image.shape, generator=fixed)
        return ((1 - self.alpha) * image + self.alpha * noise).clamp(0, 1)

    def describe(self) -> dict[str, Any]:
        """Record of the parameters."""
        return _describe(self)


@dataclass(frozen=True)
class WaNet:
    """A smooth, fixed warp of the image (WaNet, Nguyen & Tran 2021).

    A ``k x k`` field of random offsets (from ``grid_seed``), normalised to
    mean magnitude 1 and upsampled bicubically to the image, displaces each
    pixel by ``strength / H`` in [-1, 1] grid units.
    """

    k: int = 4
    """Control-grid size."""
    strength: float = 0.5
    """Warp strength ``s``."""
    grid_seed: int = 0
    """Seed of the fixed warping field (the trigger's identity)."""
    name: str = "wanet"
    """Trigger family name, for records."""

    def __post_init__(self) -> None:
        if self.k < 2 or self.strength <= 0:
            raise ContrastiveConfigError(
                f"WaNet needs k >= 2 and strength > 0, got k={self.k}, strength={self.strength}"
            )
        check_seed("grid_seed (the trigger seed)", self.grid_seed)

    def _grid(self, h: int, w: int) -> Tensor:
        gen = torch.Generator().manual_seed(self.grid_seed)
        ins = torch.rand((1, 2, self.k, self.k), generator=gen) * 2 - 1
        ins = ins / ins.abs().mean()
        noise = F.interpolate(ins, size=(h, w), mode="bicubic", align_corners=True)
        noise = noise.permute(0, 2, 3, 1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        identity = torch.stack((xs, ys), dim=2)[None]
        return (identity + self.strength * noise / h).clamp(-1, 1)

    def apply(self, image: Tensor, generator: torch.Generator) -> Tensor:
        """Warp the image with the fixed field (the generator is not used)."""
        del generator
        _, h, w = image.shape
        out = F.grid_sample(image[None], self._grid(h, w), align_corners=True)[0]
        return out.clamp(0, 1)

    def describe(self) -> dict[str, Any]:
        """Record of the parameters."""
        return _describe(self)


@dataclass(frozen=True)
class SIG:
    """A horizontal sinusoid added to the image (SIG, Barni et al. 2019)."""

    amplitude: float = 20 / 255
    """Peak change of the pixel values (in [0, 1] units)."""
    frequency: float = 6.0
    """Periods across the image width."""
    name: str = "sig"
    """Trigger family name, for records."""

    def __post_init__(self) -> None:
        if self.amplitude <= 0 or self.frequency <= 0:
            raise ContrastiveConfigError("SIG amplitude and frequency must be > 0")

    def apply(self, image: Tensor, generator: torch.Generator) -> Tensor:
        """Add the sinusoid (the generator is not used)."""
        del generator
        w = image.shape[-1]
        cols = torch.arange(w, dtype=image.dtype)
        wave = self.amplitude * torch.sin(2 * math.pi * cols * self.frequency / w)
        return (image + wave.view(1, 1, w)).clamp(0, 1)

    def describe(self) -> dict[str, Any]:
        """Record of the parameters."""
        return _describe(self)


_FACTORIES: dict[str, Callable[[dict[str, Any]], Trigger]] = {
    "badnet": lambda o: BadNet(**o),
    "checkerboard": lambda o: BadNet(
        **{"pattern": "checkerboard", "location": "bottom-right", **o}, name="checkerboard"
    ),
    "blended": lambda o: Blended(**o),
    "wanet": lambda o: WaNet(**o),
    "sig": lambda o: SIG(**o),
}


def trigger_names() -> list[str]:
    """Names :func:`make_trigger` accepts."""
    return sorted(_FACTORIES)


def make_trigger(name: str, **options: Any) -> Trigger:
    """Build a trigger by name (``badnet``, ``checkerboard``, ``blended``, ``wanet``, ``sig``).

    ``checkerboard`` is the structured trigger of the study: a BadNet
    checkerboard patch in the bottom-right corner. Options are the dataclass
    fields (``size=6``, ``alpha=0.2`` ...); None values are ignored.

    Raises:
        ContrastiveConfigError: unknown name or option.
    """
    if name not in _FACTORIES:
        raise ContrastiveConfigError(
            f"unknown attack {name!r}; choose one of {trigger_names()} "
            "(label-consistent poisoning is a mode of any of them)"
        )
    opts = {k: v for k, v in options.items() if v is not None and k != "name"}
    try:
        return _FACTORIES[name](opts)
    except TypeError as e:
        raise ContrastiveConfigError(f"bad option for attack {name!r}: {e}") from e


def trigger_from_record(record: dict[str, Any]) -> Trigger:
    """Rebuild a trigger from :meth:`Trigger.describe` output (e.g. ``poison.json``).

    Raises:
        ContrastiveConfigError: not such a record (no ``name``, unknown options).
    """
    if not isinstance(record, dict) or not isinstance(record.get("name"), str):
        raise ContrastiveConfigError(
            f"a trigger record is an object with a 'name' and its options, got {record!r:.80}"
        )
    rec = dict(record)
    name = rec.pop("name")
    return make_trigger(name, **rec)


def apply_trigger(trigger: Trigger, image: Image.Image, generator: torch.Generator) -> Image.Image:
    """Trigger an RGB PIL image; the result is quantised to 8 bits as a saved poison would be."""
    from PIL import Image as PILImage

    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
    y = trigger.apply(x.permute(2, 0, 1), generator)
    arr = (y.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
    return PILImage.fromarray(arr)
