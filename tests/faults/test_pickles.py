"""A checkpoint is data, never code: a malicious pickle does not run.

Every checkpoint geomm reads (CROMA weights, contrastive run checkpoints)
goes through ``torch.load(..., weights_only=True)``, which refuses to build
arbitrary objects. These tests hand geomm a pickle whose ``__reduce__``
would create a file, and check that the file never appears and the user gets
one line (exit 1), whichever command reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from geomm.contrastive import load_checkpoint
from geomm.errors import GeommError
from geomm.models import load_model


class _Payload:
    """Pickles as a call to ``os.mkdir(target)``: proof, if it ever runs."""

    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def _evil(path: Path, proof: Path) -> Path:
    # the shape of a real checkpoint, with the payload inside
    torch.save({"format": "geomm-contrastive-1", "model": {"w": _Payload(proof)}}, path)
    return path


def test_croma_weights_file_with_code_is_refused_and_never_run(tmp_path: Path):
    proof = tmp_path / "pwned"
    evil = _evil(tmp_path / "croma.pt", proof)
    with pytest.raises(GeommError) as caught:
        load_model("croma-tiny", weights=evil)
    assert not proof.exists()
    assert "\n" not in str(caught.value) and str(evil.name) in str(caught.value)


def test_contrastive_checkpoint_with_code_is_refused_and_never_run(tmp_path: Path):
    proof = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    _evil(run / "checkpoint.pt", proof)
    with pytest.raises(GeommError) as caught:
        load_checkpoint(run)
    assert not proof.exists()
    assert "\n" not in str(caught.value) and "checkpoint.pt" in str(caught.value)
