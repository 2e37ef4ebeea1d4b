"""Model records and the entry-point registry (no torch here).

``list_models`` and ``model_info`` only import the plugin objects named by the
``geomm.models`` entry points; those must stay light (torch is imported inside
``ModelPlugin.load``), so listing models costs milliseconds.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from geomm._resources import offline
from geomm.errors import ModelInputError, ModelNotFoundError, ModelPluginError

if TYPE_CHECKING:
    from geomm.models._embedding import EmbeddingModel

__all__ = [
    "DEFAULT_MODEL",
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

DEFAULT_MODEL = "croma-base"
"""The model that embedding runs use when the caller names none."""


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
    """What a model takes and gives: enough to prepare inputs without loading it.

    Everything that cuts chips for a model and runs it (:mod:`geomm.embed`)
    reads this record and nothing else about the model: its inputs and their
    bands, how its input is normalized, which chip sizes it accepts, which
    cube variables it needs and which inputs each embedding needs.
    """

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
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Embedding name -> the modalities it needs (``{"sar": ("s1",)}``); an
    embedding not listed needs every modality in :attr:`modalities`."""
    chip_sizes: tuple[int, ...] = ()
    """Chip sizes in pixels the model accepts, when it takes only some (a
    fixed position embedding, say); empty: any multiple of :attr:`chip_multiple`."""
    cube_variables: tuple[str, ...] = ()
    """Cube variables the model's chips are read from; empty (the default)
    becomes the modalities plus ``clear`` when ``s2`` is one (the cloud mask
    that decides which S2 chips are clear enough)."""

    def __post_init__(self) -> None:
        # Own copies (plain dicts stay picklable for Dask workers).
        bands = {str(k): tuple(v) for k, v in self.bands.items()}
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "embeddings", {str(k): int(v) for k, v in self.embeddings.items()})
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "normalizations", tuple(self.normalizations))
        object.__setattr__(self, "requires", {str(k): tuple(v) for k, v in self.requires.items()})
        object.__setattr__(self, "chip_sizes", tuple(int(s) for s in self.chip_sizes))
        variables = tuple(self.cube_variables) or (
            *self.modalities,
            *(("clear",) if "s2" in self.modalities else ()),
        )
        object.__setattr__(self, "cube_variables", variables)
        problem = self._problem()
        if problem:
            raise ModelInputError(f"model {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        """What makes this record inconsistent, or None."""
        missing = [m for m in self.modalities if m not in self.bands]
        if missing:
            return f"no band list for modalities {missing}"
        if self.default_embedding not in self.embeddings:
            return (
                f"default_embedding {self.default_embedding!r} is not one of its embeddings "
                f"{sorted(self.embeddings)}"
            )
        if self.chip_multiple < 1 or self.default_chip_size % self.chip_multiple:
            return (
                f"default_chip_size {self.default_chip_size} is not a multiple of "
                f"chip_multiple {self.chip_multiple}"
            )
        if not self.normalizations:
            return "at least one normalization is needed"
        unknown = {k: v for k, v in self.requires.items() if k not in self.embeddings}
        strange = {k: v for k, v in self.requires.items() if set(v) - set(self.modalities)}
        if unknown or strange:
            return (
                f"requires names embeddings {sorted(unknown)} it does not give or modalities "
                f"it does not read ({strange}); it gives {sorted(self.embeddings)} from "
                f"{list(self.modalities)}"
            )
        odd = [s for s in self.chip_sizes if s < 1 or s % self.chip_multiple]
        if odd or (self.chip_sizes and self.default_chip_size not in self.chip_sizes):
            return (
                f"chip_sizes {list(self.chip_sizes)} must be multiples of chip_multiple "
                f"{self.chip_multiple} and include default_chip_size {self.default_chip_size}"
            )
        return None

    def __hash__(self) -> int:
        # The generated hash would fail on the dict fields.
        return hash((self.name, tuple(self.bands.items()), tuple(self.embeddings.items())))

    def needs(self, embeddings: Sequence[str]) -> frozenset[str]:
        """The modalities that computing ``embeddings`` takes (see :attr:`requires`)."""
        needed: set[str] = set()
        for name in embeddings:
            needed.update(self.requires.get(name) or self.modalities)
        return frozenset(needed)

    def accepts_chip_size(self, size: int) -> bool:
        """Whether chips of ``size`` pixels fit the model (multiple, allowed sizes)."""
        if self.chip_sizes:
            return size in self.chip_sizes
        return size >= self.chip_multiple and size % self.chip_multiple == 0

    def chip_size_near(self, size: int) -> int:
        """The accepted chip size closest to ``size`` (the smaller one on a tie)."""
        if self.chip_sizes:
            return min(self.chip_sizes, key=lambda s: (abs(s - size), s))
        m = self.chip_multiple
        below = max(m, size // m * m)
        above = below + m
        return below if size - below <= above - size else above

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
    if (
        not isinstance(info, ModelInfo)
        or not isinstance(plugin, ModelPlugin)
        or not callable(plugin.load)
    ):
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
    normalization: str | None = None,
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
        normalization: one of ``ModelInfo.normalizations``; None: the model's
            default (the first).
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
    if normalization is None:
        normalization = plugin.info.normalizations[0]
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
