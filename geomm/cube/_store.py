"""Zarr v3 cubes written block by block, resumable, never falsely complete.

``write_cube`` first writes the store's metadata and coordinates (attribute
``geomm_status = "incomplete"``), then each spatial block of chunks (all
times, all bands) as an independent Zarr region write, recording a marker
file per finished block in a sibling folder ``<store>.progress/``. Only
after the last block does it set ``geomm_status = "complete"`` and remove
the progress folder. A rerun with ``resume=True`` checks that the
store was made from the same cube (a fingerprint of its coordinates and
attributes) and writes only the blocks without a marker, so a chunk marked
done is never rewritten. ``open_cube`` (:mod:`geomm.cube._open`) refuses
incomplete stores.

Safety (issue 13):

* one writer per store: :func:`write_cube` holds the store's lease
  (:mod:`geomm._lease`) while it writes; a second writer is refused;
* the skeleton is written into a hidden sibling folder and renamed into
  place when whole, so a store is either absent or resumable;
* a store is geomm's when it carries the marker group ``geomm/`` (or, for
  stores older than the marker, both ``geomm_*`` attributes); only such a
  store is ever replaced (``overwrite=True``) or repaired
  (:mod:`geomm.cube._layout`);
* completion writes the chunk manifest ``geomm/manifest.json`` (every file's
  size and CRC-32): ``open_cube`` checks every file is there with its size,
  ``verify_cube`` decodes and checksums every chunk, and
  ``write_cube(..., resume=True)`` on a damaged store rewrites exactly the
  blocks holding damaged chunks (:mod:`geomm.cube._resume`).

The pixel writes themselves are :mod:`geomm.cube._blocks`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomm._lease import LeaseInfo, check_held, refuse_unsafe_target, write_lease
from geomm._outputs import refuse_url
from geomm.cube._blocks import (
    Block,
    chunk_edge,
    compressors,
    cube_blocks,
    pixel_names,
    scheduler,
    write_blocks,
    zarr_chunks,
)
from geomm.cube._layout import (
    FINGERPRINT,
    MARKER_KIND,
    STATUS,
    occupied,
    progress_dir,
    remove_leftover_setup,
    remove_store,
    setup_dir,
)
from geomm.cube._manifest import MARKER, write_json_atomic
from geomm.cube._resume import check_existing, damaged_blocks, fingerprint, mark_complete, reopen
from geomm.errors import CubeStoreError, GeommError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Block", "CubeStoreError", "WriteReport", "progress_dir", "write_cube"]

_WHAT = "cube store"


@dataclass(frozen=True)
class WriteReport:
    """What one ``write_cube`` call did."""

    path: Path
    """The store."""
    blocks_total: int
    """Blocks of the cube."""
    blocks_written: int
    """Blocks written by this call."""
    blocks_skipped: int
    """Blocks already complete from an earlier, interrupted run."""


def write_cube(
    ds: xr.Dataset,
    path: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[Block], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    blocks_per_batch: int = 4,
) -> WriteReport:
    """Write ``ds`` (from :func:`build_cube`) to a Zarr v3 store at ``path``.

    Args:
        ds: the lazy cube.
        path: store folder (conventionally ``*.zarr``).
        resume: continue an interrupted store of the same cube.
        overwrite: replace an existing store at ``path``.
        progress: called after each block is written and marked.
        on_start: called once with (blocks to write, blocks already done).
        blocks_per_batch: blocks computed together (then marked done together);
            more keeps more workers busy, fewer loses less work to a crash.

    A complete store is left as it is by ``resume=True``, except for
    damaged chunks (:func:`verify_cube`): the blocks holding them are
    rewritten. ``overwrite=True`` replaces only a store geomm wrote.

    Raises:
        CubeStoreError: ``path`` holds another cube, an existing store and neither
            ``resume`` nor ``overwrite`` was given, something that is not a geomm
            store, or the store cannot be written (no folder, no permission, disk full).
        StoreInUseError: another run is writing the store (or a dead run's
            lease is there and neither ``resume`` nor ``overwrite`` was given).
        UnsafeTargetError: ``path`` is a filesystem root, the home folder,
            the current folder or a folder above it.
    """
    path = Path(path)
    try:
        refuse_url(path, what=_WHAT)
        refuse_unsafe_target(path, what=_WHAT, argument="path")
        # resume continues a dead writer's store, overwrite replaces it: either may take
        # over its stale lease; a plain run never does
        with write_lease(path, what=_WHAT, takeover=resume or overwrite) as lease:
            return _write(
                ds,
                path,
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                on_start=on_start,
                blocks_per_batch=blocks_per_batch,
                lease=lease,
            )
    except OSError as e:
        if isinstance(e, GeommError):  # an unreadable scene (AssetReadError) says so itself
            raise
        raise CubeStoreError(
            f"cannot write the cube store {str(path)!r}: {e.strerror or e}. Check that its "
            "folder exists and is writable and that the disk has room, then rerun (with "
            "resume=True to keep the blocks already written)"
        ) from e


def _write(
    ds: xr.Dataset,
    path: Path,
    *,
    resume: bool,
    overwrite: bool,
    progress: Callable[[Block], None] | None,
    on_start: Callable[[int, int], None] | None,
    blocks_per_batch: int,
    lease: LeaseInfo,
) -> WriteReport:
    """:func:`write_cube` under the store's lease."""
    ds = _prepared(ds)
    blocks = cube_blocks(ds)
    if _set_up(ds, path, blocks, resume=resume, overwrite=overwrite):
        if on_start:
            on_start(0, len(blocks))
        return WriteReport(path, len(blocks), 0, len(blocks))
    done_dir = progress_dir(path)
    done_dir.mkdir(parents=True, exist_ok=True)
    done = {p.name for p in done_dir.glob("*")}
    todo = [b for b in blocks if b.name not in done]
    if on_start:
        on_start(len(todo), len(blocks) - len(todo))
    # Region writes carry only the pixel variables, without coordinates: those
    # were written once by _initialize and must not be touched again.
    pixels = ds[pixel_names(ds)]
    pixels = pixels.drop_vars(list(pixels.coords))
    write_blocks(
        pixels,
        path,
        todo,
        done_dir=done_dir,
        blocks_per_batch=blocks_per_batch,
        progress=progress,
    )
    check_held(path, lease)  # a writer taken over while stalled never marks the store done
    mark_complete(path)
    return WriteReport(path, len(blocks), len(todo), len(blocks) - len(todo))


