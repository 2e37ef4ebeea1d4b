"""Per-task scratch arrays: reuse inside a pool, fresh arrays outside, one pool per thread."""

from __future__ import annotations

import threading

import numpy as np

from geomm.cube._resample import Layout, resample
from geomm.cube._scratch import scratch, scratch_pool


def test_outside_a_pool_every_request_is_a_new_array():
    a = scratch("x", (4, 5), np.float32)
    b = scratch("x", (4, 5), np.float32)
    assert not np.shares_memory(a, b)


def test_a_pool_hands_a_slot_the_same_memory_until_it_ends():
    with scratch_pool():
        a = scratch("x", (4, 5), np.float32)
        small = scratch("x", (2, 3), np.uint16)  # a smaller request: the same buffer
        assert np.shares_memory(a, small)
        assert not np.shares_memory(a, scratch("y", (4, 5), np.float32))
        big = scratch("x", (10, 10), np.float64)  # grows; C-contiguous, the dtype asked
        assert big.shape == (10, 10) and big.dtype == np.float64 and big.flags.c_contiguous
        with scratch_pool():  # nested: the outer pool goes on
            assert np.shares_memory(scratch("x", (10, 10), np.float64), big)
        assert np.shares_memory(scratch("x", (3, 3), np.float64), big)
    assert not np.shares_memory(scratch("x", (10, 10), np.float64), big)


def test_each_thread_has_its_own_pool():
    seen = {}

    def grab(name: str) -> None:
        with scratch_pool():
            seen[name] = scratch("x", (64, 64), np.float32)
            barrier.wait()  # both pools alive at once

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=grab, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not np.shares_memory(seen["a"], seen["b"])


GENERAL = Layout.GENERAL


def test_resample_results_do_not_alias_scratch_memory():
    """Values returned inside a pool survive the next call (only intermediates are scratch)."""
    rng = np.random.default_rng(3)
    rows, cols = np.meshgrid(np.linspace(-0.7, 18.6, 15), np.linspace(0.2, 21.9, 17), indexing="ij")
    with scratch_pool():
        for dtype in (np.uint16, np.float32):
            valid = rng.random((2, 20, 23)) > 0.1  # nodata: the masked path
            data = [(rng.random((20, 23)) * 5000).astype(dtype) for _ in range(2)]
            sampled = resample(data, list(valid), rows=rows, cols=cols, layout=GENERAL, dtype=dtype)
            first, good = sampled.values, sampled.good
            kept = [v.copy() for v in first] + [g.copy() for g in good]
            data2 = [d[::-1].copy() for d in data]
            resample(data2, list(valid[:, ::-1]), rows=rows, cols=cols, layout=GENERAL, dtype=dtype)
            all_valid = [np.ones((20, 23), bool)] * 2
            resample(data2, all_valid, rows=rows, cols=cols, layout=GENERAL, dtype=dtype)
            for before, now in zip(kept, first + good, strict=True):
                np.testing.assert_array_equal(before, now)
