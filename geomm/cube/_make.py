"""``make_cube``: the whole ``geomm cube`` job as one call (search, build, write).

The CLI and notebooks both call this; it holds no logic of its own beyond
wiring the search (:mod:`geomm.stac`) to :func:`build_cube` and
:func:`write_cube`, optionally on a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from geomm.aoi import Aoi
from geomm.cube._build import CubeConfig, build_cube
from geomm.cube._store import Block, WriteReport, write_cube
from geomm.stac import SearchResult, search

__all__ = ["CubeRun", "dask_scheduler", "make_cube"]


@dataclass(frozen=True)
class CubeRun:
    """What a ``make_cube`` call produced."""

    path: Path
    dataset: xr.Dataset
    """The lazy cube that was written (same content as ``open_cube(path)``)."""
    search: SearchResult
    report: WriteReport
    seconds: float

    @property
    def output_mpix(self) -> float:
        """Output values written in this call, in millions: times x layers x pixels.

        Layers are every band of every pixel variable (12 S2 + 2 S1 + clear),
        the same unit as docs/benchmarks.md.
        """
        share = self.report.blocks_written / max(self.report.blocks_total, 1)
        layers = sum(v.size for v in self.dataset.data_vars.values() if {"y", "x"} <= set(v.dims))
        return share * layers / 1e6


def make_cube(
    catalog: str,
    *,
    aoi: Aoi,
    start: str,
    end: str,
    out: str | Path,
    collections: Sequence[str] | None = None,
    max_cloud: float | None = None,
    config: CubeConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    progress: Callable[[Block], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> CubeRun:
    """Search ``catalog``, build the paired S1/S2 cube and write it to ``out``.

    Args:
        catalog: provider name, STAC API URL or static catalog path.
        aoi: area of interest.
        start: first day (inclusive).
        end: last day (inclusive).
        out: Zarr store path.
        collections: S1 and S2 collections; default the profile's.
        max_cloud: drop S2 scenes cloudier than this (percent).
        config: grid, pairing and resampling options.
        resume: continue an interrupted store of the same cube.
        overwrite: replace an existing store.
        scheduler: ``None`` (threads), ``"local"`` (a LocalCluster) or the
            address of a running ``dask scheduler`` (``tcp://host:8786``).
        progress: called after each block is written.
        on_start: called with (blocks to write, blocks already done).
    """
    began = time.perf_counter()
    found = search(
        catalog, aoi=aoi, start=start, end=end, collections=collections, max_cloud=max_cloud
    )
    ds = build_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)
    with dask_scheduler(scheduler):
        report = write_cube(
            ds, out, resume=resume, overwrite=overwrite, progress=progress, on_start=on_start
        )
    return CubeRun(Path(out), ds, found, report, time.perf_counter() - began)


@contextlib.contextmanager
def dask_scheduler(address: str | None) -> Iterator[object | None]:
    """Run the enclosed Dask computations on threads, a LocalCluster or a cluster.

    On a small machine the threaded scheduler is fastest (FIELD-NOTES); a
    scheduler address sends the work to a running cluster instead.
    """
    if address is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if address == "local":
        with LocalCluster(processes=True, dashboard_address=None) as cluster, Client(cluster) as c:
            yield c
        return
    with Client(address) as client:
        yield client
