"""The ``geomm`` command line: parse, call a library function, print.

No business logic lives here: every command calls the same public function a
notebook would. Errors a user can cause (:class:`geomm.errors.GeommError`)
print one line and exit 1; ``--verbose`` shows the traceback. Anything else
is a bug: it prints a short note asking for ``--verbose`` and exits 70.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
import warnings
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from geomm._redact import install_log_redaction, redact_text
from geomm._version import __version__
from geomm.errors import GeommError, GeommWarning, OptionError

__all__ = ["app", "main"]

EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 70

app = typer.Typer(
    name="geomm",
    help="Multimodal Earth observation: STAC search, Sentinel-1/2 cubes, embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Pipes and logs get wide, unwrapped tables; terminals get their own width.
# No markup or emoji codes: paths, item ids and messages are printed as they are
# (a file named `[red]x[/red].geojson` stays that); styles come as rich Text.
out = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)
err = Console(stderr=True, markup=False, emoji=False, highlight=False)


class _State:
    verbose = False


SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster."),
]


AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-catalog",
        help="A local catalog you trust may reference files outside its folder (and GDAL "
        "/vsi paths). A STAC API's items may never reference local files.",
    ),
]


MaxSizeOption = Annotated[
    str,
    typer.Option(
        "--max-size",
        help="Refuse a cube larger than this, uncompressed (e.g. 200GB, 1TB; 'none': no "
        "limit). Checked from the plan before any pixel is read.",
    ),
]
DEFAULT_MAX_SIZE_TEXT = "50GB"


def _max_size(text: str) -> int | None:
    """``--max-size`` in bytes (None: no limit); OptionError in its own words otherwise."""
    from geomm.cube import parse_size

    try:
        return parse_size(text)
    except OptionError as e:
        raise OptionError(f"--max-size: {e}") from None


def _progress() -> Any:  # rich.progress.Progress
    """The progress bars of long commands, on stderr (stdout stays for results)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _mount_subcommands() -> None:
    # Command groups of other layers; their modules import torch only inside commands.
    from geomm.contrastive._cli import app as cleanclip_app

    app.add_typer(cleanclip_app, name="cleanclip")


_mount_subcommands()


def _version(value: bool) -> None:
    if value:
        out.print(f"geomm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    verbose = _State.verbose = verbose or _State.verbose  # main() takes -v from anywhere
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()  # no SAS token, signature or password in any log line
    if not verbose:  # connection retries are reported once, as a geomm error
        logging.getLogger("urllib3").setLevel(logging.ERROR)


@app.command("search")
def search_command(
    aoi: Annotated[Path, typer.Option("--aoi", help="GeoJSON file of the area of interest.")],
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option("--end", help="Last day, YYYY-MM-DD (inclusive).")],
    catalog: Annotated[
        str,
        typer.Option(
            "--catalog",
            "-c",
            help="planetary-computer | earth-search | cdse | sample | STAC API URL | "
            "catalog.json path.",
        ),
    ] = "sample",
    collections: Annotated[
        list[str] | None,
        typer.Option(
            "--collections",
            help="Collection id (repeat or comma-separate). Default: the profile's "
            "geocoded S1/S2 collections.",
        ),
    ] = None,
    max_cloud: Annotated[
        float | None, typer.Option("--max-cloud", help="Largest eo:cloud_cover, percent.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Most items to return.")] = None,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the items as a GeoJSON ItemCollection."),
    ] = None,
    allow_outside_catalog: AllowOutsideOption = False,
) -> None:
    """Search Sentinel-1/2 scenes over an AOI in a STAC API or local catalog."""
    from geomm.aoi import read_aoi
    from geomm.stac import search, write_items

    wanted = [c.strip() for arg in collections or [] for c in arg.split(",") if c.strip()]
    result = search(
        catalog,
        aoi=read_aoi(aoi),
        start=start,
        end=end,
        collections=wanted or None,
        max_cloud=max_cloud,
        limit=limit,
        allow_outside_catalog=allow_outside_catalog,
    )
    out.print(_items_table(result))
    summary = f"{len(result)} item(s) from {result.source.label}"
    if result.skipped_cloudy:
        summary += f"; {result.skipped_cloudy} skipped as cloudier than {max_cloud:g}%"
    if out_path is not None:
        written = write_items(result, out_path)
        summary += f"; written to {written}"
    out.print(summary, soft_wrap=True, highlight=False)


