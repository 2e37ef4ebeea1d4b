"""CROMA's input scaling: mean +- 2 std to [0, 1], with fixed or per-batch statistics.

Both forms apply ``x' = clip((x - (mean - 2 std)) / (4 std), 0, 1)`` per band:

* ``ssl4eo`` (default): fixed SSL4EO-S12 statistics (CROMA.md), so a chip's
  input, and so its embedding, does not depend on the rest of its batch.
* ``reference``: the CROMA README's form, each channel's mean and (unbiased)
  std over the whole input batch, for parity with the reference code. A
  chip's embedding then depends on the other chips it is embedded with.

In both, nodata (S2 == 0, S1 NaN) becomes 0.5 after scaling, the value of the
band mean; the reference statistics skip nodata (identical to the README for
inputs without nodata), and a band with zero spread maps to 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["S1_MEAN", "S1_STD", "S2_MEAN", "S2_STD", "Scaling", "apply_scaling", "scaling_for"]

S2_MEAN = (
    1353.7,
    1117.2,
    1041.8,
    946.5,
    1199.1,
    2003.0,
    2374.0,
    2301.2,
    2599.7,
    732.1,
    1820.6,
    1118.2,
)
"""SSL4EO-S12 per-band mean of S2 (B01..B12 without B10), reflectance x 10000."""
S2_STD = (897.3, 736.0, 684.8, 620.0, 791.9, 1341.3, 1595.4, 1545.5, 1750.1, 475.1, 1216.5, 736.7)
"""SSL4EO-S12 per-band standard deviation of S2."""
S1_MEAN = (-12.548, -20.192)
"""SSL4EO-S12 mean of S1 VV, VH in dB."""
S1_STD = (5.257, 5.912)
"""SSL4EO-S12 standard deviation of S1 VV, VH in dB."""

NODATA_VALUE = 0.5
"""Scaled value given to nodata pixels: where the band mean lands."""


@dataclass(frozen=True)
class Scaling:
    """Per-band affine scaling ``clip((x - low) / span, 0, 1)``."""

    low: Tensor
    """(C,) float32: mean - 2 std."""
    span: Tensor
    """(C,) float32: 4 std (0 where a band has no spread: mapped to 0.5)."""


def _fixed(mean: tuple[float, ...], std: tuple[float, ...]) -> Scaling:
    m, s = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return Scaling(
        low=torch.from_numpy((m - 2 * s).astype(np.float32)),
        span=torch.from_numpy((4 * s).astype(np.float32)),
    )


def _batch_stats(x: Tensor, nodata: Tensor | None) -> Scaling:
    lows, spans = [], []
    for c in range(x.shape[1]):
        ch = x[:, c]
        if nodata is not None and bool(nodata[:, c].any()):
            ch = ch[~nodata[:, c]]
        if ch.numel() < 2:
            lows.append(torch.zeros((), dtype=torch.float32))
            spans.append(torch.zeros((), dtype=torch.float32))
            continue
        # The README's arithmetic, op for op: min = mean - 2 std, max = mean + 2 std.
        mean, std = ch.mean(), ch.std()
        low, high = mean - 2 * std, mean + 2 * std
        lows.append(low)
        spans.append(high - low)
    return Scaling(low=torch.stack(lows), span=torch.stack(spans))


def _float_and_nodata(name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """float32 values and the nodata mask (S2 == 0, S1 NaN)."""
    return x, (x == 0) if name == "s2" else torch.isnan(x)


def _float_tensor(arr: np.ndarray, device: torch.device) -> Tensor:
    """The array as float32 on ``device`` (uint16 reflectance is exact in float32).

    To a GPU, uint16 travels as its 2-byte bit pattern through pinned memory and
    is widened there: half the bytes of float32 over the host link, which
    otherwise takes a large share of a bf16 forward on a fast GPU.
    """
    if device.type == "cuda":
        if arr.dtype == np.uint16:
            raw = _from_numpy(np.ascontiguousarray(arr).view(np.int16)).pin_memory()
            bits = raw.to(device, non_blocking=True).to(torch.int32)
            return (bits & 0xFFFF).to(torch.float32)
        host = _from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).pin_memory()
        return host.to(device, non_blocking=True)
    return _from_numpy(arr.astype(np.float32, copy=False)).to(device)


def _from_numpy(arr: np.ndarray) -> Tensor:
    # torch warns on read-only arrays (dask, memmaps); nothing here writes to them.
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


def scaling_for(name: str, normalization: str, arr: np.ndarray | None = None) -> Scaling:
    """The scaling of modality ``name`` (``"s1"``/``"s2"``).

    Args:
        name: ``"s1"`` or ``"s2"``.
        normalization: ``"ssl4eo"`` or ``"reference"``.
        arr: the whole input batch; needed for ``"reference"`` only.
    """
    if normalization == "ssl4eo":
        return _fixed(S1_MEAN, S1_STD) if name == "s1" else _fixed(S2_MEAN, S2_STD)
    if arr is None:
        raise ValueError("the reference normalization needs the input batch")
    x, nodata = _float_and_nodata(name, _float_tensor(arr, torch.device("cpu")))
    return _batch_stats(x, nodata if bool(nodata.any()) else None)


def apply_scaling(name: str, arr: np.ndarray, scaling: Scaling, *, device: torch.device) -> Tensor:
    """Scale one (micro-)batch to float32 in [0, 1] on ``device``; nodata -> 0.5."""
    x, nodata = _float_and_nodata(name, _float_tensor(arr, device))
    low = scaling.low.to(device)[None, :, None, None]
    span = scaling.span.to(device)[None, :, None, None]
    flat = span == 0
    y = ((x - low) / torch.where(flat, torch.ones_like(span), span)).clamp_(0.0, 1.0)
    return torch.where(nodata | flat, torch.full_like(y, NODATA_VALUE), y)
