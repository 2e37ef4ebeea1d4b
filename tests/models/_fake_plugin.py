"""A third-party style plugin, registered in tests through a faked entry point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geomm.models import EmbeddingModel, ModelInfo


class BandMeans(EmbeddingModel):
    """Embeds an S2 chip as its per-band means (numpy only)."""

    def __init__(self, info: ModelInfo, weights: object, seed: int):
        self.info = info
        self.weights_id = f"none:{weights}:{seed}"
        self.precision = "fp32"
        self.normalization = "ssl4eo"
        self.device = "cpu"

    def embed(
        self,
        s1: np.ndarray | None,
        s2: np.ndarray | None,
        *,
        outputs: Sequence[str] | None = None,
        tokens: bool = False,
    ) -> dict[str, np.ndarray]:
        self.check_inputs(s1, s2)
        return {"optical": s2.mean(axis=(2, 3), dtype=np.float64).astype(np.float32)}


class BandMeansPlugin:
    info = ModelInfo(
        name="band-means",
        description="per-band means of S2 (test plugin)",
        modalities=("s2",),
        bands={"s2": ("B02", "B03", "B04", "B08")},
        chip_multiple=4,
        default_chip_size=32,
        embeddings={"optical": 4},
        default_embedding="optical",
        normalizations=("ssl4eo",),
        weights=None,
    )

    def load(self, weights, *, precision, normalization, device, seed, download):
        return BandMeans(self.info, weights, seed)


PLUGIN = BandMeansPlugin()
NOT_A_PLUGIN = object()
