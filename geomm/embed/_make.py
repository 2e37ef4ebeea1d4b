"""``make_embeddings``: the whole ``geomm embed`` job as one call.

Search and cube (or an existing cube), then :func:`embed_cube`. The CLI and
notebooks both call this; it only wires :mod:`geomm.cube` to the embedding
runner, like :func:`geomm.cube.make_cube` wires the search to the cube.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomm.cube import DEFAULT_MAX_SIZE, CubeConfig, CubeRun, make_cube
from geomm.embed._config import EmbedConfig
from geomm.embed._folder import check_table_path
from geomm.embed._run import EmbedReport, check_chip_size, embed_cube
from geomm.errors import EmbedError

if TYPE_CHECKING:
    from geomm.aoi import Aoi
    from geomm.chips import ChipBlock

__all__ = ["EmbedRun", "cube_path_for", "make_embeddings"]


@dataclass(frozen=True)
class EmbedRun:
    """What a ``make_embeddings`` call produced."""

    report: EmbedReport
    """The embedding stage."""
    cube_path: Path
    """The cube that was embedded."""
    cube: CubeRun | None
    """The cube stage, when this call built the cube (``None``: an existing cube)."""
    seconds: float
    """Wall-clock time of the whole call."""


def cube_path_for(out: str | Path) -> Path:
    """Where ``geomm embed`` keeps the cube it builds: beside the table.

    ``emb.parquet`` -> ``emb.cube.zarr``: a rerun with ``resume=True`` finds
    it, and the table's metadata names it.
    """
    out = Path(out)
    return out.with_name(out.stem + ".cube.zarr")


@dataclass(frozen=True)
class _Request:
    """The arguments of one :func:`make_embeddings` call."""

    aoi: Aoi
    """Area of interest; only chips intersecting it are embedded."""
    out: Path
    """The GeoParquet table to write."""
    catalog: str
    """Provider name, STAC API URL or static catalog path."""
    start: str | None
    """First day (inclusive) of the cube to build."""
    end: str | None
    """Last day (inclusive) of the cube to build."""
    cube: str | Path | None
    """An existing cube store to embed instead of building one."""
    collections: Sequence[str] | None
    """S1 and S2 collections; default the profile's."""
    max_cloud: float | None
    """Drop S2 scenes cloudier than this (percent)."""
    cube_config: CubeConfig | None
    """Grid, pairing and resampling of the cube built here."""
    config: EmbedConfig
    """Model, embeddings, skip thresholds, batch size."""
    scheduler: str | None
    """None (this process), ``"local"`` or a scheduler address; both stages."""
    max_size: int | None
    """Largest uncompressed cube to build, bytes (None: no limit)."""
    resume: bool
    """Continue an interrupted run (cube and table)."""
    overwrite: bool
    """Replace an existing table (and the cube this job built)."""
    on_stage: Callable[[str, int, int], None] | None
    """Called as each stage starts: (stage, blocks to do, blocks done)."""
    progress: Callable[[str], None] | None
    """Called with the stage name after each block."""
    allow_outside_catalog: bool
    """A trusted local catalog may reference files outside its folder."""

    def dates(self) -> tuple[str, str]:
        """``(start, end)`` of the cube to build.

        Raises:
            EmbedError: one is missing.
        """
        if not self.start or not self.end:
            raise EmbedError(
                "give start= and end= to build a cube over the AOI, or cube= with an existing one"
            )
        return self.start, self.end


def make_embeddings(
    *,
    aoi: Aoi,
    out: str | Path,
    catalog: str = "sample",
    start: str | None = None,
    end: str | None = None,
    cube: str | Path | None = None,
    collections: Sequence[str] | None = None,
    max_cloud: float | None = None,
    cube_config: CubeConfig | None = None,
    config: EmbedConfig | None = None,
    scheduler: str | None = None,
    max_size: int | None = DEFAULT_MAX_SIZE,
    resume: bool = False,
    overwrite: bool = False,
    on_stage: Callable[[str, int, int], None] | None = None,
    progress: Callable[[str], None] | None = None,
    allow_outside_catalog: bool = False,
) -> EmbedRun:
    """Search, build the cube (unless ``cube`` is given) and embed its chips.

    ``catalog``, ``start`` and ``end`` (needed unless ``cube`` is given),
    ``collections``, ``max_cloud``, ``cube_config``, ``max_size`` (bytes,
    default 50 GB) and ``allow_outside_catalog`` build the cube beside
    ``out`` (:func:`cube_path_for`), as :func:`geomm.cube.make_cube` does;
    ``aoi``, ``config``, ``scheduler``, ``resume`` and ``overwrite`` apply to
    both stages as in :func:`embed_cube`. ``on_stage`` is called as each
    stage (``"cube"``, ``"embed"``) starts, with the stage and its blocks to
    do and already done; ``progress`` with the stage after each block.

    Raises:
        EmbedError: no ``cube`` and no dates, or chips the model cannot take.
        SizeLimitError: the cube to build would be larger than ``max_size``.
    """
    request = _Request(
        aoi=aoi,
        out=check_table_path(out),
        catalog=catalog,
        start=start,
        end=end,
        cube=cube,
        collections=collections,
        max_cloud=max_cloud,
        cube_config=cube_config,
        config=config or EmbedConfig(),
        scheduler=scheduler,
        max_size=max_size,
        resume=resume,
        overwrite=overwrite,
        on_stage=on_stage,
        progress=progress,
        allow_outside_catalog=allow_outside_catalog,
    )
    return _make(request)


def _make(r: _Request) -> EmbedRun:
    began = time.perf_counter()
    if r.cube is None:
        r.dates()
    info = r.config.model.check()
    config = r.config.resolved(info)  # model, weights, embedding names: before any cube
    config.columns(info)
    if r.cube is None:  # chips the model cannot take: said before any search
        check_chip_size(info, (r.cube_config or CubeConfig()).chip_size)
    if r.scheduler is None:
        config.model.load()  # weights problems show here, not after the cube
    cube_run = None
    cube = r.cube
    if cube is None:
        cube = cube_path_for(r.out)
        cube_run = _build_cube(r, cube)
    on_stage, progress = r.on_stage, r.progress

    def embed_progress(_block: ChipBlock) -> None:
        if progress:
            progress("embed")

    report = embed_cube(
        cube,
        r.out,
        aoi=r.aoi,
        config=config,
        scheduler=r.scheduler,
        resume=r.resume,
        overwrite=r.overwrite,
        progress=embed_progress,
        on_start=(lambda todo, done: on_stage("embed", todo, done)) if on_stage else None,
    )
    return EmbedRun(report, Path(cube), cube_run, time.perf_counter() - began)


def _build_cube(r: _Request, out: Path) -> CubeRun:
    start, end = r.dates()
    on_stage, progress = r.on_stage, r.progress
    return make_cube(
        r.catalog,
        aoi=r.aoi,
        start=start,
        end=end,
        out=out,
        collections=r.collections,
        max_cloud=r.max_cloud,
        config=r.cube_config,
        resume=r.resume,
        overwrite=r.overwrite,
        scheduler=r.scheduler,
        max_size=r.max_size,
        progress=(lambda _block: progress("cube")) if progress else None,
        on_start=(lambda todo, done: on_stage("cube", todo, done)) if on_stage else None,
        allow_outside_catalog=r.allow_outside_catalog,
    )
