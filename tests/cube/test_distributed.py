"""`geomm cube --scheduler`: the same cube through a separately started Dask cluster."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from geomm.cube import open_cube
from geomm.sample import sample_aoi_path


@pytest.fixture
def cluster(dask_cluster):
    """One worker with two threads."""
    return dask_cluster(threads=2).address


def test_cube_through_a_running_cluster_equals_the_threaded_run(sample_catalog, cluster, tmp_path):
    args = [
        sys.executable,
        "-m",
        "geomm.cli",
        "cube",
        "--catalog",
        str(sample_catalog),
        "--aoi",
        str(sample_aoi_path()),
        "--start",
        "2024-06-01",
        "--end",
        "2024-06-12",
    ]
    local = subprocess.run(
        [*args, "--out", str(tmp_path / "local.zarr")], capture_output=True, text=True
    )
    assert local.returncode == 0, local.stderr
    remote = subprocess.run(
        [*args, "--out", str(tmp_path / "remote.zarr"), "--scheduler", cluster],
        capture_output=True,
        text=True,
    )
    assert remote.returncode == 0, remote.stderr
    a, b = open_cube(tmp_path / "local.zarr").load(), open_cube(tmp_path / "remote.zarr").load()
    for name in ("s2", "s1", "clear"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
