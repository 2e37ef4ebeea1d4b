"""Model records and the entry-point registry (no torch here).

``list_models`` and ``model_info`` only import the plugin objects named by the
``geomm.models`` entry points; those must stay light (torch is imported inside
``ModelPlugin.load``), so listing models costs milliseconds.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from geomm._resources import offline
from geomm.errors import ModelInputError, ModelNotFoundError, ModelPluginError

if TYPE_CHECKING:
    from geomm.models._embedding import EmbeddingModel

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelInfo",
    "ModelPlugin",
    "WeightsSource",
    "hub_checkpoints_dir",
    "list_models",
    "load_model",
    "model_info",
]

ENTRY_POINT_GROUP = "geomm.models"
"""Entry-point group that model plugins register in."""


def hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``, computed without importing torch.

    Follows torch's rule: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``,
    else ``~/.cache/torch/hub``. When torch is already imported its own
    ``torch.hub.get_dir()`` answers, so a ``torch.hub.set_dir`` is honoured too.
    """
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "hub"):
        return Path(torch.hub.get_dir()) / "checkpoints"
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch"
    )
    return Path(home).expanduser() / "hub" / "checkpoints"


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's published weights come from (torch.hub conventions)."""

    url: str
    """Download URL, pinned to a revision."""
    file_name: str
    """Name of the file in the torch hub cache (``<hub>/checkpoints/<file_name>``)."""
    sha256_prefix: str | None = None
    """Leading hex digits of the file's sha256 (the hex after the name's last dash)."""

    def __post_init__(self) -> None:
        if not self.file_name or "/" in self.file_name or "\\" in self.file_name:
            raise ModelInputError(
                f"WeightsSource.file_name must be a bare file name, got {self.file_name!r}"
            )
        prefix = self.sha256_prefix
        if prefix is not None and (
            len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix)
        ):
            raise ModelInputError(
                f"WeightsSource.sha256_prefix must be >= 8 lowercase hex digits, got {prefix!r}"
            )


@dataclass(frozen=True)
class ModelInfo:
    """What a model takes and gives: enough to prepare inputs without loading it."""

    name: str
    """Registry name (the entry-point name), e.g. ``croma-base``."""
    description: str
    """One line for listings."""
    modalities: tuple[str, ...]
    """Input arrays the model reads, e.g. ``("s1", "s2")``."""
    bands: Mapping[str, tuple[str, ...]]
    """Modality -> band names in the order the arrays must have."""
    chip_multiple: int
    """Chip height and width must be a multiple of this (the patch size)."""
    default_chip_size: int
    """Chip size in pixels the model was trained on."""
    embeddings: Mapping[str, int]
    """Embedding name -> vector length, e.g. ``{"sar": 768, "optical": 768, "joint": 768}``."""
    default_embedding: str
    """Embedding to use when the caller names none."""
    normalizations: tuple[str, ...]
    """Input normalizations the model offers; the first is the default."""
    weights: WeightsSource | None = None
    """Published weights, or None when the model has no published file."""

    def __post_init__(self) -> None:
        # Own copies (plain dicts stay picklable for Dask workers).
        bands = {str(k): tuple(v) for k, v in self.bands.items()}
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "embeddings", {str(k): int(v) for k, v in self.embeddings.items()})
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "normalizations", tuple(self.normalizations))
        missing = [m for m in self.modalities if m not in self.bands]
        if missing:
            raise ModelInputError(f"model {self.name!r}: no band list for modalities {missing}")
        if self.default_embedding not in self.embeddings:
            raise ModelInputError(
                f"model {self.name!r}: default_embedding {self.default_embedding!r} is not "
                f"one of its embeddings {sorted(self.embeddings)}"
            )
        if self.chip_multiple < 1 or self.default_chip_size % self.chip_multiple:
            raise ModelInputError(
                f"model {self.name!r}: default_chip_size {self.default_chip_size} is not a "
                f"multiple of chip_multiple {self.chip_multiple}"
            )
        if not self.normalizations:
            raise ModelInputError(f"model {self.name!r}: at least one normalization is needed")

    def __hash__(self) -> int:
        # The generated hash would fail on the dict fields.
        return hash((self.name, tuple(self.bands.items()), tuple(self.embeddings.items())))

    def weights_path(self) -> Path | None:
        """The published weights file in the torch hub cache, if it is there.

        Looks at ``torch.hub.get_dir()/checkpoints/<file_name>`` (``$TORCH_HOME``
        honoured) without importing torch; None when the model has no published
        weights or the file is not cached.
        """
        if self.weights is None:
            return None
        path = hub_checkpoints_dir() / self.weights.file_name
        return path if path.is_file() else None


