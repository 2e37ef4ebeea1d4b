"""``geomm cube``, ``geomm verify`` and ``geomm quicklook``: write, check and look at a cube."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from geomm.cli._console import EXIT_USER_ERROR, StageBars, out, say
from geomm.cli._options import (
    DEFAULT_MAX_SIZE_TEXT,
    AllowOutsideOption,
    AoiOption,
    CatalogOption,
    EndOption,
    MaxCloudOption,
    MaxSizeOption,
    SchedulerOption,
    StartOption,
    max_size_bytes,
    split_commas,
)
from geomm.errors import OptionError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.cube import CubeConfig

__all__ = ["cube_command", "quicklook_command", "verify_command"]


def cube_command(
    aoi: AoiOption,
    start: StartOption,
    end: EndOption,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Zarr store to write.")],
    catalog: CatalogOption = "sample",
    collections: Annotated[
        list[str] | None,
        typer.Option("--collections", help="S1 and S2 collections (comma-separated)."),
    ] = None,
    max_cloud: MaxCloudOption = None,
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
    from geomm.cube import RESAMPLING

    if resampling not in RESAMPLING:
        raise OptionError(f"--resampling must be one of {list(RESAMPLING)}, got {resampling!r}")
    limit = max_size_bytes(max_size)
    config = _cube_config(
        crs=crs,
        chip_size=chip_size,
        chunk_chips=chunk_chips,
        max_lag_days=max_lag_days,
        keep_unpaired=keep_unpaired,
        orbit_state=orbit_state,
        snow_is_clear=snow_is_clear,
        resampling=resampling,
        composite_method=composite_method,
        period=period,
    )
    region = read_aoi(aoi)
    from geomm.cube import make_cube  # the writer's stack, once the options and AOI are read

    with StageBars({"cube": "writing chunks"}) as bars:
        run = make_cube(
            catalog,
            aoi=region,
            start=start,
            end=end,
            out=out_path,
            collections=split_commas(collections) or None,
            max_cloud=max_cloud,
            config=config,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            max_size=limit,
            progress=lambda block: bars.advance("cube"),
            on_start=lambda todo, done: bars.start("cube", todo, done),
            allow_outside_catalog=allow_outside_catalog,
        )
    report = run.report
    out.print(_cube_table(run.dataset, run.path))
    rate = run.output_mpix / run.seconds if run.seconds > 0 else float("nan")
    say(
        f"{report.blocks_written} block(s) written, {report.blocks_skipped} already done; "
        f"{run.output_mpix:.1f} Mpix in {run.seconds:.1f} s ({rate:.1f} Mpix/s). "
        f"Open with: geomm.cube.open_cube({str(run.path)!r})"
    )


def _cube_config(
    *,
    crs: str | None,
    chip_size: int,
    chunk_chips: int,
    max_lag_days: float,
    keep_unpaired: bool,
    orbit_state: str | None,
    snow_is_clear: bool,
    resampling: str,
    composite_method: str | None,
    period: str,
) -> CubeConfig:
    """The cube's configuration from its flags (the library checks the ranges)."""
    from geomm.cube import CompositeSpec, CubeConfig, LoadOptions, PairingRule

    return CubeConfig(
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


def verify_command(
    store: Annotated[Path, typer.Argument(help="Zarr cube written by `geomm cube`.")],
) -> None:
    """Check every chunk of a cube against the manifest written with it (exit 1 if damaged)."""
    from geomm.cube import verify_cube

    report = verify_cube(store)
    if report.sound:
        say(f"{store}: sound ({report.chunks_checked} files checked)")
        return
    for chunk in report.damaged:
        say(f"{chunk.key}: {chunk.problem}")
    say(
        f"{store}: damaged, {len(report.damaged)} of {report.chunks_checked} files; repair with "
        "`geomm cube ... --resume` (the original arguments): only their blocks are rewritten"
    )
    raise typer.Exit(code=EXIT_USER_ERROR)  # a damaged cube is the user's to repair


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
    from geomm.cube import open_cube, pick_time, quicklook

    ds = open_cube(cube)
    index = pick_time(ds, time)
    quicklook(ds, time=index, out=out_path, dpi=dpi)
    when = str(ds.time.values[index])[:19].replace("T", " ")
    say(f"{out_path}  (time {index}: S2 {when} UTC)")


def _when(value: Any) -> str:
    """A cube time as ``YYYY-MM-DD HH:MM:SS`` (blank for NaT: an unpaired S1)."""
    return "" if str(value) == "NaT" else str(value)[:19].replace("T", " ")


def _cube_table(ds: xr.Dataset, path: Path) -> Table:
    """One row per cube time: the S1 pairing, or the composite's period."""
    table = Table(title=f"cube {path}  ({ds.attrs['crs']}, {ds.sizes['y']} x {ds.sizes['x']} px)")
    if "s1_time" not in ds:  # a composite
        for name in ("period start (UTC)", "acquisitions"):
            table.add_column(name)
        for i in range(ds.sizes["time"]):
            table.add_row(_when(ds.time.values[i]), str(int(ds.n_acquisitions.values[i])))
        return table
    for name in ("S2 time (UTC)", "S1 time (UTC)", "lag days", "S1 orbit"):
        table.add_column(name)
    for i in range(ds.sizes["time"]):
        table.add_row(
            _when(ds.time.values[i]),
            _when(ds.s1_time.values[i]),
            f"{float(ds.s1_lag_days.values[i]):+.2f}",
            f"{ds.s1_orbit_state.values[i]} {int(ds.s1_relative_orbit.values[i])}".strip(),
        )
    return table
