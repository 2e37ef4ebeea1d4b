"""Build image-text models by name and save/load them as checkpoints.

Names: ``small-clip`` (the built-in :class:`~geomm.contrastive.SmallCLIP`) or
``open_clip:<arch>`` (any open_clip architecture, e.g. ``open_clip:RN50``),
with ``pretrained`` None or a local open_clip checkpoint file.

A geomm checkpoint is one ``torch.save`` file holding the architecture spec
(so it rebuilds without the original options), the weights, and, for
training runs, the optimizer and RNG state that ``resume=True`` needs. It loads
with ``weights_only=True``.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from geomm.contrastive._encoders import ImageTextModel, SmallCLIP, SmallClipConfig
from geomm.contrastive._errors import CheckpointError, ContrastiveConfigError, check_seed

__all__ = [
    "CHECKPOINT_FORMAT",
    "build_model",
    "create_model",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "geomm.contrastive.checkpoint/1"
"""Value of the ``format`` key of every geomm contrastive checkpoint."""

_OPEN_CLIP_PREFIXES = ("open_clip:", "open-clip:", "openclip:")

_LOAD_ERRORS = (
    OSError,
    RuntimeError,
    EOFError,
    ValueError,
    KeyError,  # a text file: torch's legacy reader looks up a persistent id
    IndexError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)
"""What ``torch.load(weights_only=True)`` raises for a file that is no checkpoint."""


def create_model(
    name: str = "small-clip",
    *,
    pretrained: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    seed: int | None = None,
) -> ImageTextModel:
    """Build an image-text model by name.

    Args:
        name: ``small-clip`` or ``open_clip:<architecture>``.
        pretrained: open_clip only: None (random) or a local checkpoint file.
            For ``small-clip`` it may name a geomm checkpoint to start from.
        image_size: override the input size (open_clip) or SmallCLIP's size.
        seed: seeds the random initialisation (the global torch RNG is restored after).

    Raises:
        ContrastiveConfigError: unknown name, or a pretrained tag (offline).
    """
    if seed is not None:
        check_seed("seed", seed)
    with torch.random.fork_rng(devices=[]):  # seeding leaves the caller's RNG alone
        if seed is not None:
            torch.manual_seed(seed)
        return _create(name, pretrained=pretrained, image_size=image_size)


def _create(
    name: str, *, pretrained: str | os.PathLike[str] | None, image_size: int | None
) -> ImageTextModel:
    if name in ("small-clip", "small_clip", "smallclip"):
        if pretrained is not None:
            return load_model(pretrained)
        cfg = SmallClipConfig() if image_size is None else SmallClipConfig(image_size=image_size)
        return SmallCLIP(cfg)
    for prefix in _OPEN_CLIP_PREFIXES:
        if name.startswith(prefix):
            from geomm.contrastive._openclip import OpenClipModel

            return OpenClipModel(name[len(prefix) :], pretrained=pretrained, image_size=image_size)
    raise ContrastiveConfigError(
        f"unknown model {name!r}; use 'small-clip' or 'open_clip:<architecture>' "
        "(e.g. open_clip:RN50, open_clip:ViT-B-32)"
    )


def build_model(spec: dict[str, Any]) -> ImageTextModel:
    """Rebuild an (untrained) architecture from :meth:`ImageTextModel.spec` output.

    Raises:
        CheckpointError: the spec is not one :meth:`ImageTextModel.spec` writes.
    """
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "small-clip":
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise CheckpointError(f"its SmallCLIP config is a {type(config).__name__}, not a dict")
        try:
            return SmallCLIP(SmallClipConfig(**config))
        except TypeError as e:  # options this geomm does not know
            raise CheckpointError(f"its SmallCLIP config does not fit this geomm ({e})") from e
    if kind == "open_clip":
        from geomm.contrastive._openclip import OpenClipModel

        if not isinstance(spec.get("name"), str):
            raise CheckpointError("its open_clip spec has no architecture name")
        return OpenClipModel(spec["name"], pretrained=None, image_size=spec.get("image_size"))
    raise CheckpointError(f"checkpoint names an unknown model kind {kind!r}")


def save_checkpoint(path: str | os.PathLike[str], model: ImageTextModel, **extra: Any) -> Path:
    """Write a checkpoint atomically (a partial file never replaces a good one)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "spec": model.spec(),
            "state_dict": model.state_dict(),
            **extra,
        },
        tmp,
    )
    os.replace(tmp, out)
    return out


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint's dictionary (weights-only unpickling).

    Raises:
        CheckpointError: missing, unreadable, or not a geomm contrastive checkpoint.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "checkpoint.pt"
    if not p.is_file():
        raise CheckpointError(
            f"no checkpoint at {p}; give a run folder (holding checkpoint.pt) or the file"
        )
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as e:  # torch.load's errors for bytes that are no checkpoint
        raise CheckpointError(
            f"cannot read checkpoint {p} ({_first_line(e)}); give a checkpoint.pt that train "
            "wrote (geomm cleanclip pretrain/finetune), or its run folder"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p} is not a geomm contrastive checkpoint (format {CHECKPOINT_FORMAT!r}); "
            "an open_clip checkpoint is given as pretrained=... to an 'open_clip:<arch>' model"
        )
    ckpt["path"] = str(p)
    return ckpt


def load_model(path: str | os.PathLike[str]) -> ImageTextModel:
    """Rebuild a model from a checkpoint, in eval mode.

    Raises:
        CheckpointError: unreadable, or its spec or weights do not make a model.
    """
    ckpt = load_checkpoint(path)
    where = ckpt["path"]
    if not isinstance(ckpt.get("spec"), dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(
            f"checkpoint {where} lacks its model spec or weights (a dict 'spec' and "
            "'state_dict'); it is damaged or not written by geomm: train again"
        )
    try:
        model = build_model(ckpt["spec"])
    except CheckpointError as e:
        raise CheckpointError(f"checkpoint {where}: {e}") from e
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(
            f"weights in {where} do not fit their architecture: {_first_line(e)}"
        ) from e
    return model.eval()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
