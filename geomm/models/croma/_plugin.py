"""CROMA's registry entries: architecture sizes, published weights, plugin objects.

Importing this module must stay cheap (no torch, no torchgeo): the registry
imports it to list models. The URLs are those of torchgeo's
``CROMABase_Weights`` / ``CROMALarge_Weights`` (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomm.errors import ModelInputError
from geomm.models._registry import ModelInfo, WeightsSource

if TYPE_CHECKING:
    from geomm.models.croma._model import CromaModel

__all__ = [
    "COMPONENTS",
    "CROMA_BASE",
    "CROMA_LARGE",
    "CROMA_TINY",
    "S1_BANDS",
    "S2_BANDS",
    "CromaArch",
    "CromaPlugin",
]

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
"""Sentinel-2 bands in CROMA order (B10 cirrus dropped)."""

S1_BANDS = ("VV", "VH")
"""Sentinel-1 polarisations in CROMA order."""

COMPONENTS = ("s1_encoder", "s1_GAP_FFN", "s2_encoder", "s2_GAP_FFN", "joint_encoder")
"""Top-level keys of the released checkpoint layout (use_croma.py, torchgeo)."""

PATCH_SIZE = 8
"""CROMA's patch side in pixels (torchgeo's ViT hard-codes it): the chip multiple."""

OUTPUT_NEEDS = {"sar": ("s1",), "optical": ("s2",), "joint": ("s1", "s2")}
"""Embedding name -> inputs it needs (``ModelInfo.requires``)."""

NUM_HEADS = 16
"""Attention heads; torchgeo's ViT always uses 16, so the width must divide by 16."""


@dataclass(frozen=True)
class CromaArch:
    """Sizes of a CROMA network (torchgeo's ``CROMA`` arguments)."""

    dim: int
    """Token width (768 base, 1024 large)."""
    depth: int
    """Optical encoder layers; the radar and joint encoders get ``depth // 2``."""

    def __post_init__(self) -> None:
        if self.dim % NUM_HEADS or self.dim < NUM_HEADS:
            raise ModelInputError(
                f"CROMA width must be a positive multiple of {NUM_HEADS} (heads), got {self.dim}"
            )
        if self.depth < 2 or self.depth % 2:
            raise ModelInputError(f"CROMA depth must be even and >= 2, got {self.depth}")

    @property
    def radar_depth(self) -> int:
        """Layers of the S1 encoder and of the joint encoder."""
        return self.depth // 2


def _info(name: str, arch: CromaArch, weights: WeightsSource | None, what: str) -> ModelInfo:
    return ModelInfo(
        name=name,
        description=(
            f"CROMA {what} (radar-optical ViT/8, width {arch.dim}, optical {arch.depth} / "
            f"radar {arch.radar_depth} / joint {arch.radar_depth} layers), via torchgeo"
        ),
        modalities=("s1", "s2"),
        bands={"s1": S1_BANDS, "s2": S2_BANDS},
        chip_multiple=PATCH_SIZE,
        default_chip_size=120,
        embeddings={"sar": arch.dim, "optical": arch.dim, "joint": arch.dim},
        default_embedding="joint",
        normalizations=("ssl4eo", "reference"),
        weights=weights,
        requires=OUTPUT_NEEDS,
        cube_variables=("s1", "s2", "clear"),
    )


@dataclass(frozen=True)
class CromaPlugin:
    """A CROMA size as a ``geomm.models`` plugin (see :mod:`geomm.models`)."""

    info: ModelInfo
    """Registry description."""
    arch: CromaArch
    """Network sizes."""

    def load(
        self,
        weights: str | Path | None = None,
        *,
        precision: str = "auto",
        normalization: str = "ssl4eo",
        device: str = "cpu",
        seed: int = 0,
        download: bool = True,
    ) -> CromaModel:
        """Build the model; see :func:`geomm.models.load_model` for the arguments."""
        from geomm.models.croma._model import load_croma

        return load_croma(
            self,
            weights,
            precision=precision,
            normalization=normalization,
            device=device,
            seed=seed,
            download=download,
        )


_BASE = CromaArch(dim=768, depth=12)
_LARGE = CromaArch(dim=1024, depth=24)
_TINY = CromaArch(dim=128, depth=2)

CROMA_BASE = CromaPlugin(
    info=_info(
        "croma-base",
        _BASE,
        WeightsSource(
            url="https://hf.co/torchgeo/croma/resolve/387883f08af79d777167519c57cd826eda89a16f/CROMA_base-0238d814.pt",
            file_name="CROMA_base-0238d814.pt",
            sha256_prefix="0238d814",
        ),
        "base, SSL4EO-S12 weights",
    ),
    arch=_BASE,
)
"""CROMA ViT-B/8 (194M parameters) with the published weights (778 MB)."""

CROMA_LARGE = CromaPlugin(
    info=_info(
        "croma-large",
        _LARGE,
        WeightsSource(
            url="https://huggingface.co/torchgeo/croma/resolve/92cb1a0f4e34c6c01558baf070197c01255382f6/CROMA_large-921e69ad.pt",
            file_name="CROMA_large-921e69ad.pt",
            sha256_prefix="921e69ad",
        ),
        "large, SSL4EO-S12 weights",
    ),
    arch=_LARGE,
)
"""CROMA ViT-L/8 with the published weights."""

CROMA_TINY = CromaPlugin(
    info=_info("croma-tiny", _TINY, None, "tiny, no published weights (tests, pretraining)"),
    arch=_TINY,
)
"""A tiny CROMA of the same architecture (width 128, head width 8), no published weights."""
