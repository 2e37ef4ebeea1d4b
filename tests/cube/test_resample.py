"""The reader's resampling kernels, against hand computations and each other."""

from __future__ import annotations

import numpy as np
import pytest

from geomm.cube._resample import Layout, Planes, _zoom2
from geomm.cube._resample import resample as _resample


def _call(data, valid, rows, cols, *, layout: str, **kwargs) -> Planes:
    """The kernel at ``rows``, ``cols`` laid out as ``layout`` (a :class:`Layout` value)."""
    return _resample(data, valid, rows=rows, cols=cols, layout=Layout(layout), **kwargs)


def resample(*args, **kwargs):
    """The kernel's per-band lists as (bands, H, W) arrays, for indexing in tests."""
    planes = _call(*args, **kwargs)
    return np.asarray(planes.values), np.asarray(planes.good)


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


def _reference_bilinear(data, valid, rows, cols):
    """Textbook nodata-aware bilinear, one sample at a time (independent of the library)."""
    nb, h, w = data.shape
    values = np.zeros((nb, *rows.shape), dtype=np.float64)
    good = np.zeros((nb, *rows.shape), dtype=bool)
    for idx in np.ndindex(rows.shape):
        r, c = float(rows[idx]), float(cols[idx])
        r0, c0 = int(np.floor(r)), int(np.floor(c))
        for b in range(nb):
            num = den = 0.0
            for rr, wr in ((r0, 1 - (r - r0)), (r0 + 1, r - r0)):
                for cc, wc in ((c0, 1 - (c - c0)), (c0 + 1, c - c0)):
                    if 0 <= rr < h and 0 <= cc < w and valid[b, rr, cc]:
                        num += wr * wc * data[b, rr, cc]
                        den += wr * wc
            if den >= 0.5 - 1e-6:
                values[(b, *idx)] = num / den
                good[(b, *idx)] = True
    return values, good


@pytest.mark.parametrize("all_valid", [True, False], ids=["fast-path", "with-nodata"])
def test_both_layouts_equal_a_textbook_bilinear(all_valid):
    rng = np.random.default_rng(1)
    data = rng.random((3, 20, 24)).astype(np.float32) * 1000
    valid = np.ones(data.shape, dtype=bool) if all_valid else rng.random(data.shape) > 0.15
    if not all_valid:
        valid[1] = valid[0]  # mixed: shared and own validity planes
    # inside the window for the fast path; beyond its edges otherwise
    lo, hi = (0.0, 19.0) if all_valid else (-0.7, 19.6)
    rows = np.linspace(lo, hi, 17)
    cols = np.linspace(lo * 0.5, 23.0 if all_valid else 23.9, 21)
    expected, expected_good = _reference_bilinear(
        data, valid, *np.meshgrid(rows, cols, indexing="ij")
    )
    for layout, r, c in (
        ("separable", rows, cols),
        ("general", *np.meshgrid(rows, cols, indexing="ij")),
    ):
        got, good = resample(data, valid, r, c, layout=layout)
        np.testing.assert_array_equal(good, expected_good)
        np.testing.assert_allclose(got[good], expected[good], rtol=1e-4)  # float32 kernel


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


@pytest.mark.parametrize("d0", [-3, 0, 1, 3])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("with_nodata", [False, True])
def test_2x_upsampling_by_resize_equals_remap_at_full_maps(d0, dtype, with_nodata):
    """The resize fast path (a 20 m grid under a 10 m one) is bit-identical to remap, also
    where samples run off the window (d0 < 0 at the start, long spans at the end)."""
    rng = np.random.default_rng(d0 + 3)
    src = rng.integers(1, 6000, (2, 41, 37)).astype(dtype)
    valid = np.ones(src.shape, dtype=bool)
    if with_nodata:  # a nodata corner: the fast path declines, the general one decides
        valid[:, :5, :7] = False
        src[~valid] = 0
    rows = (d0 + np.arange(90) + 0.5) / 2 - 0.5  # up to ~44 on 41 rows
    cols = (d0 + np.arange(80) + 0.5) / 2 - 0.5  # up to ~39 on 37 columns
    full_rows, full_cols = np.meshgrid(rows, cols, indexing="ij")
    out = np.uint16 if dtype == np.uint16 else None
    for method in ("bilinear", "nearest"):
        fast = resample(src, valid, rows, cols, layout="separable", method=method, dtype=out)
        general = resample(
            src, valid, full_rows, full_cols, layout="general", method=method, dtype=out
        )
        np.testing.assert_array_equal(fast[0], general[0])
        np.testing.assert_array_equal(fast[1], general[1])
        kind = None if method == "nearest" else np.dtype(out or np.float32)
        took_resize = _zoom2(list(src), list(valid), rows=rows, cols=cols, kind=kind) is not None
        assert took_resize == (method == "nearest" or not with_nodata)
        assert not fast[1][0, -1].any() and not fast[1][0, :, -1].any()  # off the window