@app.command("cube")
def cube_command(
    aoi: Annotated[Path, typer.Option("--aoi", help="GeoJSON file of the area of interest.")],
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option("--end", help="Last day, YYYY-MM-DD (inclusive).")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Zarr store to write.")],
    catalog: Annotated[
        str, typer.Option("--catalog", "-c", help="Provider, STAC API URL or catalog path.")
    ] = "sample",
    collections: Annotated[
        list[str] | None,
        typer.Option("--collections", help="S1 and S2 collections (comma-separated)."),
    ] = None,
    max_cloud: Annotated[
        float | None, typer.Option("--max-cloud", help="Drop S2 scenes cloudier than this %.")
    ] = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="Cube CRS (default: UTM zone of the AOI).")
    ] = None,
    chip_size: Annotated[int, typer.Option("--chip-size", help="Chip edge in pixels.")] = 120,
    chunk_chips: Annotated[
        int, typer.Option("--chunk-chips", help="Zarr/Dask chunk edge, in chips.")
    ] = 8,
    max_lag_days: Annotated[
        float, typer.Option("--max-lag-days", help="Largest S1-S2 time gap, days.")
    ] = 6.0,
    keep_unpaired: Annotated[
        bool, typer.Option("--keep-unpaired", help="Keep S2 dates without S1 (S1 empty).")
    ] = False,
    orbit_state: Annotated[
        str | None, typer.Option("--orbit-state", help="Only ascending or descending S1.")
    ] = None,
    snow_is_clear: Annotated[
        bool, typer.Option("--snow-is-clear", help="Count SCL snow as clear.")
    ] = False,
    resampling: Annotated[
        str,
        typer.Option("--resampling", help="S2 reflectance and S1 onto the grid: bilinear|nearest."),
    ] = "bilinear",
    composite_method: Annotated[
        str | None,
        typer.Option(
            "--composite", help="Per-period composite instead of every date: median|mean."
        ),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="Composite period: 1M, 2W, 10D, 1Y...")
    ] = "1M",
    scheduler: SchedulerOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_SIZE_TEXT,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted store of this cube.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing store.")
    ] = False,
    allow_outside_catalog: AllowOutsideOption = False,
) -> None:
    """Pair S1 with S2, co-register them on one grid and write a Zarr cube."""
    from geomm.aoi import read_aoi
    from geomm.cube import (
        RESAMPLING,
        CompositeSpec,
        CubeConfig,
        LoadOptions,
        PairingRule,
        make_cube,
    )

    if resampling not in RESAMPLING:
        raise OptionError(f"--resampling must be one of {list(RESAMPLING)}, got {resampling!r}")
    limit = _max_size(max_size)
    config = CubeConfig(
        crs=crs,
        chip_size=chip_size,
        chunk_chips=chunk_chips,
        pairing=PairingRule(
            max_lag_days=max_lag_days, keep_unpaired=keep_unpaired, orbit_state=orbit_state
        ),
        load=LoadOptions(
            snow_is_clear=snow_is_clear, s2_resampling=resampling, s1_resampling=resampling
        ),
        composite=CompositeSpec(composite_method, period) if composite_method else None,
    )
    wanted = [c.strip() for arg in collections or [] for c in arg.split(",") if c.strip()]
    # The bar starts once the blocks are known: an error before that prints one line only.
    bar = _progress()
    tasks: list[Any] = []

    def on_start(todo: int, done: int) -> None:
        bar.start()
        tasks.append(bar.add_task("writing chunks", total=todo + done, completed=done))

    try:
        run = make_cube(
            catalog,
            aoi=read_aoi(aoi),
            start=start,
            end=end,
            out=out_path,
            collections=wanted or None,
            max_cloud=max_cloud,
            config=config,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            max_size=limit,
            progress=lambda block: bar.advance(tasks[0]),
            on_start=on_start,
            allow_outside_catalog=allow_outside_catalog,
        )
    finally:
        bar.stop()
    ds, report = run.dataset, run.report
    out.print(_cube_table(ds, run.path))
    rate = run.output_mpix / run.seconds if run.seconds > 0 else float("nan")
    out.print(
        f"{report.blocks_written} block(s) written, {report.blocks_skipped} already done; "
        f"{run.output_mpix:.1f} Mpix in {run.seconds:.1f} s ({rate:.1f} Mpix/s). "
        f"Open with: geomm.cube.open_cube({str(run.path)!r})",
        soft_wrap=True,
        highlight=False,
    )


