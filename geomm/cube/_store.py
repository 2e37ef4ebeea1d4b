"""Zarr v3 cubes written block by block, resumable, never falsely complete.

``write_cube`` first writes the store's metadata and coordinates (attribute
``geomm_status = "incomplete"``), then each spatial block of chunks (all
times, all bands) as an independent Zarr region write, recording a marker
file per finished block in a sibling folder ``<store>.progress/``. Only
after the last block does it set ``geomm_status = "complete"`` and remove
the progress folder. A rerun with ``resume=True`` checks that the
store was made from the same cube (a fingerprint of its coordinates and
attributes) and writes only the blocks without a marker, so a chunk marked
done is never rewritten. ``open_cube`` refuses incomplete stores.

Safety (issue 13):

* one writer per store: :func:`write_cube` holds the store's lease
  (:mod:`geomm._lease`) while it writes; a second writer is refused;
* the skeleton is written into a hidden sibling folder and renamed into
  place when whole, so a store is either absent or resumable;
* a store is geomm's when it carries the marker group ``geomm/`` (or, for
  stores older than the marker, both ``geomm_*`` attributes); only such a
  store is ever replaced (``overwrite=True``) or repaired;
* completion writes the chunk manifest ``geomm/manifest.json`` (every file's
  size and CRC-32): ``open_cube`` checks every file is there with its size,
  :func:`verify_cube` decodes and checksums every chunk, and
  ``write_cube(..., resume=True)`` on a damaged store rewrites exactly the
  blocks holding damaged chunks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.threaded
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from geomm._lease import LeaseInfo, check_held, refuse_unsafe_target, write_lease
from geomm._outputs import refuse_url
from geomm.cube._manifest import (
    MARKER,
    DamagedChunk,
    VerifyReport,
    checksum_damage,
    chunk_extent,
    chunk_of,
    decode_damage,
    describe,
    read_json,
    read_manifest,
    stat_damage,
    write_json_atomic,
    write_manifest,
)
from geomm.errors import CubeStoreError, GeommError

__all__ = [
    "CubeStoreError",
    "DamagedChunk",
    "VerifyReport",
    "WriteReport",
    "cube_blocks",
    "open_cube",
    "verify_cube",
    "write_cube",
]

_PROGRESS_SUFFIX = ".progress"
_SETUP_SUFFIX = ".geomm-setup"
_STATUS = "geomm_status"
_FINGERPRINT = "geomm_fingerprint"
"""Zarr group inside every store geomm writes: its ownership marker and manifest."""
_MARKER_KIND = "geomm-cube"
_BLOCK_NAME = re.compile(r"y\d{6}-\d{6}_x\d{6}-\d{6}")
_WHAT = "cube store"


@dataclass(frozen=True)
class WriteReport:
    """What one ``write_cube`` call did."""

    path: Path
    blocks_total: int
    blocks_written: int
    blocks_skipped: int
    """Blocks already complete from an earlier, interrupted run."""


@dataclass(frozen=True)
class Block:
    """One spatial block of chunks: a Zarr region covering all times and bands."""

    row: int
    col: int
    y: slice
    x: slice

    @property
    def name(self) -> str:
        """Marker file name: the block's pixel extent.

        Extents, not block indices: a run resumed with other Dask chunks
        (``task_chunks``) has other blocks, and only an identical one counts
        as done.
        """
        return f"y{self.y.start:06d}-{self.y.stop:06d}_x{self.x.start:06d}-{self.x.stop:06d}"


def cube_blocks(ds: xr.Dataset) -> list[Block]:
    """The spatial blocks of ``ds``: one per Dask chunk in y and x."""
    pixels = next(v for v in ds.data_vars.values() if {"y", "x"} <= set(v.dims))
    sizes = pixels.chunksizes
    ys = _edges(sizes["y"]) if sizes else [(0, ds.sizes["y"])]
    xs = _edges(sizes["x"]) if sizes else [(0, ds.sizes["x"])]
    return [
        Block(r, c, slice(y0, y1), slice(x0, x1))
        for r, (y0, y1) in enumerate(ys)
        for c, (x0, x1) in enumerate(xs)
    ]


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
        CubeStoreError: ``path`` holds another cube, or an existing store
            and neither ``resume`` nor ``overwrite`` was given, or something
            that is not a geomm store, or the store cannot be written (no
            such folder, no permission, disk full).
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
                ds, path, resume, overwrite, progress, on_start, blocks_per_batch, lease=lease
            )
    except OSError as e:
        if isinstance(e, GeommError):  # an unreadable scene (AssetReadError) says so itself
            raise
        raise CubeStoreError(
            f"cannot write the cube store {str(path)!r}: {e.strerror or e}. Check that its "
            "folder exists and is writable and that the disk has room, then rerun (with "
            "--resume to keep the blocks already written)"
        ) from e


def _write(
    ds: xr.Dataset,
    path: Path,
    resume: bool,
    overwrite: bool,
    progress: Callable[[Block], None] | None,
    on_start: Callable[[int, int], None] | None,
    blocks_per_batch: int,
    *,
    lease: LeaseInfo,
) -> WriteReport:
    if not any(v.chunks for v in ds.data_vars.values()):  # loaded: chunk like a built cube
        edge = _chunk_edge(ds) or ds.sizes["x"]
        ds = ds.chunk({"time": 1, "y": edge, "x": edge})
    # Small per-time variables in memory: they are written once, with the skeleton.
    ds = ds.assign(
        {
            n: v.compute(scheduler=_scheduler())
            for n, v in ds.data_vars.items()
            if not {"y", "x"} & set(v.dims)
        }
    )
    fingerprint = _fingerprint(ds)
    blocks = cube_blocks(ds)
    if overwrite and _occupied(path):
        _remove_store(path)
    if _occupied(path):
        if _check_existing(path, fingerprint, resume) == "complete":
            damaged = _damaged_blocks(path, blocks, _pixel_names(ds))
            if not damaged:
                if on_start:
                    on_start(0, len(blocks))
                return WriteReport(path, len(blocks), 0, len(blocks))
            _reopen(path, [b for b in blocks if b not in damaged])
    else:
        _initialize(ds, path, fingerprint)
    done_dir = progress_dir(path)
    done_dir.mkdir(parents=True, exist_ok=True)
    done = {p.name for p in done_dir.glob("*")} if done_dir.exists() else set()
    todo = [b for b in blocks if b.name not in done]
    if on_start:
        on_start(len(todo), len(blocks) - len(todo))
    # Region writes carry only the pixel variables, without coordinates: those
    # were written once by _initialize and must not be touched again.
    pixels = ds[_pixel_names(ds)]
    pixels = pixels.drop_vars(list(pixels.coords))
    # Blocks are written a few at a time in one Dask computation, so the
    # threads (or cluster workers) stay busy across block boundaries; each
    # batch is marked done only once all its writes have returned.
    targets = _direct_targets(pixels, path)
    for start in range(0, len(todo), blocks_per_batch):
        batch = todo[start : start + blocks_per_batch]
        writes = [w for block in batch for w in _block_writes(pixels, path, block, targets)]
        dask.compute(*writes, scheduler=_scheduler())
        for block in batch:
            (done_dir / block.name).touch()
            if progress:
                progress(block)
    check_held(path, lease)  # a writer taken over while stalled never marks the store done
    _mark_complete(path)
    return WriteReport(path, len(blocks), len(todo), len(blocks) - len(todo))


def open_cube(path: str | Path, *, allow_incomplete: bool = False) -> xr.Dataset:
    """Open a cube written by :func:`write_cube`, lazily, with its CRS.

    A complete store's files are checked against its chunk manifest
    cheaply (each is there, with the size written; :func:`verify_cube`
    checks the bytes): a missing chunk would otherwise read as fill values.

    Raises:
        CubeStoreError: no store at ``path``, or an incomplete one (rerun
            ``geomm cube --resume``), or a damaged one (chunk files missing
            or truncated), unless ``allow_incomplete``.
    """
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise CubeStoreError(f"no Zarr cube at {str(path)!r}; build one with `geomm cube`")
    import rioxarray  # noqa: F401 - registers the .rio accessor users expect

    ds = xr.open_zarr(path, decode_coords="all", consolidated=False, zarr_format=3)
    if allow_incomplete:
        return ds
    if ds.attrs.get(_STATUS) != "complete":
        raise CubeStoreError(
            f"cube {str(path)!r} is incomplete (an interrupted run); finish it with "
            "`geomm cube ... --resume`, or open it with allow_incomplete=True"
        )
    manifest = read_manifest(path)
    if manifest is not None:
        damaged = stat_damage(path, manifest)
        if damaged:
            raise CubeStoreError(
                f"cube {str(path)!r} is damaged: {describe(damaged)}; repair it with "
                "write_cube(cube, path, resume=True) (the same cube: only the blocks holding "
                "these chunks are rewritten), or open it with allow_incomplete=True"
            )
    return ds


def verify_cube(path: str | Path) -> VerifyReport:
    """Check every file of a finished store against its chunk manifest.

    Each file listed when the store was completed is read and its CRC-32
    compared with the one recorded; each chunk is also decoded through
    Zarr (so a file damaged since is found whatever was changed in it).
    This reads the whole store; :func:`open_cube` only checks presence and
    sizes.

    Raises:
        CubeStoreError: no store, an incomplete one, or one written before
            geomm recorded manifests (nothing to verify against).
    """
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise CubeStoreError(f"no Zarr cube at {str(path)!r}; build one with `geomm cube`")
    if _attrs(path).get(_STATUS) != "complete":
        raise CubeStoreError(
            f"cube {str(path)!r} is incomplete (an interrupted run); finish it with "
            "write_cube(cube, path, resume=True) before verifying it"
        )
    manifest = read_manifest(path)
    if manifest is None:
        raise CubeStoreError(
            f"cube {str(path)!r} has no chunk manifest (an older geomm wrote it), so it "
            "cannot be verified; rebuild it with overwrite=True"
        )
    damaged = checksum_damage(path, manifest)
    bad = {d.key for d in damaged}
    damaged += decode_damage(path, [k for k in manifest if k not in bad])
    return VerifyReport(path, len(manifest), tuple(sorted(damaged, key=lambda d: d.key)))


# --------------------------------------------------------------------------- internals


def progress_dir(path: str | Path) -> Path:
    """Folder of per-block completion markers of an unfinished store."""
    path = Path(path)
    return path.with_name(path.name + _PROGRESS_SUFFIX)


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
    skeleton.attrs = {**ds.attrs, _STATUS: "incomplete", _FINGERPRINT: fingerprint}
    edge = _chunk_edge(ds)
    encoding = {
        name: {"chunks": _chunks(var, edge), "compressors": _compressors()}
        for name, var in ds.data_vars.items()
        if var.chunks
    }
    setup = path.with_name(f".{path.name}{_SETUP_SUFFIX}")
    if setup.exists():  # a setup killed halfway, under this store's lease
        _remove_leftover_setup(setup)
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


def _remove_leftover_setup(setup: Path) -> None:
    """Delete a skeleton a killed setup left, after checking it is geomm's.

    xarray writes the skeleton's root ``zarr.json`` first as an empty group and
    at once again with the cube's ``geomm_*`` attributes: so a leftover is
    either marked as geomm's, or nothing but that empty group (or nothing at
    all). Anything else under that hidden name is not removed.
    """
    entries = sorted(p.name for p in setup.iterdir()) if setup.is_dir() else None
    empty_group = entries == ["zarr.json"] and (read_json(setup / "zarr.json") or {}).get(
        "attributes", {}
    ) in ({}, None)
    if entries == [] or empty_group or _is_geomm_store(setup):
        shutil.rmtree(setup)
        return
    raise CubeStoreError(
        f"{str(setup)!r} is in the way of the store's setup and geomm did not make it; "
        "move it away yourself"
    )


def _write_marker(path: Path, fingerprint: str) -> None:
    """The marker group ``geomm/``: this store was made by geomm (and which cube it holds)."""
    from geomm._version import __version__

    write_json_atomic(
        path / MARKER / "zarr.json",
        {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": {
                "geomm_marker": _MARKER_KIND,
                "geomm_version": __version__,
                _FINGERPRINT: fingerprint,
            },
        },
    )


def _occupied(path: Path) -> bool:
    """Whether something is at ``path`` (an empty folder counts as nothing: no loss)."""
    if path.is_dir() and not path.is_symlink():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


def _is_geomm_store(path: Path) -> bool:
    """Whether ``path`` carries geomm's marker group, or (older stores) both geomm attributes."""
    if not path.is_dir() or path.is_symlink():
        return False
    marker = read_json(path / MARKER / "zarr.json") or {}
    if marker.get("attributes", {}).get("geomm_marker") == _MARKER_KIND:
        return True
    attrs = _attrs(path)
    return _STATUS in attrs and _FINGERPRINT in attrs


