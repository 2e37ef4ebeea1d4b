"""`geomm cube --scheduler`: the same cube through a separately started Dask cluster."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from geomm.cube import open_cube
from geomm.sample import sample_aoi_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path):
    """A `dask scheduler` and one `dask worker`, as separate processes on 127.0.0.1."""
    bindir = Path(sys.executable).parent
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    scheduler = subprocess.Popen(
        [
            str(bindir / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        **common,
    )
    worker = subprocess.Popen(
        [
            str(bindir / "dask"),
            "worker",
            address,
            "--nthreads",
            "2",
            "--nworkers",
            "1",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        ],
        **common,
    )
    from distributed import Client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout=2) as client:
                if client.scheduler_info()["workers"]:
                    break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail("the Dask cluster did not come up within 60 s")
    yield address
    for proc in (worker, scheduler):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