@app.command("embed")
def embed_command(
    aoi: Annotated[Path, typer.Option("--aoi", help="GeoJSON file of the area of interest.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="GeoParquet table to write.")],
    catalog: Annotated[
        str, typer.Option("--catalog", "-c", help="Provider, STAC API URL or catalog path.")
    ] = "sample",
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
        str, typer.Option("--model", "-m", help="Registered model (`geomm models`).")
    ] = "croma-base",
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
    max_cloud: Annotated[
        float | None, typer.Option("--max-cloud", help="Drop S2 scenes cloudier than this %.")
    ] = None,
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

    limit = _max_size(max_size)
    config = EmbedConfig(
        model=ModelSpec(name=model, weights=weights, precision=precision),
        embeddings=tuple(e.strip() for e in embeddings.split(",") if e.strip())
        if embeddings
        else None,
        min_clear=min_clear,
        min_s1_coverage=min_s1,
        batch_size=batch_size,
    )
    # The bars start with the first stage: an error before that prints one line only.
    bar = _progress()
    tasks: dict[str, Any] = {}

    def on_stage(stage: str, todo: int, done: int) -> None:
        label = "writing cube chunks" if stage == "cube" else "embedding blocks"
        bar.start()
        tasks[stage] = bar.add_task(label, total=todo + done, completed=done)

    try:
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
            on_stage=on_stage,
            progress=lambda stage: bar.advance(tasks[stage]),
            allow_outside_catalog=allow_outside_catalog,
        )
    finally:
        bar.stop()
    report = run.report
    out.print(
        f"model {report.model} ({report.precision}, weights {report.weights_id}); "
        f"{report.rows} chip-time(s) embedded, "
        f"{report.skipped_clear} skipped for clouds (< {min_clear:g} clear), "
        f"{report.skipped_s1} for S1 coverage (< {min_s1:g}); "
        f"{report.embedded_now} in this run at {report.chips_per_second:.2f} chips/s "
        f"({report.blocks_resumed} of {report.blocks_total} block(s) resumed).",
        soft_wrap=True,
        highlight=False,
    )
    if str(report.weights_id).startswith("random"):
        out.print(
            Text.assemble(
                ("note:", "bold yellow"),
                " random weights: these embeddings carry no learned meaning (pipeline check only).",
            ),
            soft_wrap=True,
        )
    out.print(
        f"Table: {report.path}  (geomm.embed.read_table({str(report.path)!r}) or "
        f"geopandas.read_parquet); cube: {run.cube_path}",
        soft_wrap=True,
        highlight=False,
    )


@app.command("models")
def models_command() -> None:
    """List the embedding models, their inputs and whether their weights are here."""
    from geomm.models import hub_checkpoints_dir, list_models

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
        if info.weights is None:
            weights = "no published weights (--weights PATH or random)"
        else:
            present = info.weights_path() is not None
            weights = "present" if present else "not here (downloaded on first use)"
            where = hub_checkpoints_dir() / info.weights.file_name
            files.append(f"{info.name}: {where}{'' if present else '  (absent)'}")
        table.add_row(
            info.name, inputs, f"{info.default_chip_size} px (x{info.chip_multiple})", dims, weights
        )
    out.print(table)
    for line in files:  # whole paths, unwrapped, to copy a file there
        out.print(line, soft_wrap=True, highlight=False)
    out.print("* the default embedding (the `embedding` column of `geomm embed`)", highlight=False)


@app.command("verify")
def verify_command(
    store: Annotated[Path, typer.Argument(help="Zarr cube written by `geomm cube`.")],
) -> None:
    """Check every chunk of a cube against the manifest written with it (exit 1 if damaged)."""
    from geomm.cube import verify_cube

    report = verify_cube(store)
    if report.sound:
        out.print(
            f"{store}: sound ({report.chunks_checked} files checked)",
            soft_wrap=True,
            highlight=False,
        )
        return
    for chunk in report.damaged:
        out.print(f"{chunk.key}: {chunk.problem}", soft_wrap=True, highlight=False)
    out.print(
        f"{store}: damaged, {len(report.damaged)} of {report.chunks_checked} files; repair with "
        "`geomm cube ... --resume` (the original arguments): only their blocks are rewritten",
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(code=EXIT_USER_ERROR)


@app.command("quicklook")
def quicklook_command(
    cube: Annotated[Path, typer.Argument(help="Zarr cube written by `geomm cube`.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    time: Annotated[
        str | None,
        typer.Option(
            "--time", "-t", help="Time index, or a date (nearest time). Default: the clearest."
        ),
    ] = None,
    dpi: Annotated[int, typer.Option("--dpi", help="PNG resolution, dots per inch.")] = 120,
) -> None:
    """Draw one cube time as a PNG: S2 true colour beside S1 false colour."""
    from geomm.cube import open_cube, quicklook
    from geomm.cube._quicklook import pick_time

    ds = open_cube(cube)
    index = pick_time(ds, time)
    quicklook(ds, time=index, out=out_path, dpi=dpi)
    when = str(ds.time.values[index])[:19].replace("T", " ")
    out.print(f"{out_path}  (time {index}: S2 {when} UTC)", soft_wrap=True, highlight=False)


def _cube_table(ds: Any, path: Path) -> Table:
    """One row per cube time: the S1 pairing, or the composite's period."""
    table = Table(title=f"cube {path}  ({ds.attrs['crs']}, {ds.sizes['y']} x {ds.sizes['x']} px)")

    def when(value: Any) -> str:
        return "" if str(value) == "NaT" else str(value)[:19].replace("T", " ")

    if "s1_time" not in ds:  # a composite
        for name in ("period start (UTC)", "acquisitions"):
            table.add_column(name)
        for i in range(ds.sizes["time"]):
            table.add_row(when(ds.time.values[i]), str(int(ds.n_acquisitions.values[i])))
        return table
    for name in ("S2 time (UTC)", "S1 time (UTC)", "lag days", "S1 orbit"):
        table.add_column(name)
    for i in range(ds.sizes["time"]):
        table.add_row(
            when(ds.time.values[i]),
            when(ds.s1_time.values[i]),
            f"{float(ds.s1_lag_days.values[i]):+.2f}",
            f"{ds.s1_orbit_state.values[i]} {int(ds.s1_relative_orbit.values[i])}".strip(),
        )
    return table


def _items_table(result: Any) -> Table:
    table = Table(title=f"{result.source.label}: {', '.join(result.query.collections)}")
    for name, justify in (
        ("id", "left"),
        ("collection", "left"),
        ("datetime (UTC)", "left"),
        ("cloud %", "right"),
        ("orbit", "left"),
        ("CRS", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for item in result.items:
        p = item.properties
        cloud = p.get("eo:cloud_cover")
        orbit = " ".join(
            str(v) for v in (p.get("sat:orbit_state"), p.get("sat:relative_orbit")) if v is not None
        )
        table.add_row(
            item.id,
            item.collection_id or "",
            _when(item),
            "" if cloud is None else f"{float(cloud):.1f}",
            orbit,
            _crs(item),
        )
    return table


def _when(item: Any) -> str:
    moment: datetime | None = item.datetime or item.common_metadata.start_datetime
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _crs(item: Any) -> str:
    for fields in (item.properties, *(a.extra_fields for a in item.assets.values())):
        if code := fields.get("proj:code"):
            return str(code)
        if epsg := fields.get("proj:epsg"):
            return f"EPSG:{epsg}"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geomm`` console script; returns the exit code.

    This boundary turns a malformed command line (an unknown option, a value
    click cannot parse), geomm's own errors, a missing optional dependency,
    and file system errors on a path (no such folder, not a folder, no
    permission, disk full) into one line (exit 1), and anything else into a
    bug report hint (exit 70). ``--verbose``/``-v`` may stand anywhere on the
    line; with it the error line comes after its traceback, once.
    """
    args, _State.verbose = _take_verbose(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = app(args=args, prog_name="geomm", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        err.print(Text.assemble(("aborted", "bold red")))
        return EXIT_USER_ERROR
    except typer.TyperException as e:  # click's usage errors: one line, not a box
        if line := _usage_line(e):
            _report(e, line)
        return EXIT_USER_ERROR  # (no line: no command given, and the help was shown)
    except GeommError as e:
        _report(e, str(e))
        return EXIT_USER_ERROR
    except Exception as e:
        if line := _user_fault(e, args):
            _report(e, line)
            return EXIT_USER_ERROR
        _report(
            e,
            f"{type(e).__name__}: {e} (rerun with --verbose for the traceback and report it)",
            prefix="internal error:",
        )
        return EXIT_INTERNAL_ERROR


def _usage_line(e: typer.TyperException) -> str:
    """Click's message for a malformed command line, and where the help is."""
    message = e.format_message() if hasattr(e, "format_message") else str(e)
    if not message.strip():
        return ""
    ctx = getattr(e, "ctx", None)
    where = f"{ctx.command_path} --help" if ctx is not None else "geomm --help"
    return f"{message} (see `{where}`)"


def _show_warning(  # the signature of warnings.showwarning
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print geomm's own warnings as one ``warning:`` line, others as Python does."""
    if issubclass(category, GeommWarning):
        err.print(Text.assemble(("warning:", "bold yellow"), " ", str(message)), soft_wrap=True)
        return
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _take_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--verbose``/``-v`` (before a ``--``), and whether one was there.

    Click only knows the root's options before the subcommand; taking them out
    here lets ``geomm cube ... -v`` work like ``geomm -v cube ...``.
    """
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a not in _VERBOSE_FLAGS]
    return kept + args[end:], len(kept) < end


_VERBOSE_FLAGS = ("--verbose", "-v")


def _user_fault(e: Exception, args: list[str]) -> str | None:
    """The one-line message of an error that is not geomm's bug, or None (a bug).

    A missing optional dependency names its extra; an OSError on a path the
    user named (no such folder, not a folder, no permission, disk full) says
    which path.
    """
    if isinstance(e, ModuleNotFoundError):
        from geomm._extras import extra_for, missing_extra

        prefer = "contrastive" if "cleanclip" in args else "models"
        if extra := extra_for(e.name, prefer=prefer):
            return str(missing_extra(e.name or "", extra))
    if isinstance(e, OSError) and e.filename is not None and e.strerror is not None:
        return (
            f"{e.strerror}: {str(e.filename)!r}; check the path (its folder must exist and be "
            "writable) and the free space"
        )
    return None


def _report(e: BaseException, line: str, *, prefix: str = "error:") -> None:
    """Print ``line`` once on stderr, after the traceback under ``--verbose``.

    The text is printed literally (a path may hold ``[/`` or ``[red]``): only
    the prefix is styled, as a :class:`rich.text.Text` span, never as markup.
    Credentials in URLs are redacted from both (a chained cause may quote a
    signed URL), and the library's argument names become flags.
    """
    if _State.verbose:
        trace = traceback.TracebackException.from_exception(e)
        lines = list(trace.format())
        last = len(list(trace.format_exception_only()))
        err.print(Text(redact_text("".join(lines[:-last]).rstrip("\n"))), soft_wrap=True)
    shown = _one_line(_as_flags(redact_text(line)))
    err.print(Text.assemble((prefix, "bold red"), " ", shown), soft_wrap=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes.

    An error quotes what the user gave (a file name, an option's value), and
    that may hold a newline: the message stays one line, and says exactly what
    was given.
    """
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


_FLAGS = (
    # what a library message says -> what a user of the command line types
    ("write_cube(cube, path, resume=True)", "the same `geomm cube` command with --resume"),
    (", or open it with allow_incomplete=True", ""),  # a notebook's way out, not a flag
    ("resume=True", "--resume"),
    ("overwrite=True", "--overwrite"),
    ("allow_outside_catalog=True", "--allow-outside-catalog"),
    ("allow_outside_root=True", "--allow-outside-catalog"),
    ("max_size=None", "--max-size none"),
    ("max_size=", "--max-size "),
    ("scheduler=", "--scheduler "),
    ("pass path= ", "pass --out "),
)


def _as_flags(text: str) -> str:
    """``text`` with the library's ``argument=value`` advice worded as flags.

    Library errors speak to Python callers (``resume=True``); the command line
    is the one place that knows they typed ``--resume``, so the translation
    lives here, once, instead of in every error class.
    """
    for words, flag in _FLAGS:
        text = text.replace(words, flag)
    return text


if __name__ == "__main__":
    sys.exit(main())
