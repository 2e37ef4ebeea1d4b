"""Dual encoders: the abstraction every contrastive recipe trains, and a small CLIP.

A :class:`DualEncoder` is two towers that map inputs of modalities ``a`` and
``b`` to L2-normalised embeddings of one width, plus a learnable log logit
scale. CLIP (image/text) and CROMA (radar/optical) both fit; the losses in
:mod:`geomm.contrastive._loss` only see embeddings and the scale.

:class:`ImageTextModel` adds what image-caption recipes need from a CLIP:
per-image preprocessing, a tokenizer, and the image tower's parameters (for
supervised finetuning). :class:`SmallCLIP` is a CPU-sized one (3-layer CNN
image tower, GRU text tower, hashed word tokens) for offline studies;
:mod:`geomm.contrastive._openclip` wraps any open_clip model.
"""

from __future__ import annotations

import abc
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geomm.contrastive._errors import ContrastiveConfigError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DualEncoder",
    "HashTokenizer",
    "ImageTextModel",
    "SmallCLIP",
    "SmallClipConfig",
]


class DualEncoder(nn.Module, abc.ABC):
    """Two towers with a shared, learnable log logit scale.

    Subclasses set :attr:`modalities` and a scalar ``nn.Parameter`` named
    ``logit_scale`` holding ``s`` (the losses take ``exp(s)``), and implement
    :meth:`encode_a` / :meth:`encode_b` returning L2-normalised (N, D)
    embeddings. Recipes clamp ``s`` to ``[0, ln 100]`` after each step.
    """

    modalities: tuple[str, str] = ("a", "b")
    """Names of the two modalities, in (a, b) order, e.g. ("image", "text")."""

    @abc.abstractmethod
    def encode_a(self, batch: Any) -> Tensor:
        """Embed a batch of the first modality (L2-normalised)."""

    @abc.abstractmethod
    def encode_b(self, batch: Any) -> Tensor:
        """Embed a batch of the second modality (L2-normalised)."""

    @property
    @abc.abstractmethod
    def logit_scale(self) -> nn.Parameter:
        """The learnable log logit scale ``s`` (a scalar or 1-element parameter)."""


class ImageTextModel(DualEncoder):
    """A CLIP-like dual encoder over images (a) and captions (b)."""

    modalities = ("image", "text")

    @abc.abstractmethod
    def encode_image(self, images: Tensor) -> Tensor:
        """(N, C, H, W) preprocessed images to (N, D) normalised embeddings."""

    @abc.abstractmethod
    def encode_text(self, tokens: Tensor) -> Tensor:
        """(N, L) token ids to (N, D) normalised embeddings."""

    @abc.abstractmethod
    def preprocess(self, image: Image.Image) -> Tensor:
        """One RGB PIL image to the (C, H, W) float tensor :meth:`encode_image` takes."""

    @abc.abstractmethod
    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """Captions to the (N, L) long tensor :meth:`encode_text` takes."""

    @abc.abstractmethod
    def image_tower_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Named parameters of the image tower (what supervised finetuning trains)."""

    @abc.abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description that rebuilds this architecture (for checkpoints)."""

    def encode_a(self, batch: Tensor) -> Tensor:
        """Images are modality a."""
        return self.encode_image(batch)

    def encode_b(self, batch: Tensor) -> Tensor:
        """Captions are modality b."""
        return self.encode_text(batch)


_WORD = re.compile(r"[a-z0-9]+")


SMALL_CLIP_MAX_SIZE = 1024
"""Largest SmallCLIP input edge: beyond it one batch of activations no longer fits memory."""


