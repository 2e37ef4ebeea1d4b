"""Work arrays reused across the chunks of one reading task.

A cube task computes the same chunk-sized intermediates (decoded windows,
validity masks, float planes, resampling weights) for every band, item and
chunk it covers. A fresh array of that size comes from ``mmap``, and the
kernel zero-fills each of its 4 KiB pages on first touch: on the 2-core
reference VM those page faults cost more than the arithmetic that filled
the arrays (figures in docs/benchmarks.md, "Where geomm's time goes").
Reusing one buffer per purpose keeps its pages mapped.

Inside :func:`scratch_pool` (one per task, on the task's thread),
:func:`scratch` hands out the same memory for the same slot; outside one it
returns a new array, so functions that use it stay correct when called
directly. The pool is dropped when the task ends: memory stays bounded by a
few chunk-sized buffers per running task.

Rules for callers: a scratch array is overwritten by the next request for
its slot on the same thread; never return one from a function whose caller
keeps the result, and never share one between threads.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Hashable, Iterator

import numpy as np

__all__ = ["scratch", "scratch_pool"]

_LOCAL = threading.local()


@contextlib.contextmanager
def scratch_pool() -> Iterator[None]:
    """Reuse scratch arrays on this thread until the block ends (nests: the outer pool wins)."""
    if getattr(_LOCAL, "pool", None) is not None:
        yield
        return
    _LOCAL.pool = {}
    try:
        yield
    finally:
        _LOCAL.pool = None


def scratch(slot: Hashable, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialized C-contiguous array for ``slot``, reusing the slot's memory in a pool.

    The slot's buffer grows to the largest request and serves smaller ones
    from its start (chunks at the grid's edge are smaller).
    """
    dtype = np.dtype(dtype)
    pool: dict[Hashable, np.ndarray] | None = getattr(_LOCAL, "pool", None)
    if pool is None:
        return np.empty(shape, dtype=dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffer = pool.get(slot)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = pool[slot] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)
