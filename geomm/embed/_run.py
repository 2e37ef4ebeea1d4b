"""``embed_cube``: a cube in, a GeoParquet table of chip embeddings out.

Work is split into blocks, one per Zarr chunk of the cube (``chunk_chips``
x ``chunk_chips`` chips, every time step), so the graph stays small for any
AOI and each chunk is read once. A block is read, its chip-times filtered
(clear sky, S1 coverage), embedded in batches (:mod:`._block`), and written
as one Parquet part in ``<out>.parts/`` the moment it is done: the part's
atomic rename is its completion marker, so a rerun with ``resume=True``
embeds only the blocks without a part (:mod:`._folder`), and no chip is
computed twice. The table at ``out`` appears only at the end, merged and
sorted, so an interrupted run never leaves a table that looks complete.

One run at a time writes a table: the run holds the table's lease
(:mod:`geomm._lease`) from its first look at ``out`` to the merge, and
merges only when every block that ``run.json`` lists has its part. Blocks
run here or on a Dask cluster (:mod:`._runners`).

The model is known only through its :class:`~geomm.models.ModelInfo`: the
cube must have the variables it reads and chips of a size it accepts, or
the run is refused before any work.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomm._lease import LeaseInfo, check_held, write_lease
from geomm._version import __version__
from geomm.embed._config import EmbedConfig
from geomm.embed._folder import (
    RunTotals,
    check_complete,
    check_table_path,
    manifest,
    parts_dir,
    prepare,
    read_totals,
    trusted_parts,
)
from geomm.embed._runners import BlocksRun
from geomm.embed._runners import run_dask as _run_dask
from geomm.embed._runners import run_local as _run_local
from geomm.embed._table import merge_parts, table_schema
from geomm.errors import EmbedError, GeommError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.aoi import Aoi
    from geomm.chips import ChipBlock
    from geomm.models import ModelInfo

__all__ = ["EmbedReport", "check_table_path", "embed_cube", "parts_dir"]

_WHAT = "embedding table"


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
    """Blocks of the table."""
    blocks_resumed: int
    """Blocks already done by an interrupted earlier run."""
    seconds: float
    """Wall-clock time of this call."""
    model: str
    """Registered model name."""
    weights_id: str
    """The model's weights (file name and sha256 prefix, or ``random:seed=N``)."""
    precision: str
    """The precision the model ran in."""

    @property
    def chips_per_second(self) -> float:
        """Chip-times embedded per second of this call."""
        return self.embedded_now / self.seconds if self.seconds > 0 else float("nan")


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
    out = check_table_path(out)
    job, info = _plan(cube, out, aoi=aoi, config=config or EmbedConfig(), scheduler=scheduler)
    try:
        # resume continues a dead run's parts, overwrite replaces them: either may take
        # over its stale lease; a plain run never does
        with write_lease(out, what=_WHAT, takeover=resume or overwrite) as lease:
            prepare(out, job.parts, job.manifest, resume=resume, overwrite=overwrite)
            return _embed(job, info, began, progress, on_start, lease=lease)
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
    """Model (its defaults resolved), embeddings, thresholds, batch size."""
    names: tuple[str, ...]
    """Embedding names, the default first."""
    blocks: list[ChipBlock]
    """Every block of the table, in order."""
    scheduler: str | None
    """Where the blocks run (see :func:`embed_cube`)."""
    chip_size: int
    """The cube's chip edge in pixels (0: the cube does not say)."""
    manifest: dict[str, Any]
    """The run's ``run.json``."""


def _plan(
    cube: str | Path | xr.Dataset,
    out: Path,
    *,
    aoi: Aoi | None,
    config: EmbedConfig,
    scheduler: str | None,
) -> tuple[_Job, ModelInfo]:
    """Open the cube, check it against the model, and list its blocks."""
    from geomm.chips import chip_blocks, cube_chips

    source, ds = _source(cube, scheduler)
    info = config.model.check()
    config = config.resolved(info)
    names = config.columns(info)
    chip_size = int(ds.attrs.get("chip_size", 0))
    check_cube_fits(ds, info, chip_size)
    chips = cube_chips(ds, aoi)
    blocks = chip_blocks(ds, chips)
    run = manifest(ds, config, chips=chips, names=names, blocks=blocks)
    job = _Job(
        source=source,
        ds=ds,
        cube=cube,
        out=out,
        parts=parts_dir(out),
        config=config,
        names=tuple(names),
        blocks=blocks,
        scheduler=scheduler,
        chip_size=chip_size,
        manifest=run,
    )
    return job, info


def check_chip_size(info: ModelInfo, chip_size: int) -> None:
    """Refuse chips of ``chip_size`` px that the model cannot take.

    Raises:
        EmbedError: naming ``CubeConfig(chip_size=...)`` and a size that fits.
    """
    if info.accepts_chip_size(chip_size):
        return
    sizes = (
        f"one of {', '.join(map(str, info.chip_sizes))} px"
        if info.chip_sizes
        else f"a multiple of {info.chip_multiple} px"
    )
    raise EmbedError(
        f"the cube's {chip_size} px chips do not fit model {info.name!r}, which takes chips "
        f"of {sizes}: build the cube with CubeConfig(chip_size={info.chip_size_near(chip_size)}) "
        f"(or another size that fits), or choose a model that takes {chip_size} px chips"
    )


