"""Continuing a store: is it the same cube, which blocks are left, and its status.

A store is continued only when it is geomm's and was made from the same
cube, as told by a fingerprint of everything that decides its pixels
(:func:`fingerprint`). A complete store whose chunks were damaged since is
turned back into an interrupted one with every sound block marked done
(:func:`reopen`), so a resume rewrites exactly the damaged blocks; a store
is marked complete only after its chunk manifest is recorded
(:func:`mark_complete`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geomm.cube._layout import (
    FINGERPRINT,
    STATUS,
    clear_markers,
    is_geomm_store,
    progress_dir,
    store_attrs,
)
from geomm.cube._manifest import (
    checksum_damage,
    chunk_extent,
    chunk_of,
    read_manifest,
    write_manifest,
)
from geomm.errors import CubeStoreError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.cube._blocks import Block

__all__ = ["check_existing", "damaged_blocks", "fingerprint", "mark_complete", "reopen"]


def fingerprint(ds: xr.Dataset) -> str:
    """Hash of what defines the cube: grid, times, pairing, attributes.

    Pixel values are not hashed (they are what is being written); everything
    that decides them is: coordinates, per-time pair variables, the shapes,
    types and Dask chunks of the pixel variables, and the provenance attributes.
    """
    h = hashlib.sha256()
    for name in sorted(map(str, ds.variables)):
        var = ds[name]
        # Dask chunks too: the reader's tasks decide where warped positions are
        # interpolated from (values may differ by rounding between chunkings)
        h.update(f"{name}{var.dims}{var.dtype}{var.shape}{var.chunks}".encode())
        if not ({"y", "x"} & set(var.dims)) or var.ndim == 1:
            h.update(np.asarray(var.values).astype(str).tobytes())
    h.update(json.dumps({k: str(v) for k, v in sorted(ds.attrs.items())}).encode())
    return h.hexdigest()


def check_existing(path: Path, *, fingerprint: str, resume: bool) -> str | None:
    """Raise unless the store at ``path`` may be resumed; return its status."""
    if not (path / "zarr.json").is_file() or not is_geomm_store(path):
        raise CubeStoreError(
            f"{str(path)!r} exists and is not a geomm cube; choose another path or remove it"
        )
    attrs = store_attrs(path)
    status = attrs.get(STATUS)
    if not resume:
        what = "a complete cube" if status == "complete" else "an interrupted cube"
        hint = (
            "overwrite=True to replace it" if status == "complete" else "resume=True to continue it"
        )
        raise CubeStoreError(f"{str(path)!r} already holds {what}; pass {hint}")
    if attrs.get(FINGERPRINT) != fingerprint:
        raise CubeStoreError(
            f"{str(path)!r} was built from different scenes, grid or options; it cannot be "
            "resumed with these arguments: rerun with the original ones, or overwrite=True"
        )
    return None if status is None else str(status)


def damaged_blocks(path: Path, blocks: list[Block], pixel_names: list[str]) -> list[Block]:
    """The blocks of a complete store holding damaged chunks (checksums compared).

    Raises:
        CubeStoreError: a damaged file is not pixel data (metadata, coordinates,
            per-time variables): those are not written block by block.
    """
    manifest = read_manifest(path)
    if manifest is None:
        return []
    redo: list[Block] = []
    for chunk in checksum_damage(path, manifest):
        parsed = chunk_of(chunk.key)
        if parsed is None or parsed[0] not in pixel_names:
            raise CubeStoreError(
                f"cube {str(path)!r} is damaged outside its pixel data ({chunk.key}: "
                f"{chunk.problem}), which resume=True cannot repair; rebuild it with "
                "overwrite=True"
            )
        y, x = chunk_extent(path, *parsed)
        for block in blocks:
            hit = block.y.start < y[1] and y[0] < block.y.stop
            if hit and block.x.start < x[1] and x[0] < block.x.stop and block not in redo:
                redo.append(block)
    return redo


def reopen(path: Path, sound: list[Block]) -> None:
    """Turn a complete but damaged store back into an interrupted one, sound blocks marked.

    Markers first, then the status: a SIGKILL in between leaves a complete
    store that the next resume finds damaged again.
    """
    markers = progress_dir(path)
    markers.mkdir(parents=True, exist_ok=True)
    for block in sound:
        (markers / block.name).touch()
    _set_status(path, "incomplete")


def mark_complete(path: Path) -> None:
    """Record the chunk manifest, then the status: a store marked complete has its manifest."""
    write_manifest(path)
    _set_status(path, "complete")
    clear_markers(path)


def _set_status(path: Path, status: str) -> None:
    import zarr

    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs[STATUS] = status