def _remove_store(path: Path) -> None:
    """Delete the geomm store at ``path`` and its progress markers; refuse anything else."""
    if not _is_geomm_store(path):
        raise CubeStoreError(
            f"{str(path)!r} exists and was not made by geomm (it has no geomm cube marker); "
            "overwrite=True replaces only a cube store geomm wrote: choose another path, or "
            "move it away yourself"
        )
    shutil.rmtree(path)
    markers = progress_dir(path)
    if markers.is_dir() and all(_BLOCK_NAME.fullmatch(p.name) for p in markers.iterdir()):
        shutil.rmtree(markers)


def _check_existing(path: Path, fingerprint: str, resume: bool) -> str | None:
    """Raise unless the store at ``path`` may be resumed; return its status."""
    if not (path / "zarr.json").is_file() or not _is_geomm_store(path):
        raise CubeStoreError(
            f"{str(path)!r} exists and is not a geomm cube; choose another --out or remove it"
        )
    attrs = _attrs(path)
    status = attrs.get(_STATUS)
    if not resume:
        what = "a complete cube" if status == "complete" else "an interrupted cube"
        hint = "--overwrite to replace it" if status == "complete" else "--resume to continue it"
        raise CubeStoreError(f"{str(path)!r} already holds {what}; pass {hint}")
    if attrs.get(_FINGERPRINT) != fingerprint:
        raise CubeStoreError(
            f"{str(path)!r} was built from different scenes, grid or options; it cannot be "
            "resumed with these arguments: rerun with the original ones, or --overwrite"
        )
    return status


