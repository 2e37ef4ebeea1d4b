"""Weights files: hashes (with a sidecar cache), reading and writing checkpoints.

Checkpoints are plain dicts of state dicts (``{"s1_encoder": {...}, ...}``),
read with ``torch.load(..., map_location="cpu", weights_only=True)``. torch is
imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from geomm.errors import WeightsError

__all__ = [
    "file_sha256",
    "check_state_dict",
    "hash_suffix",
    "read_checkpoint",
    "save_checkpoint",
    "verify_sha256_prefix",
    "weights_id_for",
    "write_checkpoint",
]

log = logging.getLogger(__name__)

_HASH_SUFFIX = re.compile(r"-([0-9a-f]{8,})\.[A-Za-z0-9]+$")
_SIDECAR_SUFFIX = ".sha256"
_CHUNK = 8 << 20


def hash_suffix(path: str | Path) -> str | None:
    """The torch-hub-style sha256 prefix in a file name (``name-<8+ hex>.pt``), or None.

    A suffix of decimal digits alone (``ckpt-20250102.pt``, ``epoch-00000010.pt``)
    is taken for a date or a counter, not a hash.
    """
    m = _HASH_SUFFIX.search(Path(path).name)
    if m is None or m.group(1).isdigit():
        return None
    return m.group(1)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, cached in ``<file>.sha256`` keyed by size and mtime.

    The sidecar is a small JSON file; it is rewritten when the file changes and
    silently skipped where the folder is read-only.
    """
    path = Path(path)
    st = path.stat()
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    side = _sidecar(path)
    try:
        cached = json.loads(side.read_text())
        if {k: cached.get(k) for k in key} == key and isinstance(cached.get("sha256"), str):
            return str(cached["sha256"])
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=side.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({**key, "sha256": digest}, f)
        os.replace(tmp, side)
    except OSError as e:  # read-only folder: hash again next time
        log.debug("cannot write %s: %s", side, e)
    return digest


def verify_sha256_prefix(path: Path, expected: str | None) -> str:
    """Hash ``path``; raise when it does not start with ``expected`` (if given).

    Returns:
        The full sha256 hex digest.

    Raises:
        WeightsError: the digest does not match the expected prefix.
    """
    digest = file_sha256(path)
    if expected and not digest.startswith(expected):
        raise WeightsError(
            f"weights file {path} is corrupt or not the published file: its name says sha256 "
            f"{expected}... (torch hub's name-<hash>.pt), its content hashes to "
            f"{digest[: len(expected)]}... Delete it and download it again, or pass another "
            "file with --weights PATH (rename the file if that suffix is not a hash)"
        )
    return digest


def weights_id_for(path: Path, digest: str) -> str:
    """``"<file name> sha256:<first 16 hex>"``, the id recorded next to embeddings."""
    return f"{path.name} sha256:{digest[:16]}"


def read_checkpoint(path: Path, components: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Read a dict-of-state-dicts checkpoint and check its top-level keys.

    Args:
        path: the checkpoint file.
        components: the top-level keys the checkpoint must have, exactly.

    Raises:
        WeightsError: missing file, not a torch checkpoint, or other top-level keys.
    """
    import pickle
    import zipfile

    import torch

    components = tuple(components)
    layout = ", ".join(components)
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist; pass the path of a checkpoint with the "
            f"state dicts {layout} (--weights PATH), or --weights random"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(
            f"{path} is not a loadable torch checkpoint ({first}); expected a file written by "
            f"torch.save holding a dict of state dicts: {layout}"
        ) from e
    if not isinstance(state, Mapping):
        raise WeightsError(
            f"{path} holds a {type(state).__name__}, not a dict of state dicts ({layout})"
        )
    missing = [c for c in components if c not in state]
    unexpected = sorted(str(k) for k in state if k not in components)
    if missing or unexpected:
        raise WeightsError(
            f"{path} does not have the checkpoint layout {layout}: missing {missing}, "
            f"unexpected {_first(unexpected)}"
        )
    for c in components:
        if not isinstance(state[c], Mapping):
            raise WeightsError(f"{path}: {c!r} is a {type(state[c]).__name__}, not a state dict")
    return {c: dict(state[c]) for c in components}


def _first(keys: list[str], n: int = 5) -> str:
    shown = ", ".join(repr(k) for k in keys[:n])
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return f"[{shown}]{more}"


def check_state_dict(component: str, expected: Mapping[str, Any], got: Mapping[str, Any]) -> None:
    """Strict key and shape check of one state dict against a module's own.

    Raises:
        WeightsError: naming the component, the first few missing and unexpected
            keys, or the first shape mismatch.
    """
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    if missing or unexpected:
        raise WeightsError(
            f"weights do not fit {component}: missing keys {_first(missing)}, "
            f"unexpected keys {_first(unexpected)}"
        )
    for k, ref in expected.items():
        shape = tuple(getattr(got[k], "shape", ()))
        if shape != tuple(ref.shape):
            raise WeightsError(
                f"weights do not fit {component}: {k!r} has shape {shape}, the model needs "
                f"{tuple(ref.shape)} (a checkpoint of another model size?)"
            )


def write_checkpoint(state: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """``torch.save`` a dict of state dicts atomically (temporary file, then rename)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({k: dict(v) for k, v in state.items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(model_or_module: Any, path: str | Path) -> Path:
    """Write a model's weights in the released CROMA checkpoint layout.

    The file is a dict of five state dicts, ``s1_encoder``, ``s1_GAP_FFN``,
    ``s2_encoder``, ``s2_GAP_FFN`` and ``joint_encoder`` (fp32, on the CPU),
    which :func:`load_model` (``weights=path``) and torchgeo's CROMA load.

    Args:
        model_or_module: an :class:`EmbeddingModel` that supports saving (the
            CROMA ones), or a torch module holding those five submodules as
            attributes (torchgeo's ``CROMA`` with both modalities, or geomm's
            pretraining model).
        path: where to write; parent folders are created.

    Returns:
        The path written.

    Raises:
        WeightsError: the object cannot be saved (a component missing,
            int8-quantized weights).
    """
    from geomm.models._embedding import EmbeddingModel

    if isinstance(model_or_module, EmbeddingModel):
        state = model_or_module.checkpoint_state()
    else:
        from geomm.models.croma._network import module_checkpoint_state

        state = module_checkpoint_state(model_or_module)
    return write_checkpoint(state, path)
