"""Per-period composites, checked against numbers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geomm.cube import CompositeError, CompositeSpec, composite


def _cube() -> xr.Dataset:
    times = pd.to_datetime(["2024-06-03", "2024-06-13", "2024-06-23", "2024-07-03"])
    # one pixel row of 3 pixels, 12 bands; B01 carries the test values
    s2 = np.zeros((4, 12, 1, 3), dtype=np.uint16)
    s2[:, :, 0, 0] = np.array([100, 300, 200, 700])[:, None]  # all clear
    s2[:, :, 0, 1] = np.array([100, 9000, 200, 700])[:, None]  # June 13 cloudy
    s2[:, :, 0, 2] = np.array([0, 0, 0, 700])[:, None]  # June: nodata
    clear = np.ones((4, 1, 3), dtype=bool)
    clear[1, 0, 1] = False
    clear[:3, 0, 2] = False
    s1 = np.empty((4, 2, 1, 3), dtype=np.float32)
    s1[:, 0] = np.array([-10.0, -20.0, -13.0, -5.0])[:, None, None]
    s1[:, 1] = np.array([-16.0, -16.0, np.nan, -5.0])[:, None, None]
    ds = xr.Dataset(
        {
            "s2": (("time", "s2_band", "y", "x"), s2),
            "s1": (("time", "s1_band", "y", "x"), s1),
            "clear": (("time", "y", "x"), clear),
        },
        coords={"time": times, "y": [5.0], "x": [5.0, 15.0, 25.0]},
        attrs={"crs": "EPSG:32632", "chip_size": 8, "chunk_chips": 1},
    )
    return ds.chunk({"time": 1})


def test_monthly_median_of_clear_pixels_and_s1_in_linear_power():
    out = composite(_cube(), period="1M", method="median").compute()
    assert [str(t)[:10] for t in out.time.values] == ["2024-06-01", "2024-07-01"]
    assert out.n_acquisitions.values.tolist() == [3, 1]
    june = out.isel(time=0)
    # pixel 0: median(100, 300, 200) = 200; pixel 1: cloudy 9000 ignored -> median(100, 200)
    # = 150; pixel 2: nothing clear -> 0 (nodata), clear False
    assert june.s2.values[0, 0].tolist() == [200, 150, 0]  # band B01, the pixel row
    assert june.clear.values[0].tolist() == [True, True, False]
    assert june.n_clear.values[0].tolist() == [3, 2, 0]
    # S1 VV: median of (-10, -20, -13) dB is -13 dB in either domain
    np.testing.assert_allclose(june.s1.values[0, 0], -13.0, atol=1e-5)
    # S1 VH: (-16, -16, NaN) -> -16
    np.testing.assert_allclose(june.s1.values[1, 0], -16.0, atol=1e-5)
    july = out.isel(time=1)
    assert july.s2.values[0, 0].tolist() == [700, 700, 700]


def test_mean_is_taken_in_linear_power_not_in_db():
    out = composite(_cube(), period="1M", method="mean").compute()
    expected = 10 * np.log10(np.mean(10 ** (np.array([-10.0, -20.0, -13.0]) / 10)))
    np.testing.assert_allclose(out.s1.values[0, 0, 0], expected, atol=1e-5)
    assert abs(expected - np.mean([-10.0, -20.0, -13.0])) > 1  # the two really differ
    np.testing.assert_allclose(out.s2.values[0, 0, 0, 0], 200)  # mean(100,300,200)


@pytest.mark.parametrize("period", ["1M", "2W", "10D", "1Y"])
def test_periods_are_understood(period):
    out = composite(_cube(), period=period)
    assert out.sizes["time"] >= 1


def test_bad_parameters_are_clear_errors():
    with pytest.raises(CompositeError, match="method must be one of"):
        CompositeSpec(method="mode")
    with pytest.raises(CompositeError, match="cannot read period 'monthly'"):
        CompositeSpec(period="monthly")
