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

from geomm.aoi import Aoi
from geomm.chips import ChipBlock
from geomm.cube import DEFAULT_MAX_SIZE, CubeConfig, CubeRun, make_cube
from geomm.embed._config import EmbedConfig, EmbedError
from geomm.embed._run import EmbedReport, check_table_path, embed_cube

__all__ = ["EmbedRun", "cube_path_for", "make_embeddings"]


@dataclass(frozen=True)
class EmbedRun:
    """What a ``make_embeddings`` call produced."""

    report: EmbedReport
    cube_path: Path
    cube: CubeRun | None
    """The cube stage, when this call built the cube (``None``: an existing cube)."""
    seconds: float


def cube_path_for(out: str | Path) -> Path:
    """Where ``geomm embed`` keeps the cube it builds: beside the table.

    ``emb.parquet`` -> ``emb.cube.zarr``: a rerun with ``--resume`` finds it,
    and the table's metadata names it.
    """
    out = Path(out)
    return out.with_name(out.stem + ".cube.zarr")


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

    Args:
        aoi: area of interest; only chips intersecting it are embedded.
        out: GeoParquet table to write.
        catalog: provider name, STAC API URL or static catalog path.
        start: first day (inclusive); needed unless ``cube`` is given.
        end: last day (inclusive); needed unless ``cube`` is given.
        cube: an existing cube store to embed instead of building one.
        collections: S1 and S2 collections; default the profile's.
        max_cloud: drop S2 scenes cloudier than this (percent).
        cube_config: grid, pairing and resampling of the cube built here.
        config: model, embeddings, skip thresholds, batch size.
        scheduler: ``None`` (this process), ``"local"`` or a scheduler address;
            used for both stages.
        max_size: largest uncompressed cube to build, bytes (default 50 GB;
            ``None``: no limit); see :func:`geomm.cube.make_cube`.
        resume: continue an interrupted run (cube and table).
        overwrite: replace an existing table (and the cube this job built).
        on_stage: called as each stage starts with (stage name, blocks to do,
            blocks already done); stages are ``"cube"`` and ``"embed"``.
        progress: called with the stage name after each block.
        allow_outside_catalog: a local catalog you trust may reference files
            outside its folder (see :func:`geomm.stac.search`).

    Raises:
        EmbedError: no ``cube`` and no dates.
        SizeLimitError: the cube to build would be larger than ``max_size``.
    """
    began = time.perf_counter()
    out = check_table_path(out)
    if cube is None and (not start or not end):
        raise EmbedError(
            "give --start and --end to build a cube over the AOI, or --cube with an existing one"
        )
    config = config or EmbedConfig()
    config.columns(config.model.check())  # model, weights, embedding names: before any cube
    if scheduler is None:
        config.model.load()  # weights problems show here, not after the cube
    cube_run = None
    if cube is None:
        cube = cube_path_for(out)
        cube_run = make_cube(
            catalog,
            aoi=aoi,
            start=start,
            end=end,
            out=cube,
            collections=collections,
            max_cloud=max_cloud,
            config=cube_config,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            max_size=max_size,
            progress=(lambda _block: progress("cube")) if progress else None,
            on_start=(lambda todo, done: on_stage("cube", todo, done)) if on_stage else None,
            allow_outside_catalog=allow_outside_catalog,
        )

    def embed_progress(_block: ChipBlock) -> None:
        if progress:
            progress("embed")

    report = embed_cube(
        cube,
        out,
        aoi=aoi,
        config=config,
        scheduler=scheduler,
        resume=resume,
        overwrite=overwrite,
        progress=embed_progress,
        on_start=(lambda todo, done: on_stage("embed", todo, done)) if on_stage else None,
    )
    return EmbedRun(report, Path(cube), cube_run, time.perf_counter() - began)
