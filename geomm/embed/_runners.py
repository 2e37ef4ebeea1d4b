"""Where the blocks of a run are embedded: here, or one task per block on a cluster.

Locally, the next block is read on a thread while the model computes the
current one. With a Dask scheduler each block is one task on a worker; the
model is loaded once per worker process (:meth:`ModelSpec.load` is cached)
and never travels in the graph; tasks are submitted a few per worker at a
time, so the scheduler holds a bounded number of them whatever the AOI, and
a task lost with a killed worker is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geomm.embed._block import embed_block, read_source_block
from geomm.embed._config import EmbedConfig
from geomm.errors import EmbedError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.chips import ChipBlock

__all__ = ["BlocksRun", "run_dask", "run_local"]


@dataclass(frozen=True)
class BlocksRun:
    """What embedding a run's remaining blocks did."""

    model: Mapping[str, str] | None
    """``weights_id`` and ``precision`` of the model (None: no block was embedded)."""
    computed: int
    """Chip-times embedded."""


# Positional-or-keyword: tests/faults/test_embed_safety.py wraps run_local and calls it
# positionally; callers here pass everything after ``todo`` by keyword.
def run_local(
    source: Path | xr.Dataset,
    todo: Sequence[ChipBlock],
    config: EmbedConfig,
    names: Sequence[str],
    parts: Path,
    progress: Callable[[ChipBlock], None] | None,
) -> BlocksRun:
    """Blocks one after another; the next block is read while this one computes."""
    meta: Mapping[str, str] | None = None
    computed = 0
    if not todo:
        return BlocksRun(meta, computed)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geomm-read") as pool:
        pending = pool.submit(read_source_block, source, todo[0])
        for i, block in enumerate(todo):
            data = pending.result()
            if i + 1 < len(todo):
                pending = pool.submit(read_source_block, source, todo[i + 1])
            stats = embed_block(source, block, config, names, parts, data=data)
            meta, computed = stats["model"], computed + stats["computed"]
            if progress:
                progress(block)
    return BlocksRun(meta, computed)


def run_dask(
    source: Path | xr.Dataset,
    todo: Sequence[ChipBlock],
    *,
    config: EmbedConfig,
    names: Sequence[str],
    parts: Path,
    progress: Callable[[ChipBlock], None] | None,
    scheduler: str,
) -> BlocksRun:
    """One task per block on a cluster, a bounded number in flight."""
    from distributed import as_completed

    from geomm.cube import dask_scheduler

    if not isinstance(source, Path):
        raise EmbedError(
            "a Dask cluster reads the cube from its store: pass the cube's path "
            "(or a cube opened with geomm.cube.open_cube)"
        )
    meta: Mapping[str, str] | None = None
    computed = 0
    with dask_scheduler(scheduler) as client:
        assert client is not None  # a scheduler address always gives a client
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        window = max(4, 2 * workers)
        queue = list(todo)
        # distributed ships as_completed unannotated (and its add method).
        running = as_completed()  # type: ignore[no-untyped-call]
        fingerprint = config.fingerprint()
        block_of: dict[str, ChipBlock] = {}

        def submit(block: ChipBlock) -> None:
            key = f"geomm-embed-{block.name}-{fingerprint}"
            block_of[key] = block
            running.add(  # type: ignore[no-untyped-call]
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
    return BlocksRun(meta, computed)
