"""Weights files: hashes (with a sidecar cache), reading and writing checkpoints.

Checkpoints are plain dicts of state dicts (``{"s1_encoder": {...}, ...}``),
read with ``torch.load(..., map_location="cpu", weights_only=True)``. torch is
imported inside the functions that need it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


_SIDECAR_FORMAT = "geomm sha256 cache 2"
"""The ``format`` value that marks a sidecar as geomm's (and says which key it holds)."""

_LEGACY_KEYS = frozenset({"size", "mtime_ns", "sha256"})
"""The keys of the sidecars geomm wrote before the format field (size and mtime only)."""


@dataclass(frozen=True)
class FileIdentity:
    """What a file's sha256 cache entry is valid for: any write to the file changes it.

    A user can put an mtime back (``os.utime``) but not a ctime: the kernel sets
    ctime on every write, rename and ``utime``. Inode and device tell a copy
    (``cp -p`` keeps the times) or a replacement apart from the file that was hashed.
    """

    size: int
    """File size in bytes."""
    mtime_ns: int
    """Modification time (settable by the user)."""
    ctime_ns: int
    """Status-change time, set by the kernel on every change, never by the user."""
    inode: int
    """Inode number: a replaced or copied file has another."""
    device: int
    """Device of the file system holding the inode."""

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _cached_sha256(side: Path, ident: FileIdentity) -> tuple[str | None, bool]:
    """The digest a sidecar holds for ``ident``, and whether geomm may overwrite the sidecar.

    Returns ``(digest or None, ours)``. A sidecar geomm did not write (another
    format, corrupt JSON, a folder) is never trusted and never replaced. An entry
    is trusted only if it was written after the file's last change (the sidecar's
    mtime is later than the file's ctime): a change in the same clock tick as the
    hash, on a file system with coarse timestamps, would otherwise go unseen.
    """
    try:
        with side.open("rb") as f:
            written_ns = os.fstat(f.fileno()).st_mtime_ns
            record = json.loads(f.read(4096).decode("utf-8"))
    except FileNotFoundError:
        return None, True
    except (OSError, ValueError):  # a folder, unreadable, not UTF-8, not JSON: not ours
        return None, False
    if not isinstance(record, dict):
        return None, False
    if record.get("format") != _SIDECAR_FORMAT:
        return None, _is_legacy(record)  # an older geomm's cache: rewrite it
    digest = record.get("sha256")
    key = {k: record.get(k) for k in dataclasses.asdict(ident)}
    if key != dataclasses.asdict(ident) or not isinstance(digest, str):
        return None, True
    if ident.ctime_ns >= written_ns:
        return None, True
    return digest, True


def _is_legacy(record: dict[str, Any]) -> bool:
    """A sidecar from geomm before the format field: int size and mtime, a hex digest."""
    return (
        set(record) == _LEGACY_KEYS
        and all(type(record[k]) is int for k in ("size", "mtime_ns"))
        and isinstance(record["sha256"], str)
        and re.fullmatch(r"[0-9a-f]{64}", record["sha256"]) is not None
    )


def _write_sidecar(side: Path, ident: FileIdentity, digest: str) -> None:
    """Atomically write geomm's cache entry; skipped (logged) where the folder is read-only."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=side.parent, prefix=side.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"format": _SIDECAR_FORMAT, **dataclasses.asdict(ident), "sha256": digest}, f)
        os.replace(tmp, side)
        tmp = None
    except OSError as e:  # read-only folder: hash again next time
        log.debug("cannot write %s: %s", side, e)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, cached in ``<file>.sha256`` while the file is unchanged.

    The cache saves hashing a large checkpoint on every run, and is keyed by
    :class:`FileIdentity` (size, mtime, ctime, inode, device), so that a file
    changed in place, even with its mtime restored, is hashed again. A sidecar
    geomm did not write is ignored and left alone; the file is then hashed on
    every call. Where the folder is read-only nothing is cached.
    """
    path = Path(path)
    ident = FileIdentity.of(path.stat())
    side = _sidecar(path)
    cached, ours = _cached_sha256(side, ident)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    if not ours:
        log.debug("%s is not geomm's sha256 cache: left alone, %s hashed each time", side, path)
    elif FileIdentity.of(path.stat()) == ident:  # not written to while it was hashed
        _write_sidecar(side, ident, digest)
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
            "file with weights=PATH (rename the file if that suffix is not a hash)"
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
            f"state dicts {layout} (weights=PATH), or weights='random'"
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
        from geomm.models.croma import module_checkpoint_state

        state = module_checkpoint_state(model_or_module)
    return write_checkpoint(state, path)