def _direct_targets(pixels: xr.Dataset, path: Path) -> dict[str, zarr.Array] | None:
    """The store's Zarr arrays, when the pixel variables may bypass xarray's encoder.

    That is when their values go to Zarr unchanged (numbers or booleans of the
    stored type, no scale/offset encoding) and every Dask chunk starts on a
    Zarr chunk boundary, so no two tasks share a Zarr chunk. Else ``None``:
    xarray's region writes (which check chunk safety themselves).
    """
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    targets = {}
    for name, var in pixels.data_vars.items():
        # every chunk is written, even an all-fill one: no comparison pass per chunk
        array = group[name].with_config({"write_empty_chunks": True})
        if (
            var.dtype.kind not in "biuf"
            or array.dtype != var.dtype
            or any(k in var.encoding for k in ("scale_factor", "add_offset"))
            or not _aligned(var.chunks, array.chunks)
        ):
            return None
        targets[name] = array
    return targets


def _aligned(dask_chunks: tuple[tuple[int, ...], ...], zarr_chunks: tuple[int, ...]) -> bool:
    return all(
        start % size == 0
        for sizes, size in zip(dask_chunks, zarr_chunks, strict=True)
        for start, _ in _edges(sizes)
    )


def _block_writes(
    pixels: xr.Dataset, path: Path, block: Block, targets: dict[str, zarr.Array] | None
) -> list:
    """Dask objects that write one block of every pixel variable when computed.

    With ``targets``, one task per Dask chunk writes it Zarr chunk by Zarr
    chunk from contiguous arrays, so Zarr encodes them as they are (given a
    larger array, it would allocate and fill each chunk in its single I/O
    thread, then copy into it). Otherwise an xarray region write.
    """
    region = pixels.isel(y=block.y, x=block.x)
    if targets is None:
        return [
            region.to_zarr(
                path,
                region={"time": slice(None), "y": block.y, "x": block.x},
                zarr_format=3,
                consolidated=False,
                write_empty_chunks=True,
                compute=False,
            )
        ]
    writes = []
    for name, var in region.data_vars.items():
        base = [block.y.start if d == "y" else block.x.start if d == "x" else 0 for d in var.dims]
        starts = [[start for start, _ in _edges(sizes)] for sizes in var.data.chunks]
        pieces = var.data.to_delayed(optimize_graph=False)  # keep shared reads shared
        for index in np.ndindex(*pieces.shape):
            origin = tuple(int(b + s[i]) for b, s, i in zip(base, starts, index, strict=True))
            # the Zarr array is bound, not passed: Dask would walk its fields
            # (a dataclass) looking for collections, ~7 ms per call
            write = functools.partial(_write_chunks, array=targets[name], origin=origin)
            writes.append(dask.delayed(write, pure=False)(pieces[index]))
    return writes


