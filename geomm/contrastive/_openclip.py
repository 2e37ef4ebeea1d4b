"""Adapter from any open_clip model to :class:`~geomm.contrastive.ImageTextModel`.

``open_clip`` is imported here only, when an adapter is built, so importing
:mod:`geomm.contrastive` stays light. The adapter uses open_clip's own
tokenizer and its own eval preprocessing (resize, center crop, normalise with
the model's mean and std), and exposes the model's ``logit_scale`` parameter,
so the recipes train the wrapped model as it is.

geomm runs offline: ``pretrained`` is None (random initialisation, as in the
tests) or a local checkpoint file; an open_clip pretrained *tag* would
download and is refused.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch.nn.functional as F
from torch import Tensor, nn

from geomm.contrastive._encoders import ImageTextModel
from geomm.contrastive._errors import CheckpointError, ContrastiveConfigError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["OpenClipModel"]


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ContrastiveConfigError(
            "open_clip is not installed; install geomm's contrastive extra: "
            "pip install 'geomm[contrastive]'"
        ) from e
    return open_clip


_PRETRAINED_ERRORS = (
    OSError,
    RuntimeError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)
"""What open_clip's loading of a local file raises when the file is not a checkpoint of it."""


class OpenClipModel(ImageTextModel):
    """An open_clip CLIP (``CLIP`` or ``CustomTextCLIP``) as an image-text dual encoder.

    Args:
        name: an open_clip architecture, e.g. ``RN50`` or ``ViT-B-32``
            (``open_clip.list_models()`` lists them).
        pretrained: None for random weights, or a local open_clip checkpoint file.
        image_size: override the architecture's input size (e.g. a small size
            for fast tests); None keeps it.
    """

    def __init__(
        self,
        name: str,
        *,
        pretrained: str | os.PathLike[str] | None = None,
        image_size: int | None = None,
    ):
        super().__init__()
        oc = _open_clip()
        if name not in oc.list_models():
            close = [m for m in oc.list_models() if name.lower() in m.lower()][:8]
            raise ContrastiveConfigError(
                f"open_clip has no architecture {name!r}"
                + (f"; similar: {close}" if close else "")
                + " (open_clip.list_models() lists them)"
            )
        weights = None
        if pretrained is not None:
            path = Path(pretrained).expanduser()
            if not path.is_file():
                raise ContrastiveConfigError(
                    f"pretrained={str(pretrained)!r} is not a local file; geomm works offline, "
                    "so give a downloaded open_clip checkpoint file, or None for random weights"
                )
            weights = str(path)
        self.name = name
        self.pretrained = weights
        self._image_size_override = image_size
        try:
            self.model = oc.create_model(
                name,
                pretrained=weights,
                force_image_size=image_size,
                pretrained_image=False,
                pretrained_text=False,
            )
        except _PRETRAINED_ERRORS as e:
            if weights is None:
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"pretrained checkpoint {weights} does not load into open_clip's {name!r} "
                f"({first}); give an open_clip checkpoint file of that architecture"
            ) from e
        try:
            self._tokenizer = oc.get_tokenizer(name)
        except (OSError, ValueError, RuntimeError) as e:
            raise ContrastiveConfigError(
                f"cannot build open_clip's tokenizer for {name!r} offline ({e}); architectures "
                "with a Hugging Face tokenizer need it in the local HF cache"
            ) from e
        cfg = oc.get_model_preprocess_cfg(self.model)
        from open_clip.transform import PreprocessCfg, image_transform_v2

        known = set(PreprocessCfg.__dataclass_fields__)
        self._preprocess = image_transform_v2(
            PreprocessCfg(**{k: v for k, v in cfg.items() if k in known}), is_train=False
        )

    @property
    def logit_scale(self) -> nn.Parameter:
        """The wrapped model's learnable log logit scale."""
        scale: nn.Parameter = self.model.logit_scale
        return scale

    @property
    def image_size(self) -> int:
        """Square input size of the image tower."""
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, tuple | list) else size)

    def encode_image(self, images: Tensor) -> Tensor:
        """open_clip's ``encode_image``, L2-normalised."""
        features: Tensor = self.model.encode_image(images)
        return F.normalize(features, dim=-1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """open_clip's ``encode_text``, L2-normalised."""
        features: Tensor = self.model.encode_text(tokens)
        return F.normalize(features, dim=-1)

    def preprocess(self, image: Image.Image) -> Tensor:
        """open_clip's eval transform for this model (resize, crop, normalise)."""
        pixels: Tensor = self._preprocess(image)
        return pixels

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """open_clip's tokenizer for this architecture."""
        tokens: Tensor = self._tokenizer(list(texts)).long()
        return tokens

    def image_tower_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Parameters of ``model.visual``."""
        for n, p in self.model.visual.named_parameters():
            yield f"model.visual.{n}", p

    def spec(self) -> dict[str, Any]:
        """``{"kind": "open_clip", "name": ..., "image_size": ...}``; weights are separate."""
        return {"kind": "open_clip", "name": self.name, "image_size": self._image_size_override}
