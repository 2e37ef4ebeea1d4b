"""The model-independent side of an embedding model: numpy in, numpy out."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from geomm.errors import ModelInputError, WeightsError
from geomm.models._registry import ModelInfo

__all__ = ["EmbeddingModel", "check_inputs"]

# Canonical radiometry (ARCHITECTURE.md): S1 gamma0 dB as float (NaN = nodata),
# S2 surface reflectance x 10000 as uint16 (0 = nodata).
_S1_DTYPES = (np.float32, np.float64, np.float16)
_S2_DTYPES = (np.uint16,)


def _check_one(name: str, arr: Any, info: ModelInfo) -> tuple[int, int]:
    if not isinstance(arr, np.ndarray):
        hint = " (call .numpy() on a torch tensor)" if hasattr(arr, "numpy") else ""
        raise ModelInputError(f"{name} must be a numpy array, got {type(arr).__name__}{hint}")
    bands = info.bands[name]
    if arr.ndim != 4 or arr.shape[1] != len(bands):
        raise ModelInputError(
            f"{name} must have shape (N, {len(bands)}, H, W) with bands {', '.join(bands)}; "
            f"got shape {arr.shape}"
        )
    allowed = _S1_DTYPES if name == "s1" else _S2_DTYPES
    if arr.dtype.type not in allowed:
        want = (
            "float32 backscatter in dB (NaN = nodata)"
            if name == "s1"
            else "uint16 surface reflectance x 10000 (0 = nodata)"
        )
        raise ModelInputError(f"{name} must be {want}; got dtype {arr.dtype}")
    h, w = arr.shape[2:]
    if h != w or not info.accepts_chip_size(h):
        sizes = (
            f"one of {', '.join(map(str, info.chip_sizes))} px"
            if info.chip_sizes
            else f"a positive multiple of {info.chip_multiple} px"
        )
        raise ModelInputError(
            f"{name} chips must be square with a side that is {sizes} "
            f"(model {info.name!r}, trained on {info.default_chip_size} px); got {h} x {w}"
        )
    return int(arr.shape[0]), int(h)


def check_inputs(info: ModelInfo, s1: Any, s2: Any) -> tuple[int, int]:
    """Validate the canonical S1/S2 chip arrays against a model's description.

    Returns:
        ``(N, size)``: the number of chips and their side in pixels.

    Raises:
        ModelInputError: no input, a modality the model does not read, wrong
            type, shape, band count or dtype, chips not square or not a multiple
            of ``info.chip_multiple``, or S1 and S2 disagreeing on N or size.
    """
    given = {name: arr for name, arr in (("s1", s1), ("s2", s2)) if arr is not None}
    if not given:
        raise ModelInputError(
            f"nothing to embed: pass s1 and/or s2 (model {info.name!r} reads "
            f"{', '.join(info.modalities)})"
        )
    for name in given:
        if name not in info.modalities:
            raise ModelInputError(
                f"model {info.name!r} does not read {name}; it reads {', '.join(info.modalities)}"
            )
    shapes = {name: _check_one(name, arr, info) for name, arr in given.items()}
    if len(set(shapes.values())) > 1:
        (n1, h1), (n2, h2) = shapes["s1"], shapes["s2"]
        raise ModelInputError(
            f"s1 and s2 must hold the same chips: s1 has {n1} chips of {h1} px, "
            f"s2 has {n2} chips of {h2} px"
        )
    return next(iter(shapes.values()))


class EmbeddingModel(abc.ABC):
    """A loaded embedding model: numpy arrays in, named float32 embeddings out.

    Callers need not import torch. Implementations set the attributes below
    in their constructor and implement :meth:`embed`.
    """

    info: ModelInfo
    """The model's registry description."""
    weights_id: str
    """Identifies the weights, e.g. ``"CROMA_base-0238d814.pt sha256:0238d814..."``
    (first 16 hex of the file's sha256) or ``"random:seed=0"``."""
    precision: str
    """Resolved numeric precision: ``"fp32"``, ``"bf16"`` or ``"int8"``."""
    normalization: str
    """Input normalization in use, one of ``info.normalizations``."""
    device: str
    """Device the model runs on, e.g. ``"cpu"`` or ``"cuda:0"``."""

    @abc.abstractmethod
    def embed(
        self,
        s1: np.ndarray | None,
        s2: np.ndarray | None,
        *,
        outputs: Sequence[str] | None = None,
        tokens: bool = False,
    ) -> dict[str, np.ndarray]:
        """Embed a batch of chips.

        Args:
            s1: ``(N, len(info.bands["s1"]), H, W)`` float32 backscatter in dB
                in ``info.bands["s1"]`` order (e.g. VV, VH), NaN = nodata.
            s2: ``(N, len(info.bands["s2"]), H, W)`` uint16 surface reflectance
                x 10000 in ``info.bands["s2"]`` order, 0 = nodata.
            outputs: embedding names to compute; default every one the given
                inputs allow.
            tokens: also return per-patch encodings as ``<name>_tokens``
                ``(N, P, D)`` arrays.

        Returns:
            Name -> float32 ``(N, D)`` array (plus ``(N, P, D)`` token arrays).

        Raises:
            ModelInputError: inputs or output names the model cannot take.
        """

    def check_inputs(self, s1: Any, s2: Any) -> tuple[int, int]:
        """Validate inputs against :attr:`info`; ``(N, size)`` (see :func:`check_inputs`)."""
        return check_inputs(self.info, s1, s2)

    def checkpoint_state(self) -> dict[str, dict[str, Any]]:
        """The weights as named state dicts, for :func:`geomm.models.save_checkpoint`.

        Raises:
            WeightsError: the model does not support saving (the default).
        """
        raise WeightsError(f"model {self.info.name!r} does not support saving checkpoints")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.info.name!r}, weights_id={self.weights_id!r}, "
            f"precision={self.precision!r}, normalization={self.normalization!r}, "
            f"device={self.device!r})"
        )