def _write_chunks(values: np.ndarray, array: zarr.Array, origin: tuple[int, ...]) -> None:
    """Write ``values`` at ``origin`` (on a chunk boundary) one Zarr chunk at a time."""
    counts = [math.ceil(n / c) for n, c in zip(values.shape, array.chunks, strict=True)]
    for index in np.ndindex(*counts):
        local = tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(index, array.chunks, values.shape, strict=True)
        )
        target = tuple(slice(o + s.start, o + s.stop) for o, s in zip(origin, local, strict=True))
        chunk = values[local]
        if chunk.shape == tuple(array.chunks):
            chunk = np.ascontiguousarray(chunk)  # else Zarr pads it into a new chunk itself
        array[target] = chunk


def _mark_complete(path: Path) -> None:
    """Record the chunk manifest, then the status: a store marked complete has its manifest."""
    write_manifest(path)
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs[_STATUS] = "complete"
    markers = progress_dir(path)
    if markers.is_dir() and all(_BLOCK_NAME.fullmatch(p.name) for p in markers.iterdir()):
        shutil.rmtree(markers)


def _damaged_blocks(path: Path, blocks: list[Block], pixel_names: list[str]) -> list[Block]:
    """The blocks of a complete store holding damaged chunks (checksums compared).

    Raises:
        CubeStoreError: a damaged file is not pixel data (metadata, coordinates,
            per-time variables): those are not written block by block.
    """
    manifest = read_manifest(path)
    if manifest is None:
        return []
    damaged = checksum_damage(path, manifest)
    redo: list[Block] = []
    for chunk in damaged:
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


