"""``make_cube``: the whole ``geomm cube`` job as one call (search, build, write).

The CLI and notebooks both call this; it holds no logic of its own beyond
wiring the search (:mod:`geomm.stac`) to :func:`plan_cube` (the cube with its
sources described), the lazy dataset and :func:`write_cube`, optionally on a
``dask.distributed`` cluster. For a fresh store on local threads it starts
reading the first blocks before Dask is imported (:mod:`geomm.cube._readahead`).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomm.aoi import Aoi
from geomm.cube._build import CubeConfig, CubePlan, plan_cube
from geomm.cube._grid import (
    DEFAULT_MAX_SIZE,
    CubeGrid,
    check_cube_size,
    cube_size,
    max_size_problem,
)
from geomm.errors import CrsAreaWarning, OptionError, SchedulerError
from geomm.stac import SearchResult, search

if TYPE_CHECKING:
    import xarray as xr
    from distributed import Client

    from geomm.cube._store import Block, WriteReport

__all__ = ["CONNECT_TIMEOUT_S", "WORKER_WAIT_S", "CubeRun", "dask_scheduler", "make_cube"]


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
    max_size: int | None = DEFAULT_MAX_SIZE,
    progress: Callable[[Block], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    allow_outside_catalog: bool = False,
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
        scheduler: ``None`` (threads), ``"local"`` or a scheduler address (:func:`dask_scheduler`).
        max_size: largest uncompressed cube to write, bytes (default 50 GB; ``None``: no
            limit), checked before the search and again before any pixel is read.
        progress: called after each block is written.
        on_start: called with (blocks to write, blocks already done).
        allow_outside_catalog: a trusted local catalog may reference files outside its folder.

    Raises:
        SizeLimitError: the cube would be larger than ``max_size``.
        UntrustedHrefError: an item references an asset its catalog may not choose.
        SchedulerError: the scheduler cannot be reached or has no workers.
    """
    began = time.perf_counter()
    grid = _checked_grid(config := config or CubeConfig(), aoi, max_size)
    found = search(
        catalog,
        aoi=aoi,
        start=start,
        end=end,
        collections=collections,
        max_cloud=max_cloud,
        allow_outside_catalog=allow_outside_catalog,
    )
    plan = _planned(found, grid, aoi=aoi, config=config, max_size=max_size)
    job = _WriteJob(out, resume, overwrite, scheduler, max_size, progress, on_start)
    return job.run(plan, found=found, began=began)


@dataclass(frozen=True)
class _WriteJob:
    """Where and how :func:`make_cube` writes a planned cube (its arguments, unchanged)."""

    out: str | Path
    resume: bool
    overwrite: bool
    scheduler: str | None
    max_size: int | None
    progress: Callable[[Block], None] | None
    on_start: Callable[[int, int], None] | None

    def run(self, plan: CubePlan, *, found: SearchResult, began: float) -> CubeRun:
        """Write the plan's cube; ``found`` and ``began`` (``perf_counter``) go into the run.

        A fresh store on local threads has its first blocks read while Dask,
        xarray and Zarr are imported and the store is set up
        (:mod:`geomm.cube._readahead`); a store resumed may have them done.
        """
        composite = plan.config.composite is not None
        # a store replaced (or new) has every block to write; one resumed may have them done
        fresh = (
            self.scheduler is None and not self.resume and (self.overwrite or not _exists(self.out))
        )
        ahead = plan.read_ahead(workers=_read_ahead_workers()) if fresh and not composite else None
        try:
            ds = plan.dataset(ahead=ahead)
            if composite:  # only now is the number of periods known
                check_cube_size(
                    cube_size(plan.grid, ds.sizes["time"], composite=True), self.max_size
                )
            from geomm.cube._store import write_cube

            with dask_scheduler(self.scheduler):
                report = write_cube(
                    ds,
                    self.out,
                    resume=self.resume,
                    overwrite=self.overwrite,
                    progress=self.progress,
                    on_start=self.on_start,
                )
        finally:
            if ahead is not None:
                ahead.close()
        return CubeRun(Path(self.out), ds, found, report, time.perf_counter() - began)


