"""``geomm embed`` and ``geomm models``: embeddings of every chip, and the models to make them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from geomm.cli._console import StageBars, out, say
from geomm.cli._options import (
    DEFAULT_MAX_SIZE_TEXT,
    AllowOutsideOption,
    AoiOption,
    CatalogOption,
    MaxCloudOption,
    MaxSizeOption,
    SchedulerOption,
    max_size_bytes,
    split_commas,
)

if TYPE_CHECKING:
    from geomm.embed import EmbedRun
    from geomm.models import ModelInfo

__all__ = ["embed_command", "models_command"]


def embed_command(
    aoi: AoiOption,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="GeoParquet table to write.")],
    catalog: CatalogOption = "sample",
    start: Annotated[
        str | None, typer.Option("--start", help="First day, YYYY-MM-DD (to build a cube).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day, YYYY-MM-DD (to build a cube).")
    ] = None,
    cube: Annotated[
        Path | None,
        typer.Option("--cube", help="Embed this existing cube instead of building one."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Registered model; `geomm models` lists them and marks the default.",
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="Checkpoint path, or 'random' (untrained, for testing). Default: the "
            "model's published weights (torch hub cache, downloaded once).",
        ),
    ] = None,
    precision: Annotated[
        str, typer.Option("--precision", help="fp32 | bf16 | int8 | auto.")
    ] = "auto",
    embeddings: Annotated[
        str | None,
        typer.Option(
            "--embeddings",
            help="Embeddings to store, comma-separated (e.g. joint,sar,optical); the first "
            "fills the `embedding` column. Default: the model's default.",
        ),
    ] = None,
    min_clear: Annotated[
        float, typer.Option("--min-clear", help="Skip chip-times with less clear sky (0-1).")
    ] = 0.9,
    min_s1: Annotated[
        float,
        typer.Option("--min-s1-coverage", help="Skip chip-times with less valid S1 (0-1)."),
    ] = 0.9,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Chips per forward pass.")] = 16,
    max_cloud: MaxCloudOption = None,
    scheduler: SchedulerOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_SIZE_TEXT,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run (cube and table).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing table (and its cube).")
    ] = False,
    allow_outside_catalog: AllowOutsideOption = False,
) -> None:
    """Embed every chip of an AOI: search, cube, model, GeoParquet (one row per chip-time)."""
    from geomm.aoi import read_aoi
    from geomm.embed import EmbedConfig, ModelSpec, make_embeddings
    from geomm.models import DEFAULT_MODEL

    limit = max_size_bytes(max_size)
    config = EmbedConfig(
        model=ModelSpec(name=model or DEFAULT_MODEL, weights=weights, precision=precision),
        embeddings=tuple(split_commas([embeddings])) if embeddings else None,
        min_clear=min_clear,
        min_s1_coverage=min_s1,
        batch_size=batch_size,
    )
    with StageBars({"cube": "writing cube chunks", "embed": "embedding blocks"}) as bars:
        run = make_embeddings(
            aoi=read_aoi(aoi),
            out=out_path,
            catalog=catalog,
            start=start,
            end=end,
            cube=cube,
            max_cloud=max_cloud,
            config=config,
            scheduler=scheduler,
            max_size=limit,
            resume=resume,
            overwrite=overwrite,
            on_stage=bars.start,
            progress=bars.advance,
            allow_outside_catalog=allow_outside_catalog,
        )
    _print_embed_run(run, min_clear=min_clear, min_s1=min_s1)


def _print_embed_run(run: EmbedRun, *, min_clear: float, min_s1: float) -> None:
    """What was embedded and skipped, and where the table and its cube are."""
    report = run.report
    say(
        f"model {report.model} ({report.precision}, weights {report.weights_id}); "
        f"{report.rows} chip-time(s) embedded, "
        f"{report.skipped_clear} skipped for clouds (< {min_clear:g} clear), "
        f"{report.skipped_s1} for S1 coverage (< {min_s1:g}); "
        f"{report.embedded_now} in this run at {report.chips_per_second:.2f} chips/s "
        f"({report.blocks_resumed} of {report.blocks_total} block(s) resumed)."
    )
    if str(report.weights_id).startswith("random"):
        say(
            Text.assemble(
                ("note:", "bold yellow"),
                " random weights: these embeddings carry no learned meaning (pipeline check only).",
            )
        )
    say(
        f"Table: {report.path}  (geomm.embed.read_table({str(report.path)!r}) or "
        f"geopandas.read_parquet); cube: {run.cube_path}"
    )


def models_command() -> None:
    """List the embedding models, their inputs and whether their weights are here."""
    from geomm.models import DEFAULT_MODEL, list_models

    table = Table(title="embedding models (entry-point group geomm.models)")
    for name in ("model", "inputs", "chip", "embeddings (dim)", "weights"):
        table.add_column(name, overflow="fold")
    files = []
    for info in list_models():
        inputs = "; ".join(f"{m}: {' '.join(info.bands.get(m, ()))}" for m in info.modalities)
        dims = ", ".join(
            f"{n}{'*' if n == info.default_embedding else ''} ({d})"
            for n, d in info.embeddings.items()
        )
        weights, where = _weights_state(info)
        if where:
            files.append(where)
        name = f"{info.name} (default)" if info.name == DEFAULT_MODEL else info.name
        table.add_row(
            name, inputs, f"{info.default_chip_size} px (x{info.chip_multiple})", dims, weights
        )
    out.print(table)
    for line in files:  # whole paths, unwrapped, to copy a file there
        say(line)
    out.print("* the default embedding (the `embedding` column of `geomm embed`)", highlight=False)


def _weights_state(info: ModelInfo) -> tuple[str, str]:
    """The weights column of ``geomm models``, and the line naming their file ('' if none)."""
    from geomm.models import hub_checkpoints_dir

    if info.weights is None:
        return "no published weights (--weights PATH or random)", ""
    present = info.weights_path() is not None
    where = hub_checkpoints_dir() / info.weights.file_name
    return (
        "present" if present else "not here (downloaded on first use)",
        f"{info.name}: {where}{'' if present else '  (absent)'}",
    )
