"""S2 dates without an S1 pass: dropped by default, kept with an empty S1 on request."""

from __future__ import annotations

import numpy as np
import pytest

from geomm.aoi import read_aoi
from geomm.cube import CubeConfig, PairingRule, build_cube
from geomm.errors import EmptyResultError
from geomm.sample import sample_aoi_path
from geomm.stac import search


@pytest.fixture(scope="module")
def found(sample_catalog):
    aoi = read_aoi(sample_aoi_path())
    return aoi, search(sample_catalog, aoi=aoi, start="2024-06-01", end="2024-07-31")


def test_unpaired_dates_are_kept_with_nan_s1(found):
    aoi, result = found
    # Sample S2 days: 06-03, 06-08, 06-18, 07-03; nearest S1 lags +1.80, +2.29, -1.20,
    # -4.20 days (docs/sample-catalog.md): within 1.5 days only 06-18 has a partner.
    rule = PairingRule(max_lag_days=1.5, keep_unpaired=True)
    ds = build_cube(
        result.items, aoi=aoi, profile=result.source.profile, config=CubeConfig(pairing=rule)
    ).compute()
    assert [str(t)[:10] for t in ds.time.values] == [
        "2024-06-03",
        "2024-06-08",
        "2024-06-18",
        "2024-07-03",
    ]
    paired = [not np.isnat(t) for t in ds.s1_time.values]
    assert paired == [False, False, True, False]
    for i, has_s1 in enumerate(paired):
        assert (
            np.isfinite(ds.s1.values[i]).mean() > 0.9 if has_s1 else np.isnan(ds.s1.values[i]).all()
        )
        assert (ds.s2.values[i] > 0).mean() > 0.9  # S2 is there either way
    assert np.isnan(ds.s1_lag_days.values[[0, 1, 3]]).all()
    assert ds.s1_relative_orbit.values.tolist() == [-1, -1, 168, -1]

    dropped = build_cube(
        result.items,
        aoi=aoi,
        profile=result.source.profile,
        config=CubeConfig(pairing=PairingRule(max_lag_days=1.5)),
    )
    assert [str(t)[:10] for t in dropped.time.values] == ["2024-06-18"]


def test_no_partner_at_all_is_a_clear_error(found):
    aoi, result = found
    with pytest.raises(EmptyResultError, match=r"has a Sentinel-1 pass within \+-0.5 days"):
        build_cube(
            result.items,
            aoi=aoi,
            profile=result.source.profile,
            config=CubeConfig(pairing=PairingRule(max_lag_days=0.5)),
        )