def check_cube_fits(ds: xr.Dataset, info: ModelInfo, chip_size: int) -> None:
    """Refuse a cube whose chips the model cannot take, or that lacks a variable it reads.

    Raises:
        EmbedError: the chip size is not one the model accepts
            (:func:`check_chip_size`), or a variable of ``info.cube_variables``
            or a band of ``info.bands`` is missing.
    """
    if chip_size:
        check_chip_size(info, chip_size)
    missing = [v for v in info.cube_variables if v not in ds.data_vars]
    if missing:
        raise EmbedError(
            f"the cube has no variable(s) {missing}, which model {info.name!r} reads "
            f"({', '.join(info.cube_variables)}); embed a cube built by geomm.cube.make_cube"
        )
    for modality in info.modalities:
        coord = f"{modality}_band"
        have = {str(b) for b in ds[coord].values} if coord in ds.coords else None
        lacking = [b for b in info.bands[modality] if have is not None and b not in have]
        if lacking:
            raise EmbedError(
                f"model {info.name!r} reads {modality} bands {list(info.bands[modality])}; "
                f"the cube has no {lacking}"
            )


def _embed(
    job: _Job,
    info: ModelInfo,
    began: float,
    progress: Callable[[ChipBlock], None] | None,
    on_start: Callable[[int, int], None] | None,
    *,
    lease: LeaseInfo,
) -> EmbedReport:
    """Embed the blocks without a trusted part, check every part is there, merge."""
    config, names, parts, blocks = job.config, job.names, job.parts, job.blocks
    done = trusted_parts(parts, [b.name for b in blocks])
    todo = [b for b in blocks if b.name not in done]
    if on_start:
        on_start(len(todo), len(blocks) - len(todo))
    ran = _run_blocks(job, todo, progress)
    check_complete(job.out, parts)
    totals = read_totals(parts, [b.name for b in blocks])
    metadata = _metadata(job, totals, ran.model or totals.model)
    check_held(job.out, lease)  # a run taken over while stalled never writes the table
    schema = table_schema({n: info.embeddings[n] for n in names}, names[0])
    merge_parts(parts, job.out, metadata, schema=schema)
    shutil.rmtree(parts, ignore_errors=True)
    return EmbedReport(
        path=job.out,
        rows=totals.rows,
        skipped_clear=totals.skipped_clear,
        skipped_s1=totals.skipped_s1,
        embedded_now=ran.computed,
        blocks_total=len(blocks),
        blocks_resumed=len(blocks) - len(todo),
        seconds=time.perf_counter() - began,
        model=config.model.name,
        weights_id=metadata["weights_id"],
        precision=metadata["precision"],
    )


def _run_blocks(
    job: _Job, todo: list[ChipBlock], progress: Callable[[ChipBlock], None] | None
) -> BlocksRun:
    """Embed ``todo`` here or on the job's cluster (looked up here, so tests can wrap them)."""
    if job.scheduler is None:
        return _run_local(
            job.source, todo, config=job.config, names=job.names, parts=job.parts, progress=progress
        )
    return _run_dask(
        job.source,
        todo,
        config=job.config,
        names=job.names,
        parts=job.parts,
        progress=progress,
        scheduler=job.scheduler,
    )


def _metadata(job: _Job, totals: RunTotals, model: Mapping[str, str]) -> dict[str, Any]:
    """The table's ``geomm`` metadata: model, settings, cube, skip counts."""
    from xarray import Dataset

    config, ds, cube = job.config, job.ds, job.cube
    return {
        "geomm_version": __version__,
        "model": config.model.name,
        "weights_id": model.get("weights_id", ""),
        "precision": model.get("precision", ""),
        "normalization": config.model.normalization,
        "embeddings": list(job.names),
        "default_embedding": job.names[0],
        "min_clear": config.min_clear,
        "min_s1_coverage": config.min_s1_coverage,
        "cube": str(cube) if not isinstance(cube, Dataset) else ds.encoding.get("source", ""),
        "cube_fingerprint": ds.attrs.get("geomm_fingerprint", ""),
        "chip_size": job.chip_size,
        "crs": ds.attrs.get("crs", ""),
        "skipped_clear": totals.skipped_clear,
        "skipped_s1": totals.skipped_s1,
    }


def _source(
    cube: str | Path | xr.Dataset, scheduler: str | None
) -> tuple[Path | xr.Dataset, xr.Dataset]:
    """The cube as blocks are read from it (a path on a cluster), and opened."""
    from xarray import Dataset

    from geomm.cube import open_cube

    if isinstance(cube, Dataset):
        path = cube.encoding.get("source")
        if scheduler is not None and path:
            return Path(path), cube
        return cube, cube
    path = Path(cube)
    return path, open_cube(path)
