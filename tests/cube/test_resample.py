"""The reader's resampling kernels, against hand computations and each other."""

from __future__ import annotations

import numpy as np
import pytest

from geomm.cube._resample import resample


def _stack(a):
    return np.asarray(a, dtype=np.float32)[None]


def test_bilinear_by_hand_with_a_nodata_neighbour():
    data = _stack([[10, 20], [30, 40]])
    valid = np.array([[[True, True], [True, False]]])
    # centre of the four pixels: weights 1/4 each, the invalid one dropped -> (10+20+30)/3
    values, good = resample(data, valid, np.array([0.5]), np.array([0.5]), layout="separable")
    assert good[0, 0, 0]
    assert values[0, 0, 0] == pytest.approx(20.0)
    # a quarter of the way from pixel (0,0) to (0,1): 0.75*10 + 0.25*20
    values, _ = resample(data, valid, np.array([0.0]), np.array([0.25]), layout="separable")
    assert values[0, 0, 0] == pytest.approx(12.5)


def test_samples_mostly_over_nodata_are_invalid():
    data = _stack([[10, 0], [0, 0]])
    valid = data > 0
    # 0.6 of the way towards the nodata pixel: valid weight 0.4 < 0.5 -> invalid
    _, good = resample(data, valid, np.array([0.0]), np.array([0.6]), layout="separable")
    assert not good[0, 0, 0]
    _, good = resample(data, valid, np.array([0.0]), np.array([0.4]), layout="separable")
    assert good[0, 0, 0]


def test_general_equals_separable_on_an_axis_aligned_grid():
    rng = np.random.default_rng(1)
    data = rng.random((3, 40, 50)).astype(np.float32) * 1000
    valid = rng.random((3, 40, 50)) > 0.1
    valid[1] = valid[0]  # mixed: shared and own validity planes
    rows = np.linspace(-0.7, 39.6, 33)
    cols = np.linspace(-0.4, 49.9, 41)
    a, ga = resample(data, valid, rows, cols, layout="separable")
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    b, gb = resample(data, valid, rr, cc, layout="general")
    np.testing.assert_array_equal(ga, gb)
    np.testing.assert_allclose(a[ga], b[gb], rtol=1e-4)  # general path computes in float32


def test_upsampling_20m_to_10m_reproduces_a_linear_ramp():
    # a 20 m ramp sampled at 10 m pixel centres (positions -0.25, 0.25, 0.75, ...)
    ramp = np.arange(10, dtype=np.float32) * 100.0
    data = np.tile(ramp, (4, 1))[None]
    valid = np.ones_like(data, dtype=bool)
    cols = np.arange(20) * 0.5 - 0.25
    values, good = resample(data, valid, np.array([1.0]), cols, layout="separable")
    inner = slice(1, 19)  # the first/last sample lie beyond the outer pixel centres
    np.testing.assert_allclose(values[0, 0, inner], cols[inner] * 100.0, rtol=1e-6)
    assert good[0, 0].all()


def test_copy_pads_where_the_source_ends_and_keeps_dtype_for_nearest():
    data = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    valid = np.ones_like(data, dtype=bool)
    rows = np.arange(-1, 3, dtype=float)
    cols = np.arange(2, 6, dtype=float)
    values, good = resample(data, valid, rows, cols, layout="copy", method="nearest")
    assert values.dtype == np.uint8
    expected = np.zeros((4, 4), dtype=np.uint8)
    expected[1:4, 0:2] = data[0, 0:3, 2:4]
    np.testing.assert_array_equal(values[0], expected)
    assert good[0].sum() == 6


def test_nearest_picks_the_closest_pixel():
    data = np.array([[[1, 2], [3, 4]]], dtype=np.uint8)
    valid = np.ones_like(data, dtype=bool)
    rr = np.array([[0.4, 0.6]])
    cc = np.array([[0.6, 0.4]])
    values, _ = resample(data, valid, rr, cc, layout="general", method="nearest")
    assert values[0].tolist() == [[2, 3]]
