"""``embed_cube``: a cube in, a GeoParquet table of chip embeddings out.

Work is split into blocks, one per Zarr chunk of the cube (``chunk_chips``
x ``chunk_chips`` chips, every time step), so the graph stays small for any
AOI and each chunk is read once. A block is read, its chip-times filtered
(clear sky, S1 coverage), embedded in batches, and written as one Parquet
part in ``<out>.parts/`` the moment it is done: the part's atomic rename is
its completion marker, so a rerun with ``resume=True`` embeds only the
blocks without a part, and no chip is computed twice. The table at ``out``
appears only at the end, merged and sorted, so an interrupted run never
leaves a table that looks complete.

One run at a time writes a table: the run holds the table's lease
(:mod:`geomm._lease`) from its first look at ``out`` to the merge, and
merges only when every block that ``run.json`` lists has its part. On
resume, a part or stats file that does not read back is redone, not
trusted; ``overwrite=True`` replaces only a table geomm wrote (its Parquet
metadata says so) and a parts folder with geomm's ``run.json``.

Locally, the next block is read on a thread while the model computes the
current one. With a Dask scheduler each block is one task on a worker; the
model is loaded once per worker process (:meth:`ModelSpec.load` is cached)
and never travels in the graph; tasks are submitted a few per worker at a
time, so the scheduler holds a bounded number of them whatever the AOI, and
a task lost with a killed worker is simply run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from geomm._lease import LeaseInfo, check_held, write_lease
from geomm._outputs import refuse_url
from geomm._version import __version__
from geomm.aoi import Aoi
from geomm.chips import ChipBlock, chip_blocks, cube_chips, read_block, read_block_from_store
from geomm.embed._config import EmbedConfig, EmbedError, required_inputs
from geomm.embed._table import (
    completed_parts,
    is_geomm_table,
    merge_parts,
    part_rows,
    table_part,
    table_schema,
    write_part,
)
from geomm.errors import GeommError

__all__ = ["EmbedReport", "embed_block", "embed_cube", "parts_dir"]

_RUN_FILE = "run.json"
_STATS_SUFFIX = ".stats.json"
_RUN_KIND = "geomm-embed-run"
_STAT_KEYS = ("rows", "skipped_clear", "skipped_s1")
_WHAT = "embedding table"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedReport:
    """What an ``embed_cube`` call did."""

    path: Path
    """The GeoParquet table."""
    rows: int
    """Chip-times in the table (this run and resumed ones)."""
    skipped_clear: int
    """Chip-times left out for too little clear sky (whole table)."""
    skipped_s1: int
    """Chip-times left out for too little S1 coverage (whole table)."""
    embedded_now: int
    """Chip-times embedded by this call (the rest came from an earlier run)."""
    blocks_total: int
    blocks_resumed: int
    """Blocks already done by an interrupted earlier run."""
    seconds: float
    model: str
    weights_id: str
    precision: str

    @property
    def chips_per_second(self) -> float:
        """Chip-times embedded per second of this call."""
        return self.embedded_now / self.seconds if self.seconds > 0 else float("nan")


def check_table_path(out: str | Path) -> Path:
    """``out`` as a table path, or an EmbedError when it names a folder.

    The table is one file; ``.`` or an existing folder would make its run
    folder and cube siblings of the user's own folder.
    """
    refuse_url(out, what=_WHAT)
    out = Path(out)
    if out.name in ("", ".", "..") or out.is_dir():
        raise EmbedError(
            f"{str(out)!r} is a folder; the embedding table is a file: give a path such as "
            f"{str(out / 'embeddings.parquet')!r}"
        )
    return out


def parts_dir(out: str | Path) -> Path:
    """Folder of the per-block parts of an unfinished table at ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def embed_cube(
    cube: str | Path | xr.Dataset,
    out: str | Path,
    *,
    aoi: Aoi | None = None,
    config: EmbedConfig | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[ChipBlock], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> EmbedReport:
    """Embed every chip of ``cube`` (inside ``aoi``) into a GeoParquet table.

    Args:
        cube: a cube store path (``geomm cube`` output) or an opened/built cube.
        out: the GeoParquet file to write.
        aoi: only chips intersecting it; default every chip of the cube.
        config: model, embeddings, skip thresholds, batch size.
        scheduler: ``None`` (this process), ``"local"`` (a LocalCluster) or the
            address of a running ``dask scheduler``; a cluster needs ``cube``
            to be a store path every worker can read, and ``out``'s folder
            shared with the workers.
        resume: continue an interrupted run with the same cube and settings.
        overwrite: replace an existing table (and any interrupted run).
        progress: called after each block is written.
        on_start: called once with (blocks to embed, blocks already done).

    Raises:
        EmbedError: ``out`` exists, an interrupted run is in the way, the
            settings differ from the run being resumed, the cube does not
            fit the model, ``overwrite`` would replace files geomm did not
            write, the run folder is damaged, or a file cannot be written
            (disk full, no permission).
        StoreInUseError: another run is writing ``out``.
    """
    began = time.perf_counter()
    config = config or EmbedConfig()
    out = check_table_path(out)
    source, ds = _source(cube, scheduler)
    info = config.model.check()
    names = config.columns(info)
    chip_size = int(ds.attrs.get("chip_size", 0))
    if chip_size and chip_size % info.chip_multiple:
        raise EmbedError(
            f"the cube's {chip_size} px chips are not a multiple of {info.chip_multiple} px, "
            f"which {info.name} needs; rebuild the cube with --chip-size "
            f"{max(info.chip_multiple, chip_size // info.chip_multiple * info.chip_multiple)}"
        )
    chips = cube_chips(ds, aoi)
    blocks = chip_blocks(ds, chips)
    parts = parts_dir(out)
    manifest = _manifest(ds, config, chips, names, blocks)
    job = _Job(source, ds, cube, out, parts, config, tuple(names), blocks, scheduler)
    try:
        # resume continues a dead run's parts, overwrite replaces them: either may take
        # over its stale lease; a plain run never does
        with write_lease(out, what=_WHAT, takeover=resume or overwrite) as lease:
            _prepare(out, parts, manifest, resume=resume, overwrite=overwrite)
            return _embed(job, info, chip_size, began, progress, on_start, lease=lease)
    except OSError as e:
        if isinstance(e, GeommError):  # an unreadable scene or cube says so itself
            raise
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        raise EmbedError(
            f"cannot write the embedding table {str(out)!r} or its parts{where}: "
            f"{e.strerror or e}. Check that its folder is writable and the disk has room, "
            "then rerun with resume=True to keep the blocks already embedded"
        ) from e


@dataclass(frozen=True)
class _Job:
    """What one ``embed_cube`` call embeds, and where."""

    source: Path | xr.Dataset
    """The cube as its blocks are read: a store path, or the dataset itself."""
    ds: xr.Dataset
    """The cube, opened."""
    cube: str | Path | xr.Dataset
    """The cube as the caller named it (recorded in the table's metadata)."""
    out: Path
    """The table."""
    parts: Path
    """The run folder of parts (``parts_dir(out)``)."""
    config: EmbedConfig
    """Model, embeddings, thresholds, batch size."""
    names: tuple[str, ...]
    """Embedding names, the default first."""
    blocks: list[ChipBlock]
    """Every block of the table, in order."""
    scheduler: str | None
    """Where the blocks run (see :func:`embed_cube`)."""


def _embed(
    job: _Job, info, chip_size: int, began: float, progress, on_start, *, lease: LeaseInfo
) -> EmbedReport:
    """Embed the blocks without a trusted part, check every part is there, merge."""
    config, names, parts, blocks, ds = job.config, job.names, job.parts, job.blocks, job.ds
    done = _trusted_parts(parts, [b.name for b in blocks])
    todo = [b for b in blocks if b.name not in done]
    if on_start:
        on_start(len(todo), len(blocks) - len(todo))
    if job.scheduler is None:
        model_meta, computed = _run_local(job.source, todo, config, names, parts, progress)
    else:
        model_meta, computed = _run_dask(
            job.source, todo, config, names, parts, progress, job.scheduler
        )
    _check_complete(job.out, parts)
    stats = _read_stats(parts, [b.name for b in blocks])
    model_meta = model_meta or stats.get("model") or {}
    cube = job.cube
    metadata = {
        "geomm_version": __version__,
        "model": config.model.name,
        "weights_id": model_meta.get("weights_id", ""),
        "precision": model_meta.get("precision", ""),
        "normalization": config.model.normalization,
        "embeddings": list(names),
        "default_embedding": names[0],
        "min_clear": config.min_clear,
        "min_s1_coverage": config.min_s1_coverage,
        "cube": str(cube) if not isinstance(cube, xr.Dataset) else ds.encoding.get("source", ""),
        "cube_fingerprint": ds.attrs.get("geomm_fingerprint", ""),
        "chip_size": chip_size,
        "crs": ds.attrs.get("crs", ""),
        "skipped_clear": stats["skipped_clear"],
        "skipped_s1": stats["skipped_s1"],
    }
    check_held(job.out, lease)  # a run taken over while stalled never writes the table
    merge_parts(
        parts,
        job.out,
        metadata,
        schema=table_schema({n: info.embeddings[n] for n in names}, names[0]),
    )
    shutil.rmtree(parts, ignore_errors=True)
    return EmbedReport(
        path=job.out,
        rows=stats["rows"],
        skipped_clear=stats["skipped_clear"],
        skipped_s1=stats["skipped_s1"],
        embedded_now=computed,
        blocks_total=len(blocks),
        blocks_resumed=len(blocks) - len(todo),
        seconds=time.perf_counter() - began,
        model=config.model.name,
        weights_id=metadata["weights_id"],
        precision=metadata["precision"],
    )


def embed_block(
    source: str | Path | xr.Dataset,
    block: ChipBlock,
    config: EmbedConfig,
    names: Sequence[str],
    parts: Path,
    data=None,
) -> dict:
    """Read (unless given), embed and write one block; runs in any process.

    Each batch is saved as it is computed (``<parts>/<block>/<batch>.parquet``),
    so a block interrupted halfway (a killed run or Dask worker) resumes at
    its next batch and no chip is embedded twice; batches are deterministic
    (chip-major order, ``batch_size`` is part of the run's fingerprint). The
    finished block becomes one part, its stats file written first, so a part
    that exists always has its counts.

    Returns:
        The block's counts, the chip-times computed by this call
        (``computed``: fewer than ``rows`` when resuming a block), and the
        model's resolved weights id and precision.
    """
    model = config.model.load()
    if data is None:
        data = (
            read_block(source, block)
            if isinstance(source, xr.Dataset)
            else read_block_from_store(source, block)
        )
    needed = required_inputs(model.info, names)
    keep, stats = _selection(data, config, needed)
    cs, ts = np.nonzero(keep.T)  # chip-major: a chip's times sit together
    batches = parts / block.name
    batches.mkdir(exist_ok=True)
    done = completed_parts(batches)
    computed = 0
    for number, start in enumerate(range(0, len(ts), config.batch_size)):
        name = f"{number:06d}"
        if name in done:
            continue
        t, c = ts[start : start + config.batch_size], cs[start : start + config.batch_size]
        result = model.embed(
            data.s1[t, c] if "s1" in needed else None,
            data.s2[t, c] if "s2" in needed else None,
            outputs=list(names),
        )
        part = table_part(
            chips=[data.chips[i] for i in c],
            times=data.times[t],
            s1_times=data.s1_times[t],
            clear_fraction=data.clear_fraction[t, c],
            s1_coverage=data.s1_coverage[t, c],
            embeddings={n: np.asarray(result[n], dtype=np.float32) for n in names},
            default=names[0],
        )
        write_part(part, batches, name)
        computed += len(t)
    stats["model"] = {"weights_id": model.weights_id, "precision": model.precision}
    _write_json_atomic(parts / (block.name + _STATS_SUFFIX), stats)
    schema = table_schema({n: model.info.embeddings[n] for n in names}, names[0])
    merge_parts(batches, parts / f"{block.name}.parquet", {}, schema=schema)
    shutil.rmtree(batches, ignore_errors=True)
    return {**stats, "computed": computed}


# --------------------------------------------------------------------------- internals


def _selection(data, config: EmbedConfig, needed: frozenset[str]):
    """Which (time, chip) of a block to embed, and how many were skipped and why."""
    keep = np.ones(data.clear_fraction.shape, dtype=bool)  # (time, chip)
    skipped_clear = skipped_s1 = 0
    if "s2" in needed:
        low = data.clear_fraction < config.min_clear
        skipped_clear = int(low.sum())
        keep &= ~low
    if "s1" in needed:
        low = (data.s1_coverage < config.min_s1_coverage) & keep
        skipped_s1 = int(low.sum())
        keep &= ~low
    stats = {"rows": int(keep.sum()), "skipped_clear": skipped_clear, "skipped_s1": skipped_s1}
    return keep, stats


def _run_local(source, todo, config, names, parts, progress) -> tuple[dict | None, int]:
    """Blocks one after another; the next block is read while this one computes.

    Returns the model's metadata and the chip-times computed.
    """
    meta, computed = None, 0
    if not todo:
        return meta, computed
    reader = (
        (lambda b: read_block(source, b))
        if isinstance(source, xr.Dataset)
        else (lambda b: read_block_from_store(source, b))
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geomm-read") as pool:
        pending = pool.submit(reader, todo[0])
        for i, block in enumerate(todo):
            data = pending.result()
            if i + 1 < len(todo):
                pending = pool.submit(reader, todo[i + 1])
            stats = embed_block(source, block, config, names, parts, data=data)
            meta, computed = stats["model"], computed + stats["computed"]
            if progress:
                progress(block)
    return meta, computed


def _run_dask(source, todo, config, names, parts, progress, scheduler) -> tuple[dict | None, int]:
    """One task per block on a cluster, a bounded number in flight.

    Returns the model's metadata and the chip-times computed.
    """
    from distributed import as_completed

    from geomm.cube import dask_scheduler

    if isinstance(source, xr.Dataset):
        raise EmbedError(
            "a Dask cluster reads the cube from its store: pass the cube's path "
            "(or a cube opened with geomm.cube.open_cube)"
        )
    meta, computed = None, 0
    with dask_scheduler(scheduler) as client:
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        window = max(4, 2 * workers)
        queue = list(todo)
        running = as_completed()
        fingerprint = config.fingerprint()
        block_of: dict[str, ChipBlock] = {}

        def submit(block: ChipBlock) -> None:
            key = f"geomm-embed-{block.name}-{fingerprint}"
            block_of[key] = block
            running.add(
                client.submit(
                    embed_block,
                    str(source),
                    block,
                    config,
                    tuple(names),
                    parts,
                    key=key,
                    retries=2,
                    pure=False,
                )
            )

        for _ in range(min(window, len(queue))):
            submit(queue.pop(0))
        for future in running:
            stats = future.result()
            meta, computed = stats["model"], computed + stats["computed"]
            if progress:
                progress(block_of[future.key])
            if queue:
                submit(queue.pop(0))
    return meta, computed


def _source(cube, scheduler):
    from geomm.cube import open_cube

    if isinstance(cube, xr.Dataset):
        path = cube.encoding.get("source")
        if scheduler is not None and path:
            return Path(path), cube
        return cube, cube
    path = Path(cube)
    return path, open_cube(path)


def _manifest(ds: xr.Dataset, config: EmbedConfig, chips, names, blocks) -> dict:
    ids = hashlib.sha256("\n".join(c.chip_id for c in chips).encode()).hexdigest()[:16]
    return {
        "kind": _RUN_KIND,
        "cube_fingerprint": ds.attrs.get("geomm_fingerprint", ""),
        "times": [str(t) for t in ds.time.values],
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "embeddings": list(names),
        "chips": ids,
        "blocks": [b.name for b in blocks],
    }


def _prepare(out: Path, parts: Path, manifest: dict, *, resume: bool, overwrite: bool) -> None:
    """Leave ``parts`` ready for this run (new, or the resumed one), or refuse."""
    if out.is_dir():
        raise EmbedError(f"{str(out)!r} is a folder; --out must be a .parquet file path")
    if overwrite:
        _remove_previous(out, parts)
    if out.exists():
        raise EmbedError(f"{str(out)!r} already exists; pass --overwrite to replace it")
    run_file = parts / _RUN_FILE
    if parts.is_dir() and not any(parts.iterdir()):  # killed before its run file: nothing yet
        _write_json_atomic(run_file, manifest)
        return
    if parts.exists():
        if not resume:
            raise EmbedError(
                f"an interrupted run left its parts in {str(parts)!r}; pass --resume to "
                "continue it, or --overwrite to start again"
            )
        if _read_run_file(parts) != manifest:
            raise EmbedError(
                f"the interrupted run in {str(parts)!r} used another cube, AOI or settings; "
                "rerun with the original arguments, or --overwrite to start again"
            )
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    parts.mkdir(parents=True)
    _write_json_atomic(run_file, manifest)


def _remove_previous(out: Path, parts: Path) -> None:
    """Delete the table and run folder geomm wrote at ``out``; refuse anything else."""
    if out.exists() and not is_geomm_table(out):
        raise EmbedError(
            f"{str(out)!r} exists and is not an embedding table geomm wrote (its Parquet "
            "metadata has no geomm entry); overwrite=True replaces only geomm's tables: "
            "choose another out path, or move the file away yourself"
        )
    if parts.exists() and not (
        (parts / _RUN_FILE).is_file() or (parts.is_dir() and not any(parts.iterdir()))
    ):
        raise EmbedError(
            f"{str(parts)!r} is in the way of the table's run folder and geomm did not make "
            f"it (it has no {_RUN_FILE}); choose another out path, or move it away yourself"
        )
    out.unlink(missing_ok=True)
    if parts.exists():
        shutil.rmtree(parts)


def _read_run_file(parts: Path) -> dict | None:
    """The manifest of the run in ``parts`` (None: there is none).

    Raises:
        EmbedError: it is there but does not read as a run manifest.
    """
    run_file = parts / _RUN_FILE
    if not run_file.is_file():
        return None
    try:
        value = json.loads(run_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise EmbedError(
            f"the run file {str(run_file)!r} of the interrupted run is unreadable ({e}), so "
            "the run cannot be resumed: rerun with overwrite=True to start again"
        ) from e
    return value if isinstance(value, dict) else {}


def _trusted_parts(parts: Path, names: Sequence[str]) -> set[str]:
    """The blocks among ``names`` whose part and stats read back and agree.

    A part or stats file that was damaged since it was written (they are
    written atomically, so only by something else) is removed, with its
    block's leftovers, so the block is embedded again instead of trusted.
    """
    trusted = set()
    for name in sorted(completed_parts(parts) & set(names)):
        stats = _stats_of(parts, name)
        rows = part_rows(parts / f"{name}.parquet")
        if stats is not None and rows is not None and rows == stats["rows"]:
            trusted.add(name)
            continue
        log.warning("block %s of %s does not read back; embedding it again", name, parts)
        (parts / f"{name}.parquet").unlink(missing_ok=True)
        (parts / f"{name}{_STATS_SUFFIX}").unlink(missing_ok=True)
        shutil.rmtree(parts / name, ignore_errors=True)
    return trusted


def _stats_of(parts: Path, name: str) -> dict | None:
    """A block's stats, or None when the file is missing or does not read as stats."""
    try:
        stats = json.loads((parts / f"{name}{_STATS_SUFFIX}").read_text())
        return stats if all(isinstance(stats.get(k), int) for k in _STAT_KEYS) else None
    except (OSError, ValueError, AttributeError):
        return None


def _check_complete(out: Path, parts: Path) -> None:
    """Raise unless every block the run file lists has its part and stats (before a merge)."""
    manifest = _read_run_file(parts)
    if manifest is None:
        raise EmbedError(
            f"the run file {str(parts / _RUN_FILE)!r} disappeared during the run, so "
            f"{str(out)!r} cannot be checked; something else changed the folder: rerun with "
            "overwrite=True"
        )
    listed = manifest.get("blocks", [])
    have = completed_parts(parts)
    missing = [n for n in listed if n not in have or _stats_of(parts, n) is None]
    if missing:
        raise EmbedError(
            f"the run folder {str(parts)!r} lacks {len(missing)} of the {len(listed)} blocks "
            f"its {_RUN_FILE} lists ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}"
            f"), so {str(out)!r} would be short; something else changed the folder: rerun "
            "with resume=True to embed them again"
        )


def _read_stats(parts: Path, names: Sequence[str]) -> dict:
    total = {"rows": 0, "skipped_clear": 0, "skipped_s1": 0}
    for name in names:
        path = parts / (name + _STATS_SUFFIX)
        if not path.is_file():
            continue
        stats = _stats_of(parts, name)
        if stats is None:
            raise EmbedError(
                f"the stats file {str(path)!r} is unreadable; rerun with resume=True to embed "
                "its block again"
            )
        for key in _STAT_KEYS:
            total[key] += int(stats[key])
        total["model"] = stats.get("model")
    return total


def _write_json_atomic(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)
