"""Third-party model plugins, registered the way any package would register one.

The folder holding this module and its ``.dist-info`` is put on
``PYTHONPATH`` (or ``sys.path``), so ``importlib.metadata`` finds the entry
points in group ``geomm.models`` exactly as for an installed distribution.

``patch14`` is a model geomm knows nothing of: S2 only, four bands in its
own order, its own normalization (per-band z-scores with its statistics),
14 px patches, and published weights (a projection matrix) in the torch hub
cache. :func:`patch14_forward` is its whole forward, in numpy, for tests to
apply by hand.

``counting-tiny`` is croma-tiny, plus three test hooks read from the
environment of the process that embeds:

* ``GEOMM_TEST_COUNT_FILE``: append ``<pid> <chips>`` after each batch
  (counts chips embedded, across processes and runs);
* ``GEOMM_TEST_CRASH_AFTER=N``: SIGKILL this process when batch N+1 starts
  (a deterministic crash mid-run, between two saved batches);
* ``GEOMM_TEST_DELAY``: sleep this many seconds per batch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geomm.models import EmbeddingModel, ModelInfo, WeightsError, WeightsSource, model_info

__all__ = ["COUNTING_TINY", "PATCH14", "PATCH14_MEAN", "PATCH14_STD", "patch14_forward"]

PATCH14_BANDS = ("B08", "B04", "B03", "B02")
"""The bands patch14 reads, in its order (not the cube's)."""
PATCH14_MEAN = (2300.0, 950.0, 1040.0, 1120.0)
"""patch14's own per-band means (its ``band-zscore`` normalization)."""
PATCH14_STD = (1500.0, 620.0, 680.0, 740.0)
"""patch14's own per-band standard deviations."""
PATCH = 14


def patch14_forward(s2: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """(N, 4, H, W) uint16 -> (N, D) float32: z-scores, 14 px patch means, projection, pooling."""
    x = s2.astype(np.float64)
    x = (x - np.asarray(PATCH14_MEAN)[:, None, None]) / np.asarray(PATCH14_STD)[:, None, None]
    n, b, h, w = x.shape
    patches = x.reshape(n, b, h // PATCH, PATCH, w // PATCH, PATCH).mean(axis=(3, 5))
    tokens = patches.reshape(n, b, -1).transpose(0, 2, 1)  # (N, P, B)
    return np.tanh(tokens @ proj).mean(axis=1).astype(np.float32)


class _Patch14(EmbeddingModel):
    def __init__(self, info: ModelInfo, path: Path, normalization: str) -> None:
        self.info = info
        self.proj = np.asarray(json.loads(path.read_text())["proj"], dtype=np.float64)
        self.weights_id = f"{path.name} (test plugin)"
        self.precision = "fp32"
        self.normalization = normalization
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
        assert s2 is not None
        return {"patch": patch14_forward(s2, self.proj)}


class _Patch14Plugin:
    info = ModelInfo(
        name="patch14",
        description="z-scored 14 px patch means, projected and pooled (test plugin)",
        modalities=("s2",),
        bands={"s2": PATCH14_BANDS},
        chip_multiple=PATCH,
        default_chip_size=56,
        embeddings={"patch": 6},
        default_embedding="patch",
        normalizations=("band-zscore",),
        weights=WeightsSource(
            url="https://example.invalid/patch14-proj.json", file_name="patch14-proj.json"
        ),
    )

    def load(self, weights, *, precision, normalization, device, seed, download):
        path = Path(weights) if weights not in (None, "random") else self.info.weights_path()
        if path is None:
            raise WeightsError("patch14's weights are not in the torch hub cache")
        return _Patch14(self.info, path, normalization)


PATCH14 = _Patch14Plugin()


class _CountingModel:
    def __init__(self, inner, info) -> None:
        self._inner = inner
        self.info = info
        self.calls = 0

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def embed(self, s1, s2, **kwargs):
        crash_after = os.environ.get("GEOMM_TEST_CRASH_AFTER")
        if crash_after is not None and self.calls >= int(crash_after):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(os.environ.get("GEOMM_TEST_DELAY", "0")))
        out = self._inner.embed(s1, s2, **kwargs)
        self.calls += 1
        if path := os.environ.get("GEOMM_TEST_COUNT_FILE"):
            n = len(s1) if s1 is not None else len(s2)
            with open(path, "a") as f:
                f.write(f"{os.getpid()} {n}\n")
        return out


class _CountingPlugin:
    @property
    def info(self):
        tiny = model_info("croma-tiny")
        return dataclasses.replace(tiny, name="counting-tiny", description="croma-tiny, counted")

    def load(self, weights, **kwargs):
        from geomm.models import load_model

        return _CountingModel(load_model("croma-tiny", weights, **kwargs), self.info)


COUNTING_TINY = _CountingPlugin()