def _prepared(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` chunked like a built cube, its small per-time variables in memory.

    Those are written once, with the skeleton; a loaded cube is chunked as
    a built one would be, so its blocks are the same.
    """
    if not any(v.chunks for v in ds.data_vars.values()):
        edge = chunk_edge(ds) or ds.sizes["x"]
        ds = ds.chunk({"time": 1, "y": edge, "x": edge})
    return ds.assign(
        {
            n: v.compute(scheduler=scheduler())
            for n, v in ds.data_vars.items()
            if not {"y", "x"} & set(v.dims)
        }
    )


def _set_up(
    ds: xr.Dataset, path: Path, blocks: list[Block], *, resume: bool, overwrite: bool
) -> bool:
    """Make the store at ``path`` ready for the blocks not marked done.

    A new store gets its skeleton; an existing one must be geomm's, of the
    same cube, and resumed; a complete one with damaged chunks is reopened
    with those blocks left to write. True: the store is complete and sound,
    nothing is left to write.
    """
    expected = fingerprint(ds)
    if overwrite and occupied(path):
        remove_store(path)
    if not occupied(path):
        _initialize(ds, path, expected)
        return False
    if check_existing(path, fingerprint=expected, resume=resume) != "complete":
        return False
    damaged = damaged_blocks(path, blocks, pixel_names(ds))
    if not damaged:
        return True
    reopen(path, [b for b in blocks if b not in damaged])
    return False


def _initialize(ds: xr.Dataset, path: Path, fingerprint: str) -> None:
    """Write the store's skeleton (metadata, coordinates, per-time variables), atomically.

    The skeleton is written into a hidden sibling folder, its marker group
    last, and renamed into place once whole: a SIGKILL at any point leaves
    either no store (a rerun starts again, removing the leftover folder) or
    a whole skeleton that ``resume=True`` continues. An object store has no
    folder rename; there the marker object would be written first, saying
    "setup", and a resume would redo a skeleton whose marker still says so.
    """
    skeleton = ds.copy()
    skeleton.attrs = {**ds.attrs, STATUS: "incomplete", FINGERPRINT: fingerprint}
    edge = chunk_edge(ds)
    encoding = {
        name: {"chunks": zarr_chunks(var, edge), "compressors": compressors()}
        for name, var in ds.data_vars.items()
        if var.chunks
    }
    setup = setup_dir(path)
    if setup.exists():  # a setup killed halfway, under this store's lease
        remove_leftover_setup(setup)
    skeleton.to_zarr(
        setup,
        mode="w-",
        compute=False,
        zarr_format=3,
        consolidated=False,
        encoding=encoding,
        write_empty_chunks=True,
    )
    _write_marker(setup, fingerprint)
    os.rename(setup, path)  # onto nothing, or onto an empty folder
    progress_dir(path).mkdir(parents=True, exist_ok=True)


def _write_marker(path: Path, fingerprint: str) -> None:
    """The marker group ``geomm/``: this store was made by geomm (and which cube it holds)."""
    from geomm._version import __version__

    write_json_atomic(
        path / MARKER / "zarr.json",
        {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": {
                "geomm_marker": MARKER_KIND,
                "geomm_version": __version__,
                FINGERPRINT: fingerprint,
            },
        },
    )