@dataclass(frozen=True)
class HashTokenizer:
    """Word tokenizer with hashed ids: no vocabulary file, works on any text.

    Lower-cases, keeps runs of ``[a-z0-9]``, and maps each word to
    ``1 + crc32(word) % (buckets - 1)`` (0 is padding). With a few hundred
    distinct words in 4096 buckets collisions are rare, and unseen words
    (EDA insertions) still get an id.
    """

    buckets: int = 4096
    """Number of ids, padding included."""
    context_length: int = 24
    """Longest token sequence kept; longer captions are truncated."""

    def __post_init__(self) -> None:
        if self.buckets < 2 or self.context_length < 1:
            raise ContrastiveConfigError(
                f"HashTokenizer needs buckets >= 2 and context_length >= 1, got "
                f"{self.buckets} and {self.context_length}"
            )

    def ids(self, text: str) -> list[int]:
        """Token ids of one caption, truncated to ``context_length``."""
        words = _WORD.findall(text.lower())[: self.context_length]
        return [1 + zlib.crc32(w.encode()) % (self.buckets - 1) for w in words]

    def __call__(self, texts: Sequence[str]) -> Tensor:
        """(N, context_length) long tensor, zero-padded on the right."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for i, text in enumerate(texts):
            ids = self.ids(text)
            out[i, : len(ids)] = ids
        return torch.from_numpy(out)


@dataclass(frozen=True)
class SmallClipConfig:
    """Sizes of :class:`SmallCLIP` (the CNN + GRU scale of the CleanCLIP digits study)."""

    embed_dim: int = 64
    """Width of the shared embedding space."""
    widths: tuple[int, ...] = (32, 64, 128)
    """Channels of the conv blocks (each 3x3 conv, BatchNorm, ReLU; pooling between)."""
    image_size: int = 32
    """Images are resized to this square size (pixels)."""
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel mean subtracted after scaling pixels to [0, 1]."""
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel divisor after the mean is subtracted."""
    token_dim: int = 64
    """Width of the word embeddings."""
    text_hidden: int = 128
    """Hidden size of the GRU."""
    tokenizer: HashTokenizer = field(default_factory=HashTokenizer)
    """The word tokenizer (hashed ids)."""
    init_logit_scale: float = math.log(1 / 0.07)
    """Initial log logit scale, CLIP's ln(1/0.07)."""

    def __post_init__(self) -> None:
        if isinstance(self.tokenizer, dict):  # rebuilt from a checkpoint's JSON
            object.__setattr__(self, "tokenizer", HashTokenizer(**self.tokenizer))
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "mean", tuple(self.mean))
        object.__setattr__(self, "std", tuple(self.std))
        if not self.widths or min(self.widths) < 1 or self.embed_dim < 1:
            raise ContrastiveConfigError(
                f"SmallCLIP needs positive widths and embed_dim, got {self.widths}, "
                f"{self.embed_dim}"
            )
        if self.image_size < 2 ** (len(self.widths) - 1):
            raise ContrastiveConfigError(
                f"image_size {self.image_size} is too small for {len(self.widths)} conv blocks"
            )
        if self.image_size > SMALL_CLIP_MAX_SIZE:
            raise ContrastiveConfigError(
                f"image_size {self.image_size} is above SmallCLIP's {SMALL_CLIP_MAX_SIZE} px "
                "(a small model for small images; its activations grow with the square)"
            )


class _ConvTower(nn.Module):
    def __init__(self, cfg: SmallClipConfig):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, w in enumerate(cfg.widths):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(cfg.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, cfg.embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.proj(self.features(x).mean(dim=(2, 3)))
        return out


class _GruTower(nn.Module):
    def __init__(self, cfg: SmallClipConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.tokenizer.buckets, cfg.token_dim, padding_idx=0)
        self.gru = nn.GRU(cfg.token_dim, cfg.text_hidden, batch_first=True)
        self.proj = nn.Linear(cfg.text_hidden, cfg.embed_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        lengths = (tokens != 0).sum(dim=1).clamp(min=1)
        tokens = tokens[:, : int(lengths.max())]  # padding beyond the longest caption is dead
        out, _ = self.gru(self.embed(tokens))
        last = out[torch.arange(out.shape[0], device=out.device), lengths - 1]
        embedded: Tensor = self.proj(last)
        return embedded


class SmallCLIP(ImageTextModel):
    """A CPU-sized CLIP: 3-layer CNN image tower, GRU text tower, hashed words.

    Small enough to train on 32 px images on a few CPU cores: the scale at
    which the CleanCLIP digits study was measured.
    """

    _mean: Tensor
    """Per-channel pixel mean (a non-persistent buffer)."""
    _std: Tensor
    """Per-channel pixel std (a non-persistent buffer)."""

    def __init__(self, config: SmallClipConfig | None = None):
        super().__init__()
        self.config = config or SmallClipConfig()
        self.visual = _ConvTower(self.config)
        self.text = _GruTower(self.config)
        self._logit_scale = nn.Parameter(torch.tensor(float(self.config.init_logit_scale)))
        self.register_buffer(
            "_mean", torch.tensor(self.config.mean).view(3, 1, 1), persistent=False
        )
        self.register_buffer("_std", torch.tensor(self.config.std).view(3, 1, 1), persistent=False)

    @property
    def logit_scale(self) -> nn.Parameter:
        """The learnable log logit scale."""
        return self._logit_scale

    @property
    def image_size(self) -> int:
        """Square input size in pixels."""
        return self.config.image_size

    def encode_image(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) normalised pixels to (N, D) unit vectors."""
        return F.normalize(self.visual(images), dim=-1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """(N, L) hashed word ids to (N, D) unit vectors."""
        return F.normalize(self.text(tokens), dim=-1)

    def preprocess(self, image: Image.Image) -> Tensor:
        """RGB PIL image, resized to ``image_size`` (bicubic) if needed, normalised."""
        size = self.config.image_size
        if image.mode != "RGB":
            image = image.convert("RGB")
        if image.size != (size, size):
            from PIL import Image as PILImage

            image = image.resize((size, size), PILImage.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - self._mean) / self._std

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """Hashed word ids (see :class:`HashTokenizer`)."""
        return self.config.tokenizer(texts)

    def image_tower_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """The CNN's parameters, prefixed as in ``named_parameters``."""
        for name, p in self.visual.named_parameters():
            yield f"visual.{name}", p

    def spec(self) -> dict[str, Any]:
        """``{"kind": "small-clip", "config": {...}}``."""
        return {"kind": "small-clip", "config": asdict(self.config)}
