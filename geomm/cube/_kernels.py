"""geomm's mosaicking kernels: one acquisition's items over one block, all bands.

The items of an acquisition fill a block in mosaic order
(:func:`geomm.cube._plan.mosaic_order`): the first valid pixel wins, later
items read only the bounding box of what is still empty, and a full block
stops reading. Each band is resampled straight into the caller's block
(the first item) or into scratch planes (later ones). Radiometry (baseline
offset, dB) is applied per item, before mosaicking, because it is a
property of the item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from geomm.cube._handles import read_window
from geomm.cube._plan import plan_read
from geomm.cube._radiometry import clear_from_scl, harmonize_s2
from geomm.cube._reader import Block, GridWindow, PixelWindow
from geomm.cube._resample import resample
from geomm.cube._scratch import scratch
from geomm.cube._sources import BandSource, ItemSource, SourceGrid
from geomm.stac import S1_BANDS, S2_BANDS, Profile

__all__ = ["BandSample", "read_s1_block", "read_s2_block", "sample_bands"]


@dataclass(frozen=True, eq=False)
class BandSample:
    """One band resampled onto a block."""

    values: np.ndarray
    """The samples: the destination plane when one was given."""
    good: np.ndarray
    """Their validity (may be shared with other bands: do not change in place)."""


def read_s2_block(
    sources: Sequence[ItemSource],
    *,
    block: GridWindow,
    profile: Profile,
    snow_is_clear: bool,
    method: str = "bilinear",
    out: np.ndarray | None = None,
) -> Block:
    """One S2 acquisition over a block: 12 bands harmonized (uint16) and clear.

    ``out`` (12, h, w) uint16 takes the bands when given (a view of a task's
    array), else a new one does. ``method`` resamples the reflectance bands
    (``bilinear`` or ``nearest``); SCL is always nearest.
    """
    shape = block.pixels.shape
    if out is None:
        out = np.empty((len(S2_BANDS), *shape), dtype=np.uint16)
    if not sources:
        out.fill(0)
    scl = np.zeros(shape, dtype=np.uint8)
    read = 0  # items read before the block was full
    for k, src in enumerate(sources):
        if k == 0:  # resampled straight into the block
            box: PixelWindow | None = PixelWindow(0, shape[0], 0, shape[1])
        else:  # into scratch planes, over the box of what earlier items left empty
            box = _empty_box(out, scl if _any_scl(sources[:k]) else None)
        if box is None:  # full: later items cannot add anything
            break
        _mosaic_reflectance(
            src, first=k == 0, refl=out, box=box, block=block, profile=profile, method=method
        )
        if src.has_scl:
            _mosaic_scl(src, scl=scl, box=box, block=block, profile=profile)
        read = k + 1
    clear = np.minimum.reduce(out, axis=0) != 0  # every band valid
    if _any_scl(sources[:read]):
        clear &= clear_from_scl(scl, snow_is_clear=snow_is_clear)
    return Block(data=out, valid=clear)


def _any_scl(sources: Sequence[ItemSource]) -> bool:
    return any(src.has_scl for src in sources)


def _empty_box(refl: np.ndarray, scl: np.ndarray | None) -> PixelWindow | None:
    """The bounding box of pixels no item filled yet (SCL too, when read), None if none."""
    lowest = np.minimum.reduce(refl, axis=0)
    if lowest.min() > 0:
        return None
    return _bounding_box((lowest == 0) | (scl == 0) if scl is not None else lowest == 0)


def _mosaic_reflectance(
    src: ItemSource,
    *,
    first: bool,
    refl: np.ndarray,
    box: PixelWindow,
    block: GridWindow,
    profile: Profile,
    method: str,
) -> None:
    """Fill ``refl``'s empty pixels in ``box`` (of the block) with ``src``'s harmonized bands."""
    nb = len(S2_BANDS)
    sub = GridWindow(block.grid, block.pixels.inner(box))
    groups = _grid_groups(src.bands[:nb])  # one source grid at a time
    if not first:  # and at most 3 bands of it into scratch: less memory per task
        groups = [g[j : j + 3] for g in groups for j in range(0, len(g), 3)]
    for group in groups:
        dest = (
            [refl[i] for i in group]
            if first
            else list(scratch("s2-later", (len(group), *box.shape), np.uint16))
        )
        sampled = sample_bands(
            [src.bands[i] for i in group],
            block=sub,
            profile=profile,
            method=method,
            dtype=np.uint16,
            out=dest,
        )
        for i, sample in zip(group, sampled, strict=True):
            if sample is None:  # the item misses the box: nothing to add
                if first:
                    refl[i].fill(0)
                continue
            harmonize_s2(sample.values, src.dn_offset, out=sample.values)  # 0 if invalid
            if not first:
                target = refl[i][box.rows, box.cols]
                np.copyto(target, sample.values, where=target == 0)


def _mosaic_scl(
    src: ItemSource, *, scl: np.ndarray, box: PixelWindow, block: GridWindow, profile: Profile
) -> None:
    """Fill ``scl``'s empty pixels in ``box`` with ``src``'s scene classification (nearest)."""
    sub = GridWindow(block.grid, block.pixels.inner(box))
    scl_bands = src.bands[len(S2_BANDS) :]
    (sample,) = sample_bands(scl_bands, block=sub, profile=profile, method="nearest")
    if sample is not None:
        target = scl[box.rows, box.cols]
        np.copyto(target, sample.values.astype(np.uint8), where=(target == 0) & sample.good)


def _bounding_box(mask: np.ndarray) -> PixelWindow:
    """The window around the True pixels of a 2-D mask (not all False)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return PixelWindow(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def read_s1_block(
    sources: Sequence[ItemSource],
    *,
    block: GridWindow,
    profile: Profile,
    method: str = "bilinear",
    out: np.ndarray | None = None,
) -> Block:
    """One S1 pass over a block: (2, h, w) float32 dB, NaN where no data.

    Linear power is resampled as is; dB sources are resampled in linear
    power too (converted before, back after), so averages stay physical.
    Written into ``out`` when given, else a new array. ``method``:
    ``bilinear`` or ``nearest``.
    """
    shape = block.pixels.shape
    nb = len(S1_BANDS)
    if out is None:
        out = np.empty((nb, *shape), dtype=np.float32)
    out.fill(np.nan)  # stays where no item covers the block
    for k, src in enumerate(sources):
        if k and not np.isnan(out).any():
            break
        pre = _db_to_linear if src.units == "db" else None
        # the first item straight into the block, later ones into scratch planes
        dest = list(out) if k == 0 else list(scratch("s1-power", (nb, *shape), np.float32))
        sampled = sample_bands(
            src.bands, block=block, profile=profile, method=method, pre=pre, out=dest
        )
        for i, sample in enumerate(sampled):
            if sample is not None:
                _power_to_db(sample, into=out[i], first=k == 0)
    return Block(data=out, valid=~np.isnan(out).any(axis=0))


def _power_to_db(sample: BandSample, *, into: np.ndarray, first: bool) -> None:
    """Valid samples with power > 0 in dB, where ``into`` has none yet.

    The first item's samples are ``into`` itself (NaN where not taken); a
    later item's are copied where ``into`` is still NaN.
    """
    power = sample.values
    take = np.greater(power, 0, out=scratch("s1-take", power.shape, bool))
    take &= sample.good  # ``good`` may be shared between bands: not changed in place
    if not first:
        take &= np.isnan(into)
    np.log10(power, out=power, where=take)
    power *= 10.0
    if first:  # ``power`` is the block's plane
        np.copyto(power, np.float32(np.nan), where=~take)
    else:
        np.copyto(into, power, where=take)


def sample_bands(
    bands: Sequence[BandSource],
    *,
    block: GridWindow,
    profile: Profile,
    method: str,
    dtype: type | None = None,
    out: Sequence[np.ndarray] | None = None,
    pre: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[BandSample | None]:
    """Resample each band onto the block; bands on one grid share one plan.

    ``dtype`` is the bilinear output type and ``out`` the bands' destination
    planes (see :func:`geomm.cube._resample.resample`); a band whose source
    misses the block leaves its plane untouched. ``pre`` maps each window
    read before resampling (dB to linear power).

    Returns one sample per band, None where the band's source does not
    overlap the block.
    """
    result: list[BandSample | None] = [None] * len(bands)
    for members in _grid_groups(bands):
        plan = plan_read(bands[members[0]].grid, block)
        if plan is None:
            continue
        planes, valid = [], []
        for slot, i in enumerate(members):
            pixels = read_window(bands[i], window=plan.window, profile=profile, slot=slot)
            planes.append(pre(pixels.data) if pre is not None else pixels.data)
            valid.append(pixels.valid)
        sampled = resample(
            planes,
            valid,
            rows=plan.rows,
            cols=plan.cols,
            layout=plan.layout,
            method=method,
            dtype=dtype,
            out=None if out is None else [out[i] for i in members],
        )
        for k, i in enumerate(members):
            result[i] = BandSample(values=sampled.values[k], good=sampled.good[k])
    return result


def _grid_groups(bands: Sequence[BandSource]) -> list[list[int]]:
    """Indices of the bands on each source grid (CRS, transform, shape), in band order."""
    groups: dict[SourceGrid, list[int]] = {}
    for i, band in enumerate(bands):
        groups.setdefault(band.grid, []).append(i)
    return list(groups.values())


def _db_to_linear(db: np.ndarray) -> np.ndarray:
    power: np.ndarray = np.power(10.0, db.astype(np.float32) / 10.0, dtype=np.float32)
    return power