def _checked_grid(config: CubeConfig, aoi: Aoi, max_size: int | None) -> CubeGrid:
    """The cube's grid, refused before the search if even one date would exceed ``max_size``.

    A grid too large for a single date needs no scenes to refuse.
    """
    if problem := max_size_problem(max_size):
        raise OptionError(problem)
    with warnings.catch_warnings():  # build_cube warns about the CRS, once
        warnings.simplefilter("ignore", CrsAreaWarning)
        grid = config.grid(aoi)
    composite = config.composite is not None
    check_cube_size(cube_size(grid, 1, composite=composite, lower_bound=True), max_size)
    return grid


def _planned(
    found: SearchResult, grid: CubeGrid, *, aoi: Aoi, config: CubeConfig, max_size: int | None
) -> CubePlan:
    """The plan of ``found``'s cube, refused if its paired dates make it exceed ``max_size``.

    Checked before any pixel is read: the grid and the dates give the size (a
    composite's periods are counted once its dataset exists).
    """
    plan = plan_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)
    if config.composite is None:
        check_cube_size(cube_size(grid, len(plan.pairs)), max_size)
    return plan


def _exists(out: str | Path) -> bool:
    """Whether ``out`` names something already there (a URL is never read ahead for)."""
    return "://" in str(out) or os.path.lexists(out)


def _read_ahead_workers() -> int:
    """Threads (and blocks) read ahead: the machine's cores, at most 4 (each holds a block)."""
    return min(os.cpu_count() or 1, 4)


CONNECT_TIMEOUT_S = 15.0
"""How long :func:`dask_scheduler` tries to reach a scheduler address (Dask's default is 30 s)."""
WORKER_WAIT_S = 30.0
"""How long :func:`dask_scheduler` waits for a scheduler's first worker."""


@contextlib.contextmanager
def dask_scheduler(
    address: str | None,
    *,
    connect_timeout: float | None = None,
    worker_wait: float | None = None,
) -> Iterator[Client | None]:
    """Run the enclosed Dask computations on threads, a LocalCluster or a cluster.

    On a small machine the threaded scheduler is fastest (FIELD-NOTES); a
    scheduler address sends the work to a running cluster instead. A
    scheduler that cannot be reached, or has no worker, would otherwise make
    the job hang or fail deep inside Dask: both are refused up front.

    Args:
        address: ``None``, ``"local"`` or ``tcp://host:port``.
        connect_timeout: seconds to reach the scheduler (default
            :data:`CONNECT_TIMEOUT_S`).
        worker_wait: seconds to wait for at least one worker (default
            :data:`WORKER_WAIT_S`).

    Raises:
        SchedulerError: unreachable, or no worker joined in ``worker_wait``.
    """
    if address is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if address == "local":
        # distributed's constructors carry no annotations
        with LocalCluster(processes=True, dashboard_address=None) as cluster, Client(cluster) as c:  # type: ignore[no-untyped-call]
            yield c
        return
    connect_timeout = CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
    worker_wait = WORKER_WAIT_S if worker_wait is None else worker_wait
    with _connect(address, connect_timeout) as client:
        _wait_for_a_worker(client, address, worker_wait)
        yield client


def _connect(address: str, timeout: float) -> Client:
    """A client of the scheduler at ``address``, or a SchedulerError within ``timeout``."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)  # type: ignore[no-untyped-call]  # as above
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        # OSError: refused or timed out (distributed raises OSError after its
        # retries); ValueError/TypeError: an address Dask cannot parse.
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
            f"({type(e).__name__}: {e}); check the address (tcp://HOST:PORT) and that "
            f"`dask scheduler` runs there, or run without a scheduler (threads in this process)"
        ) from e


def _wait_for_a_worker(client: Client, address: str, timeout: float) -> None:
    """Return once the scheduler has a worker; SchedulerError after ``timeout`` seconds."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as e:
        raise SchedulerError(
            f"the Dask scheduler at {address!r} has no workers (none joined in {timeout:g} s); "
            f"start some with `dask worker {address}`"
        ) from e
