"""Fixtures for geomm.contrastive: the digits set once per session, a small foreign CSV set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _two_threads() -> Iterator[None]:
    """Each test starts with two torch threads (the machine's cores); commands that set
    their own (``reproduce --threads``) do not leak into the next test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt by open_clip or torch.hub to download fails loudly."""
    import torch.hub

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError(f"tests must not download ({args[:1]})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory):
    """The bundled digits set, rendered once (read-only for the tests)."""
    from geomm.contrastive import make_digits

    return make_digits(tmp_path_factory.mktemp("digits") / "set", seed=0)


def write_shapes_set(root: Path, n: int = 24, *, size: int = 20, sep: str = ",") -> Path:
    """A foreign dataset in the reference format: coloured squares named by colour.

    Images live in a sub-folder and are referenced relative to the CSV; labels are
    colour names.
    """
    from PIL import Image

    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
    names = list(colours)
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = [sep.join(["image", "caption", "label"])]
    for i in range(n):
        name = names[i % 3]
        arr = np.zeros((size, size, 3), np.uint8) + rng.integers(0, 40, (size, size, 3), np.uint8)
        arr[4:-4, 4:-4] = colours[name]
        Image.fromarray(arr).save(root / "imgs" / f"s{i:03d}.png")
        lines.append(sep.join([f"imgs/s{i:03d}.png", f"a square painted {name}", name]))
    csv = root / ("shapes.tsv" if sep == "\t" else "shapes.csv")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv


@pytest.fixture
def shapes_csv(tmp_path: Path) -> Path:
    return write_shapes_set(tmp_path / "shapes")


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (to prove inputs are left unchanged)."""
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
