"""Quicklook PNGs of a hand-built cube: pixel values of both panels, time choice, CLI."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr

from geomm.cli import EXIT_USER_ERROR, main
from geomm.cube import QuicklookError, pick_time, quicklook, write_cube
from geomm.cube._quicklook import nice_scale_length, s2_true_colour
from geomm.errors import GeommError
from geomm.stac import S1_BANDS, S2_BANDS

N = 20  # pixels per side, 10 m each
X0, Y0 = 500_000.0, 5_000_200.0  # upper-left corner (EPSG:32632)
RED = {"B04": 3000, "B03": 300, "B02": 300}


def tiny_cube() -> xr.Dataset:
    """Two times on a 20 x 20 px grid; time 1 is fully clear, time 0 half clear.

    Time 1: S2 left half bright red (B04 3000, B03/B02 300), right half nodata
    (0); S1 VV -10 dB, VH -20 dB, top 5 rows NaN.
    """
    s2 = np.zeros((2, len(S2_BANDS), N, N), dtype=np.uint16)
    s2[:, :, :, : N // 2] = 1000
    for band, value in RED.items():
        s2[:, S2_BANDS.index(band), :, : N // 2] = value
    s1 = np.empty((2, len(S1_BANDS), N, N), dtype=np.float32)
    s1[:, S1_BANDS.index("VV")] = -10.0
    s1[:, S1_BANDS.index("VH")] = -20.0
    s1[1, :, :5, :] = np.nan
    clear = np.ones((2, N, N), dtype=bool)
    clear[0, N // 2 :, :] = False
    times = pd.DatetimeIndex(["2024-06-01T10:00", "2024-06-11T10:00"], name="time")
    ds = xr.Dataset(
        {
            "s2": (("time", "s2_band", "y", "x"), s2),
            "s1": (("time", "s1_band", "y", "x"), s1),
            "clear": (("time", "y", "x"), clear),
            "s1_time": ("time", pd.DatetimeIndex(["2024-06-02T05:30", "2024-06-09T17:00"])),
            "s1_lag_days": ("time", np.array([0.8125, -1.7083], dtype=np.float32)),
            "s1_orbit_state": ("time", np.array(["descending", "ascending"], dtype=object)),
            "s1_relative_orbit": ("time", np.array([168, 117], dtype=np.int16)),
        },
        coords={
            "time": times,
            "s2_band": np.array(S2_BANDS, dtype=object),
            "s1_band": np.array(S1_BANDS, dtype=object),
            "y": Y0 - 5.0 - 10.0 * np.arange(N),
            "x": X0 + 5.0 + 10.0 * np.arange(N),
        },
        attrs={"crs": "EPSG:32632", "chip_size": 10, "chunk_chips": 1, "resolution": 10.0},
    )
    ds = ds.rio.write_crs("EPSG:32632")
    for name in ("s2", "s1", "clear"):
        ds[name].attrs["grid_mapping"] = "spatial_ref"
    return ds


@pytest.fixture
def cube() -> xr.Dataset:
    return tiny_cube()


def png_pixel(png: np.ndarray, fig, ax, x: float, y: float) -> np.ndarray:
    """RGB of the written PNG at map coordinates (x, y) of ``ax``."""
    col, row = ax.transData.transform((x, y))
    return png[png.shape[0] - 1 - int(row), int(col), :3]


def test_png_size_and_pixels_of_both_panels(cube, tmp_path):
    out = tmp_path / "nested" / "ql.png"
    fig = quicklook(cube, out=out, dpi=50)

    png = mpimg.imread(out)  # raises unless a valid PNG
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 2 panels of 5 in + 0.8 in wide; square cube: 5 in panel + 1.4 in high
    assert tuple(fig.get_size_inches()) == pytest.approx((10.8, 6.4))
    assert png.shape == (320, 540, 4)
    assert sorted(p.name for p in out.parent.iterdir()) == ["ql.png"]  # no temp file left

    s2_ax, s1_ax = fig.axes
    s2 = np.asarray(s2_ax.images[0].get_array())
    assert s2.shape == (N, N, 3)
    np.testing.assert_array_equal(s2[:, : N // 2], np.broadcast_to([1.0, 0.0, 0.0], (N, 10, 3)))
    np.testing.assert_array_equal(s2[:, N // 2 :], 0.0)  # nodata: black
    assert s2_ax.images[0].get_extent() == [X0, X0 + 200, Y0 - 200, Y0]

    s1 = np.asarray(s1_ax.images[0].get_array())
    expected = [(-10 + 25) / 25, (-20 + 30) / 25, 10 / 15]
    np.testing.assert_allclose(s1[5:], np.broadcast_to(expected, (N - 5, N, 3)), atol=1e-6)
    np.testing.assert_array_equal(s1[:5], 0.0)  # NaN: black

    # The PNG itself shows them: red and black halves of S2, S1 colour (8-bit)
    np.testing.assert_array_equal(png_pixel(png, fig, s2_ax, X0 + 50, Y0 - 50), [1, 0, 0])
    np.testing.assert_array_equal(png_pixel(png, fig, s2_ax, X0 + 150, Y0 - 50), [0, 0, 0])
    np.testing.assert_allclose(
        png_pixel(png, fig, s1_ax, X0 + 150, Y0 - 150), expected, atol=1 / 255
    )
    np.testing.assert_array_equal(png_pixel(png, fig, s1_ax, X0 + 150, Y0 - 20), [0, 0, 0])


def test_title_names_crs_times_and_lag_and_scale_bar_is_round(cube):
    fig = quicklook(cube)
    title = fig.get_suptitle()
    assert "EPSG:32632" in title
    assert "S2 2024-06-11 10:00 UTC" in title
    assert "S1 2024-06-09 17:00 UTC (lag -1.71 d)" in title
    for ax in fig.axes:
        (bar,) = ax.patches
        assert (bar.get_x(), bar.get_width()) == (X0 + 10, 20.0)  # 200 m wide: 20 m bar
        assert [t.get_text() for t in ax.texts] == ["20 m"]
        assert ax.get_xlim() == (X0, X0 + 200)


@pytest.mark.parametrize(
    ("width", "length"),
    [(200, 20), (4800, 500), (6000, 1000), (9999, 1000), (10_000, 2000), (30_000, 5000)],
)
def test_nice_scale_length(width, length):
    assert nice_scale_length(width) == length


def test_s2_stretch_is_2_to_98_percent_of_valid_pixels():
    ramp = np.arange(1, 102, dtype=np.uint16)  # 1..101: p2 = 3, p98 = 99
    bands = np.stack([ramp, ramp, ramp])[:, None, :]
    bands = np.concatenate([bands, np.zeros((3, 1, 5), np.uint16)], axis=2)  # + nodata
    rgb = s2_true_colour(bands)[0]
    valid, nodata = rgb[:101], rgb[101:]
    np.testing.assert_allclose(valid[ramp == 51], 0.5)
    np.testing.assert_allclose(valid[ramp == 27], 0.25)
    np.testing.assert_array_equal(valid[ramp <= 3], 0.0)
    np.testing.assert_array_equal(valid[ramp >= 99], 1.0)
    np.testing.assert_array_equal(nodata, 0.0)  # nodata stays black


def test_time_choice(cube):
    assert pick_time(cube) == 1  # clearest (time 0 is half cloudy)
    assert pick_time(cube.assign(clear=cube.clear[::-1].values * xr.ones_like(cube.clear))) == 0
    assert pick_time(cube, 0) == 0
    assert pick_time(cube, -1) == 1
    assert pick_time(cube, "0") == 0
    assert pick_time(cube, "2024-06-03") == 0
    assert pick_time(cube, "2024-06-09T00:00Z") == 1
    assert pick_time(cube, "2030-01-01") == 1
    fig = quicklook(cube, time="2024-06-02")
    assert "S2 2024-06-01 10:00 UTC" in fig.get_suptitle()
    assert "clear 50%" in fig.axes[0].get_title()


@pytest.mark.parametrize(
    ("time", "message"),
    [
        (2, r"time index 2 is out of range: the cube has 2 time step\(s\), indices 0\.\.1"),
        (-3, r"time index -3 is out of range"),
        ("sometime", r"'sometime' is neither an index nor a date"),
    ],
)
def test_bad_time_is_a_clear_error(cube, tmp_path, time, message):
    with pytest.raises(QuicklookError, match=message) as info:
        quicklook(cube, time=time, out=tmp_path / "ql.png")
    assert isinstance(info.value, GeommError) and isinstance(info.value, ValueError)
    assert "2024-06-01, 2024-06-11" in str(info.value) or "neither" not in message
    assert not list(tmp_path.iterdir())


def test_missing_band_and_bad_dpi(cube):
    with pytest.raises(QuicklookError, match=r"'s2' lacks band\(s\) \['B03'\]"):
        quicklook(cube.drop_sel(s2_band="B03"))
    with pytest.raises(QuicklookError, match="dpi must be a positive integer"):
        quicklook(cube, dpi=0)


def test_cli_on_written_cube(cube, tmp_path, capsys):
    store = tmp_path / "tiny.zarr"
    write_cube(cube.chunk({"time": 1, "y": 10, "x": 10}), store)
    png = tmp_path / "ql.png"

    code = main(["quicklook", str(store), "--out", str(png), "--time", "2024-06-02", "--dpi", "40"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert mpimg.imread(png).shape == (256, 432, 4)  # 6.4 x 10.8 in at 40 dpi
    assert str(png) in captured.out
    assert "time 0" in captured.out and "2024-06-01 10:00" in captured.out

    code = main(["quicklook", str(store), "--out", str(tmp_path / "x.png"), "--time", "7"])
    assert code == EXIT_USER_ERROR
    assert "time index 7 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()

    code = main(["quicklook", str(tmp_path / "none.zarr"), "--out", str(png)])
    assert code == EXIT_USER_ERROR
    assert "no Zarr cube" in capsys.readouterr().err


def test_only_chosen_time_and_bands_are_read(cube, monkeypatch):
    """A lazy cube: the quicklook computes B04/B03/B02 of one time, not the whole s2."""
    lazy = cube.chunk({"time": 1, "s2_band": 1})
    import dask

    seen: list[int] = []

    class Count(dask.callbacks.Callback):
        def _posttask(self, key, result, dsk, state, id):  # id: dask's parameter name
            if isinstance(result, np.ndarray) and result.dtype == np.uint16:
                seen.append(result.nbytes)

    with Count():
        quicklook(lazy, time=1)
    assert 0 < max(seen) <= 3 * N * N * 2  # never more than the three bands of one time


def test_quicklook_does_not_touch_pyplot(cube):
    import sys

    quicklook(cube)
    if "matplotlib.pyplot" in sys.modules:  # imported elsewhere: no figure registered
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
