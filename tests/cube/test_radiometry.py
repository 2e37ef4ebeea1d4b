"""Radiometry kernels against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from geomm.cube._radiometry import clear_from_scl, harmonize_s2, s1_to_db


def test_harmonize_removes_the_offset_once_and_keeps_nodata():
    dn = np.array([0, 1, 999, 1000, 1001, 5000, 65535], dtype=np.uint16)
    assert harmonize_s2(dn, 1000).tolist() == [0, 1, 1, 1, 1, 4000, 64535]
    assert harmonize_s2(dn, 0).tolist() == dn.tolist()
    assert harmonize_s2(dn.astype(np.float32), 1000).tolist() == [0, 1, 1, 1, 1, 4000, 64535]
    assert harmonize_s2(dn, 1000).dtype == np.uint16


@pytest.mark.parametrize("shape", [(7,), (64, 96), (3, 20, 30)])
@pytest.mark.parametrize("offset", [1, 1000, 65534])
def test_harmonize_equals_the_integer_formula_on_any_array(shape, offset):
    rng = np.random.default_rng(offset)
    dn = rng.integers(0, 65536, shape).astype(np.uint16)
    dn.flat[::7] = 0
    expected = np.where(dn == 0, 0, np.maximum(dn.astype(np.int64) - offset, 1))
    np.testing.assert_array_equal(harmonize_s2(dn, offset), expected)
    strided = dn[..., ::2]  # not contiguous
    np.testing.assert_array_equal(harmonize_s2(strided, offset), expected[..., ::2])


def test_s1_to_db_never_gives_minus_infinity():
    power = np.array([1.0, 0.1, 0.0, -5.0, np.nan, -32768.0, 100.0], dtype=np.float32)
    db = s1_to_db(power, nodata=-32768.0)
    np.testing.assert_allclose(db[[0, 1, 6]], [0.0, -10.0, 20.0], atol=1e-5)
    assert np.isnan(db[[2, 3, 4, 5]]).all()
    assert not np.isinf(db).any()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_clear_from_scl(dtype):
    scl = np.arange(12, dtype=dtype)
    clear = clear_from_scl(scl)
    assert np.flatnonzero(clear).tolist() == [2, 4, 5, 6, 7]
    assert np.flatnonzero(clear_from_scl(scl, snow_is_clear=True)).tolist() == [2, 4, 5, 6, 7, 11]


def test_harmonize_writes_into_out_in_place_and_into_views():
    rng = np.random.default_rng(2)
    dn = rng.integers(0, 20000, (40, 50)).astype(np.uint16)
    expected = harmonize_s2(dn, 1000)
    block = np.zeros((60, 70), dtype=np.uint16)
    view = block[5:45, 10:60]  # strided rows
    assert harmonize_s2(dn, 1000, out=view) is view
    np.testing.assert_array_equal(view, expected)
    assert block[:5].sum() == 0 and block[:, :10].sum() == 0
    same = dn.copy()
    assert harmonize_s2(same, 1000, out=same) is same  # in place
    np.testing.assert_array_equal(same, expected)
    with pytest.raises(ValueError, match="uint16"):
        harmonize_s2(dn, 1000, out=np.zeros((40, 50), np.int32))