def _reopen(path: Path, sound: list[Block]) -> None:
    """Turn a complete but damaged store back into an interrupted one, sound blocks marked.

    Markers first, then the status: a SIGKILL in between leaves a complete
    store that the next resume finds damaged again.
    """
    markers = progress_dir(path)
    markers.mkdir(parents=True, exist_ok=True)
    for block in sound:
        (markers / block.name).touch()
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs[_STATUS] = "incomplete"


def _attrs(path: Path) -> dict:
    return (read_json(path / "zarr.json") or {}).get("attributes", {})


def _pixel_names(ds: xr.Dataset) -> list[str]:
    """The variables written block by block: those with y and x dimensions."""
    return [n for n, v in ds.data_vars.items() if {"y", "x"} <= set(v.dims)]


def _fingerprint(ds: xr.Dataset) -> str:
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


def _scheduler() -> Callable | None:
    """Dask's threaded ``get`` when no Dask cluster can be in use, else ``None``.

    Without a scheduler, and even with one named by a string, every
    ``compute`` first imports ``distributed`` to look for a client (~0.3 s of
    a cube build on the reference machine); a callable skips that. There can
    be no client while ``distributed`` is not imported, and a scheduler set in
    ``dask.config`` is left to Dask.
    """
    if dask.config.get("scheduler", None) is not None or "distributed" in sys.modules:
        return None
    return dask.threaded.get


def _compressors() -> tuple:
    """Blosc LZ4 with byte shuffle for pixel variables.

    About 2x faster to write than zarr's default zstd at a similar ratio on
    reflectance and backscatter (docs/benchmarks.md).
    """
    return (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)


def _chunk_edge(ds: xr.Dataset) -> int | None:
    """Zarr chunk edge in pixels from the cube's attributes (None: follow Dask)."""
    if "chip_size" in ds.attrs and "chunk_chips" in ds.attrs:
        return int(ds.attrs["chip_size"]) * int(ds.attrs["chunk_chips"])
    return None


def _chunks(var: xr.DataArray, edge: int | None) -> tuple[int, ...]:
    """Zarr chunks of a pixel variable: ``edge`` in y and x, else its Dask chunks.

    A built cube's Dask chunks span several Zarr chunks (``task_chunks``);
    ``edge`` is used where every Dask chunk but the last is a whole number of
    it, so no two region writes share a Zarr chunk.
    """

    def size(dim: str, dask_chunks: tuple[int, ...]) -> int:
        if edge and dim in ("y", "x") and all(c % edge == 0 for c in dask_chunks[:-1]):
            return min(edge, var.sizes[dim])
        return max(dask_chunks)

    return tuple(size(d, c) for d, c in zip(var.dims, var.chunks, strict=True))


def _edges(sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    out, start = [], 0
    for size in sizes:
        out.append((start, start + size))
        start += size
    return out
