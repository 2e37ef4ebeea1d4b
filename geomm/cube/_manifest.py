"""A finished cube's chunk manifest: what was written, to check what is there.

When a store is complete, :func:`write_manifest` records every file's size
and CRC-32 in ``<store>/geomm/manifest.json``, reading each back once (from
the page cache, just written). :func:`stat_damage` compares presence and
sizes (one ``stat`` per file: cheap enough for every ``open_cube``);
:func:`checksum_damage` and :func:`decode_damage` read and decode every
chunk (``geomm verify``). The manifest lists files, not Zarr keys, so the
same check holds for any array a cube carries.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geomm.errors import CubeStoreError

__all__ = [
    "MARKER",
    "DamagedChunk",
    "VerifyReport",
    "checksum_damage",
    "chunk_extent",
    "chunk_of",
    "decode_damage",
    "describe",
    "read_json",
    "read_manifest",
    "stat_damage",
    "write_json_atomic",
    "write_manifest",
]

MARKER = "geomm"
"""The store's marker group: geomm's own files inside a cube store."""
_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DamagedChunk:
    """One file of a finished store that no longer holds what was written."""

    key: str
    """The file's path inside the store, e.g. ``"s2/c/0/0/1/2"``."""
    problem: str
    """What is wrong: ``"missing"``, ``"size 10, written 20"``, ``"checksum differs"``..."""


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_cube` found."""

    path: Path
    """The store."""
    chunks_checked: int
    """Files of the manifest read, checksummed and (chunks) decoded."""
    damaged: tuple[DamagedChunk, ...]
    """The files that are missing or differ from what was written; empty if sound."""

    @property
    def sound(self) -> bool:
        """Whether every file is as written."""
        return not self.damaged


def write_manifest(path: Path) -> None:
    """Record the size and CRC-32 of every file of the finished store at ``path``."""
    write_json_atomic(path / MARKER / _MANIFEST, {"files": chunk_manifest(path)})


def chunk_manifest(path: Path) -> dict[str, list[int]]:
    """{key: [size, crc32]} of every file of the store but the root metadata and marker.

    Read back once after the writes (from the page cache, just written):
    the bytes on disk are what a later check compares with.
    """
    files = {}
    for file in sorted(store_files(path)):
        data = file.read_bytes()
        files[file.relative_to(path).as_posix()] = [len(data), zlib.crc32(data)]
    return files


def store_files(path: Path) -> Iterable[Path]:
    for root, dirs, names in os.walk(path):
        here = Path(root)
        if here == path:
            dirs[:] = [d for d in dirs if d != MARKER]
            names = [n for n in names if n != "zarr.json"]
        yield from (here / n for n in names)


def read_manifest(path: Path) -> dict[str, list[int]] | None:
    raw = read_json(path / MARKER / _MANIFEST)
    if raw is None and (path / MARKER / _MANIFEST).exists():
        raise CubeStoreError(
            f"the chunk manifest of {str(path)!r} is unreadable; rebuild the cube with "
            "overwrite=True"
        )
    return None if raw is None else raw["files"]


def stat_damage(path: Path, manifest: dict[str, list[int]]) -> list[DamagedChunk]:
    """Files of the manifest that are missing or not of the size written (one stat each)."""
    damaged = []
    for key, (size, _crc) in manifest.items():
        try:
            found = (path / key).stat().st_size
        except FileNotFoundError:
            damaged.append(DamagedChunk(key, "missing"))
            continue
        if found != size:
            damaged.append(DamagedChunk(key, f"size {found}, written {size}"))
    return damaged


def checksum_damage(path: Path, manifest: dict[str, list[int]]) -> list[DamagedChunk]:
    damaged = []
    for key, (size, crc) in manifest.items():
        try:
            data = (path / key).read_bytes()
        except FileNotFoundError:
            damaged.append(DamagedChunk(key, "missing"))
            continue
        if len(data) != size:
            damaged.append(DamagedChunk(key, f"size {len(data)}, written {size}"))
        elif zlib.crc32(data) != crc:
            damaged.append(DamagedChunk(key, "checksum differs from the one written"))
    return damaged


def decode_damage(path: Path, keys: list[str]) -> list[DamagedChunk]:
    """Chunks among ``keys`` that Zarr cannot decode."""
    import zarr

    group = zarr.open_group(str(path), mode="r", zarr_format=3)
    damaged = []
    for key in keys:
        parsed = chunk_of(key)
        if parsed is None:
            continue
        name, index = parsed
        array = group[name]
        if not isinstance(array, zarr.Array):  # a group's files are metadata, not chunks
            continue
        try:
            array.get_block_selection(index)
        except (ValueError, RuntimeError, TypeError, OSError) as e:  # a codec's refusal
            damaged.append(DamagedChunk(key, f"cannot be decoded ({type(e).__name__}: {e})"))
    return damaged


def chunk_of(key: str) -> tuple[str, tuple[int, ...]] | None:
    """(array name, chunk index) of a chunk key ``<name>/c/<i>/<j>/...``; None for metadata."""
    parts = key.split("/")
    if len(parts) < 3 or parts[1] != "c" or not all(p.isdigit() for p in parts[2:]):
        return None
    return parts[0], tuple(int(p) for p in parts[2:])


def chunk_extent(path: Path, name: str, index: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Pixel ranges (y, x) of one chunk of a pixel variable."""
    meta = json.loads((path / name / "zarr.json").read_text())
    dims = meta["dimension_names"]
    shape = meta["chunk_grid"]["configuration"]["chunk_shape"]
    out = []
    for dim in ("y", "x"):
        axis = dims.index(dim)
        out.append((index[axis] * shape[axis], (index[axis] + 1) * shape[axis]))
    return tuple(out)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or not JSON."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, sort_keys=True))
    os.replace(tmp, path)


def describe(damaged: list[DamagedChunk], most: int = 5) -> str:
    shown = ", ".join(f"{d.key} ({d.problem})" for d in damaged[:most])
    more = f" and {len(damaged) - most} more" if len(damaged) > most else ""
    return f"{len(damaged)} chunk file(s) missing or changed: {shown}{more}"