@runtime_checkable
class ModelPlugin(Protocol):
    """What an entry point in the ``geomm.models`` group must resolve to."""

    info: ModelInfo
    """The model's description; available without importing torch."""

    def load(
        self,
        weights: str | Path | None,
        *,
        precision: str,
        normalization: str,
        device: str,
        seed: int,
        download: bool,
    ) -> EmbeddingModel:
        """Build the model (this is where heavy imports belong); see :func:`load_model`."""
        ...


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # first distribution wins on a name clash
    return found


def _resolve(ep: importlib.metadata.EntryPoint) -> ModelPlugin:
    try:
        plugin = ep.load()
    except Exception as e:  # any import failure inside a third-party package
        raise ModelPluginError(
            f"model plugin {ep.name!r} ({ep.value}) failed to import: {type(e).__name__}: {e}"
        ) from e
    info = getattr(plugin, "info", None)
    if not isinstance(info, ModelInfo) or not callable(getattr(plugin, "load", None)):
        raise ModelPluginError(
            f"entry point {ep.name!r} ({ep.value}) is not a geomm model plugin: it needs an "
            "`info` ModelInfo attribute and a `load(weights, *, precision, normalization, "
            "device, seed, download)` method"
        )
    if info.name != ep.name:
        raise ModelPluginError(
            f"entry point {ep.name!r} ({ep.value}) describes a model named {info.name!r}; "
            "the entry-point name and ModelInfo.name must agree"
        )
    return plugin


def _plugin(name: str) -> ModelPlugin:
    eps = _entry_points()
    if name not in eps:
        raise ModelNotFoundError(name, sorted(eps))
    return _resolve(eps[name])


def list_models() -> list[ModelInfo]:
    """Every model registered in the ``geomm.models`` entry-point group, sorted by name.

    Raises:
        ModelPluginError: an installed plugin fails to import or is malformed.
    """
    eps = _entry_points()
    return [_resolve(eps[name]).info for name in sorted(eps)]


def model_info(name: str) -> ModelInfo:
    """The description of one registered model.

    Raises:
        ModelNotFoundError: no plugin has that name (the message lists those that exist).
    """
    return _plugin(name).info


def load_model(
    name: str,
    weights: str | Path | None = None,
    *,
    precision: str = "auto",
    normalization: str = "ssl4eo",
    device: str = "cpu",
    seed: int = 0,
    download: bool | None = None,
) -> EmbeddingModel:
    """Load a registered embedding model, ready for :meth:`EmbeddingModel.embed`.

    Args:
        name: registry name, e.g. ``"croma-base"`` (see :func:`list_models`).
        weights: None for the model's published weights (torch hub cache, then
            download), ``"random"`` for a seeded random initialisation, or the
            path of a checkpoint file.
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"int8"`` (the model
            says which it supports; ``.precision`` tells what ``auto`` became).
        normalization: one of ``ModelInfo.normalizations``.
        device: torch device string, ``"cpu"`` or ``"cuda"``, ``"cuda:1"``...
        seed: seed of the random initialisation when ``weights="random"``.
        download: allow downloading published weights missing from the cache;
            default yes, unless the environment says ``GEOMM_OFFLINE=1``.

    Raises:
        ModelNotFoundError: unknown name.
        ModelInputError: an option the model does not offer.
        WeightsError: weights missing, unreadable or not fitting the model.
    """
    plugin = _plugin(name)
    if normalization not in plugin.info.normalizations:
        raise ModelInputError(
            f"model {name!r} offers normalizations {list(plugin.info.normalizations)}, "
            f"got {normalization!r}"
        )
    return plugin.load(
        weights,
        precision=precision,
        normalization=normalization,
        device=device,
        seed=seed,
        download=(not offline()) if download is None else download,
    )
