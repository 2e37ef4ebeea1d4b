"""Fixtures for geomm.models: an empty private torch hub, no downloads, real chips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

BIGEARTHNET = Path(__file__).resolve().parents[2] / "catalogs" / "sample" / "bigearthnet"
S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


@pytest.fixture(autouse=True)
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh $TORCH_HOME per test, and any download attempt fails loudly."""
    import torch.hub

    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # undo any torch.hub.set_dir

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"tests must not download ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    assert Path(torch.hub.get_dir()) == home / "hub"
    yield home


def _read_band(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        a = ds.read(1)
    f = 120 // a.shape[0]  # 20 m / 60 m bands: nearest upsampling to 10 m
    return np.kron(a, np.ones((f, f), a.dtype)) if f > 1 else a


@pytest.fixture(scope="session")
def real_chips() -> tuple[np.ndarray, np.ndarray]:
    """Six real BigEarthNet S1/S2 pairs, 120 x 120 px: S1 dB float32, S2 uint16 (x 10000)."""

    def by_patch(folder: str) -> dict[str, Path]:  # pairs share the patch suffix "_87_48"
        return {"_".join(d.name.split("_")[-2:]): d for d in (BIGEARTHNET / folder).glob("S*")}

    s1_dirs, s2_dirs = by_patch("bigearthnet-s1"), by_patch("bigearthnet-s2")
    keys = sorted(set(s1_dirs) & set(s2_dirs))
    s1, s2 = [], []
    for key in keys:
        d1, d2 = s1_dirs[key], s2_dirs[key]
        s1.append(np.stack([_read_band(d1 / f"{d1.name}_{b}.tif") for b in ("VV", "VH")]))
        s2.append(np.stack([_read_band(d2 / f"{d2.name}_{b}.tif") for b in S2_BANDS]))
    assert len(s1) == 6, keys
    return np.stack(s1).astype(np.float32), np.stack(s2).astype(np.uint16)


@pytest.fixture(scope="session")
def chips8(real_chips: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Eight 120 px pairs: the six real ones and two mirrored copies."""
    s1, s2 = real_chips
    return (
        np.ascontiguousarray(np.concatenate([s1, s1[:2, :, ::-1]])),
        np.ascontiguousarray(np.concatenate([s2, s2[:2, :, :, ::-1]])),
    )


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
