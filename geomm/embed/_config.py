"""What an embedding run does, as plain data that travels to Dask workers.

The model itself never enters a task graph (FIELD-NOTES: pickling a large
model into every task stalls a cluster). Tasks carry a :class:`ModelSpec`,
and each process turns it into a model once (:func:`ModelSpec.load`, cached
per process), so a worker loads its model a single time however many blocks
it embeds.

Nothing here knows a particular model: the model's :class:`ModelInfo`
says which normalization is its default, which inputs each embedding needs
and which chip sizes it takes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from geomm._extras import requires_extra
from geomm._resources import offline
from geomm.errors import EmbedError
from geomm.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from geomm.models import EmbeddingModel, ModelInfo

__all__ = ["EmbedConfig", "EmbedError", "ModelSpec", "required_inputs"]


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run, and how."""

    name: str = DEFAULT_MODEL
    """Registered model name (``geomm models`` lists them)."""
    weights: str | None = None
    """``None``: the model's published weights; ``"random"``; or a checkpoint path."""
    precision: str = "auto"
    """``fp32``, ``bf16``, ``int8`` or ``auto`` (bf16 where the hardware is fast at it)."""
    normalization: str | None = None
    """Input normalization, one of the model's ``ModelInfo.normalizations``;
    ``None``: the model's default (the first). A run records the one it used."""
    seed: int = 0
    """Seed of ``weights="random"``."""
    download: bool = field(default_factory=lambda: not offline())
    """Fetch published weights that are not in the torch hub cache yet
    (default: yes, unless ``GEOMM_OFFLINE=1``)."""

    def load(self) -> EmbeddingModel:
        """The model, loaded once per process and spec."""
        return _load(self)

    def check(self) -> ModelInfo:
        """Fail early, without loading the model.

        Catches an unknown model, a normalization it does not offer, a
        missing weights file, or a model without published weights and none
        given.

        Returns:
            The model's info.
        """
        with requires_extra("models", feature="an embedding model"):
            from geomm.models import model_info

            info = model_info(self.name)
        if self.normalization is not None and self.normalization not in info.normalizations:
            raise EmbedError(
                f"model {self.name!r} offers normalizations {list(info.normalizations)}, got "
                f"normalization={self.normalization!r}"
            )
        if self.weights is None and info.weights is None:
            raise EmbedError(
                f"{self.name} has no published weights; pass weights=PATH (a checkpoint) "
                "or weights='random' (untrained, for testing the pipeline)"
            )
        if self.weights not in (None, "random") and not Path(self.weights).is_file():
            what = "is a folder" if Path(self.weights).is_dir() else "does not exist"
            raise EmbedError(
                f"weights file {self.weights!r} {what}; pass a checkpoint file, or 'random'"
            )
        return info

    def resolved(self, info: ModelInfo) -> ModelSpec:
        """This spec with the model's default normalization filled in."""
        if self.normalization is not None:
            return self
        return dataclasses.replace(self, normalization=info.normalizations[0])


@functools.lru_cache(maxsize=2)
def _load(spec: ModelSpec) -> EmbeddingModel:
    with requires_extra("models", feature="an embedding model"):
        from geomm.models import load_model

        return load_model(
            spec.name,
            spec.weights,
            precision=spec.precision,
            normalization=spec.normalization,
            seed=spec.seed,
            download=spec.download,
        )


@dataclass(frozen=True)
class EmbedConfig:
    """Everything that shapes an embedding table besides the cube and the AOI."""

    model: ModelSpec = field(default_factory=ModelSpec)
    """The model to run."""
    embeddings: tuple[str, ...] | None = None
    """Embeddings to store (e.g. ``("joint", "sar", "optical")``); the first one
    fills the ``embedding`` column. Default: the model's default embedding."""
    min_clear: float = 0.9
    """Skip a chip-time whose share of clear S2 pixels is below this (when an
    embedding needs S2): clouds and shadows would dominate its optical input."""
    min_s1_coverage: float = 0.9
    """Skip a chip-time whose share of valid S1 pixels is below this (when an
    embedding needs S1), e.g. at the edge of a swath or an unpaired date."""
    batch_size: int = 16
    """Chips per forward pass."""

    def __post_init__(self) -> None:
        for name in ("min_clear", "min_s1_coverage"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise EmbedError(f"{name} must be a fraction in [0, 1], got {value}")
        if self.batch_size < 1:
            raise EmbedError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.embeddings is not None and not self.embeddings:
            raise EmbedError("embeddings must name at least one embedding, or be None")

    def columns(self, info: ModelInfo) -> tuple[str, ...]:
        """The embeddings to compute for ``info``'s model, default first.

        Raises:
            EmbedError: a requested embedding the model does not produce.
        """
        names = tuple(self.embeddings or (info.default_embedding,))
        unknown = [n for n in names if n not in info.embeddings]
        if unknown:
            raise EmbedError(
                f"model {info.name!r} has no embedding(s) {unknown}; it produces "
                f"{sorted(info.embeddings)}"
            )
        return names

    def resolved(self, info: ModelInfo) -> EmbedConfig:
        """This config with the model's defaults filled in (see :meth:`ModelSpec.resolved`).

        A run fingerprints and records the resolved config, so leaving a
        default out and naming it give the same run.
        """
        model = self.model.resolved(info)
        return self if model is self.model else dataclasses.replace(self, model=model)

    def fingerprint(self) -> str:
        """Hash of every setting that changes the table's content."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def required_inputs(info: ModelInfo, names: Sequence[str]) -> frozenset[str]:
    """Modalities (``s1``, ``s2``) that the embeddings ``names`` need.

    As the model declares them (``ModelInfo.requires``); an embedding it
    does not list needs every modality the model reads.
    """
    return info.needs(names)