def test_all_valid_window_edges_equal_the_textbook_renormalization():
    """Every source pixel valid, samples beyond the window's edges: renormalized over the
    neighbours inside (clamped positions), invalid under half the weight, for float and uint16."""
    rng = np.random.default_rng(5)
    data = rng.integers(1, 9000, (2, 20, 24)).astype(np.uint16)
    valid = np.ones(data.shape, dtype=bool)
    rows = np.linspace(-0.95, 19.9, 23)
    cols = np.linspace(-1.6, 23.7, 29)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    expected, expected_good = _reference_bilinear(data.astype(np.float64), valid, rr, cc)
    assert 0 < expected_good.sum() < expected_good.size  # both kinds of edge samples occur
    got, good = resample(data.astype(np.float32), valid, rr, cc, layout="general")
    np.testing.assert_array_equal(good, expected_good)
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-4)  # float32 kernel
    assert (got[~good] == 0).all()
    got16, good16 = resample(data, valid, rr, cc, layout="general", dtype=np.uint16)
    np.testing.assert_array_equal(good16, expected_good)
    assert got16.dtype == np.uint16
    np.testing.assert_allclose(got16, np.rint(np.where(expected_good, expected, 0)), atol=1)
    assert (got16[~good16] == 0).all()
    # the masked path (one invalid pixel no sample touches) gives the same samples
    masked_valid = valid.copy()
    masked_valid[:, 10, 12] = False
    far = (np.abs(rr - 10) > 1.5) | (np.abs(cc - 12) > 1.5)
    other, other_good = resample(data.astype(np.float32), masked_valid, rr, cc, layout="general")
    np.testing.assert_array_equal(other_good[:, far], good[:, far])
    np.testing.assert_allclose(other[:, far], got[:, far], rtol=1e-5)


def test_uint16_output_is_the_rounded_float_output():
    """The masked path's uint16 result (scaled, rounded and saturated in one OpenCV pass)
    equals the float32 result rounded half to even and clipped."""
    rng = np.random.default_rng(11)
    data = rng.integers(0, 65535, (3, 30, 33)).astype(np.uint16)
    data[0, :2] = 65535  # saturation at the top of the range
    valid = rng.random(data.shape) > 0.2
    rr, cc = np.meshgrid(np.linspace(-0.8, 29.5, 31), np.linspace(0.3, 32.9, 37), indexing="ij")
    as_float, good = resample(data, valid, rr, cc, layout="general")
    as_uint16, good16 = resample(data, valid, rr, cc, layout="general", dtype=np.uint16)
    np.testing.assert_array_equal(good16, good)
    np.testing.assert_array_equal(as_uint16, np.clip(np.rint(as_float), 0, 65535).astype(np.uint16))


def _positions(layout):
    """Sample positions for a 30 x 34 source that exercise each code path."""
    if layout == "copy":
        return np.arange(-2, 24, dtype=float), np.arange(3, 31, dtype=float)
    if layout == "zoom2":  # exact 2x upsampling, inside the window
        return (1 + np.arange(26) + 0.5) / 2 - 0.5, (1 + np.arange(28) + 0.5) / 2 - 0.5
    rows, cols = np.linspace(-0.6, 29.4, 26), np.linspace(0.4, 33.8, 28)
    if layout == "separable":
        return rows, cols
    return tuple(np.meshgrid(rows, cols + 0.01 * rows[:, None].mean(), indexing="ij"))


@pytest.mark.parametrize("layout", ["copy", "zoom2", "separable", "general"])
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("nodata", [False, True])
def test_out_planes_take_the_values_in_place(layout, method, nodata):
    """``out=`` views of a larger block receive exactly the values a plain call returns."""
    rng = np.random.default_rng(7)
    data = rng.integers(1, 6000, (2, 30, 34)).astype(np.uint16)
    valid = np.ones(data.shape, dtype=bool)
    if nodata:
        valid[:, 20:, :9] = False
        data[~valid] = 0
    rows, cols = _positions(layout)
    kind = "copy" if layout == "copy" else "separable" if layout == "zoom2" else layout
    kwargs = {"layout": kind, "method": method, "dtype": np.uint16}
    fresh = _call(list(data), list(valid), rows, cols, **kwargs).values
    fresh_good = _call(list(data), list(valid), rows, cols, **kwargs).good
    h, w = fresh[0].shape
    block = np.full((3, h + 7, w + 5), 7, dtype=np.uint16)
    planes = [block[b, 4 : 4 + h, 2 : 2 + w] for b in range(2)]  # strided views
    sampled = _call(list(data), list(valid), rows, cols, out=planes, **kwargs)
    values, good = sampled.values, sampled.good
    for b in range(2):
        assert values[b] is planes[b]
        np.testing.assert_array_equal(planes[b], fresh[b])
        np.testing.assert_array_equal(good[b], fresh_good[b])
    assert (block[2] == 7).all() and (block[:, :4] == 7).all() and (block[:, :, :2] == 7).all()


def test_out_planes_of_the_wrong_type_are_refused():
    data = np.ones((1, 4, 4), dtype=np.uint16)
    rows = cols = np.linspace(0.2, 2.8, 3)
    with pytest.raises(ValueError, match=r"out\[0\]"):
        _call(data, data > 0, rows, cols, layout="separable", out=[np.zeros((3, 3), np.uint16)])
