"""One block of a run: read it, pick its chip-times, embed them batch by batch, save.

This is what runs in a Dask worker task (or in this process): it takes
only plain data (a cube path, a :class:`ChipBlock`, an :class:`EmbedConfig`),
loads the model once per process (:meth:`ModelSpec.load`), and leaves its
results on disk in the run folder, so a task lost with its worker is simply
run again and continues after the last saved batch.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from geomm.chips import BlockData, ChipBlock, read_block, read_block_from_store
from geomm.embed._config import EmbedConfig, required_inputs
from geomm.embed._folder import STATS_SUFFIX, write_json_atomic
from geomm.embed._table import completed_parts, merge_parts, table_part, table_schema, write_part
from geomm.errors import EmbedError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.models import EmbeddingModel, ModelInfo

__all__ = ["BlockStats", "embed_block", "read_source_block"]


class BlockStats(TypedDict):
    """What :func:`embed_block` returns (and, less ``computed``, writes as the block's stats)."""

    rows: int
    """Chip-times of the block in the table."""
    skipped_clear: int
    """Chip-times left out for too little clear sky."""
    skipped_s1: int
    """Chip-times left out for too little S1 coverage."""
    model: dict[str, str]
    """``weights_id`` and ``precision`` of the model that embedded them."""
    computed: int
    """Chip-times embedded by this call (fewer than ``rows`` when resuming the block)."""


@dataclass(frozen=True)
class _Selection:
    """Which chip-times of a block to embed, in the order they are embedded."""

    times: np.ndarray
    """(K,) time index of each selected chip-time, chip-major (a chip's times together)."""
    chips: np.ndarray
    """(K,) chip index of each selected chip-time."""
    skipped_clear: int
    """Chip-times left out for too little clear sky."""
    skipped_s1: int
    """Chip-times left out for too little S1 coverage (among those clear enough)."""


def read_source_block(source: str | Path | xr.Dataset, block: ChipBlock) -> BlockData:
    """Read ``block`` from a dataset in this process, or from a store path (any process)."""
    from xarray import Dataset

    if isinstance(source, Dataset):
        return read_block(source, block)
    return read_block_from_store(source, block)


def embed_block(
    source: str | Path | xr.Dataset,
    block: ChipBlock,
    config: EmbedConfig,
    names: Sequence[str],
    parts: Path,
    data: BlockData | None = None,
) -> BlockStats:
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
        data = read_source_block(source, block)
    needed = required_inputs(model.info, names)
    chosen = _select(data, config, needed)
    batches = parts / block.name
    batches.mkdir(exist_ok=True)
    computed = _embed_batches(
        model, data, chosen, config=config, names=names, needed=needed, batches=batches
    )
    stats: BlockStats = {
        "rows": len(chosen.times),
        "skipped_clear": chosen.skipped_clear,
        "skipped_s1": chosen.skipped_s1,
        "model": {"weights_id": model.weights_id, "precision": model.precision},
        "computed": computed,
    }
    saved = {k: v for k, v in stats.items() if k != "computed"}
    write_json_atomic(parts / (block.name + STATS_SUFFIX), saved)
    schema = table_schema({n: model.info.embeddings[n] for n in names}, names[0])
    merge_parts(batches, parts / f"{block.name}.parquet", {}, schema=schema)
    shutil.rmtree(batches, ignore_errors=True)
    return stats


def _embed_batches(
    model: EmbeddingModel,
    data: BlockData,
    chosen: _Selection,
    *,
    config: EmbedConfig,
    names: Sequence[str],
    needed: frozenset[str],
    batches: Path,
) -> int:
    """Embed and save the batches not saved yet; the chip-times computed."""
    done = completed_parts(batches)
    computed, size = 0, config.batch_size
    for number, start in enumerate(range(0, len(chosen.times), size)):
        name = f"{number:06d}"
        if name in done:
            continue
        t, c = chosen.times[start : start + size], chosen.chips[start : start + size]
        result = model.embed(
            _bands(data.s1[t, c], data.s1_bands, model.info, "s1") if "s1" in needed else None,
            _bands(data.s2[t, c], data.s2_bands, model.info, "s2") if "s2" in needed else None,
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
    return computed


def _bands(arr: np.ndarray, have: tuple[str, ...], info: ModelInfo, modality: str) -> np.ndarray:
    """The model's bands of ``modality``, in its order, from (N, bands, H, W) cube chips.

    The cube's own array when its bands are the model's (no copy); a cube
    that does not name its bands is taken to be in the model's order.
    """
    want = info.bands[modality]
    if not have or have == want:
        return arr
    missing = [b for b in want if b not in have]
    if missing:
        raise EmbedError(
            f"model {info.name!r} reads {modality} bands {list(want)}; the cube has no {missing}"
        )
    return arr[:, [have.index(b) for b in want]]


def _select(data: BlockData, config: EmbedConfig, needed: frozenset[str]) -> _Selection:
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
    cs, ts = np.nonzero(keep.T)  # chip-major: a chip's times sit together
    return _Selection(times=ts, chips=cs, skipped_clear=skipped_clear, skipped_s1=skipped_s1)
