"""A missing or corrupt asset: a clear one-line error, nothing passed off as complete,
and `--resume` finishes the cube once the file is fixed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geomm.cube import CubeStoreError, open_cube
from geomm.sample import sample_aoi_path


@pytest.fixture
def catalog_copy(sample_catalog, tmp_path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(sample_catalog.parent, root)
    return root / "catalog.json"


def _cube(catalog: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "geomm.cli",
            "cube",
            "--catalog",
            str(catalog),
            "--aoi",
            str(sample_aoi_path()),
            "--start",
            "2024-06-01",
            "--end",
            "2024-06-12",
            "--out",
            str(out),
            "--chunk-chips",
            "2",
            *extra,
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_bad_asset_is_named_and_resume_finishes_after_the_fix(catalog_copy, tmp_path, damage):
    folder = catalog_copy.parent / "synthetic" / "synthetic-s2-l2a"
    item = next(p for p in sorted(folder.iterdir()) if "T32UQU" in p.name)
    victim = item / "B04.tif"
    good = victim.read_bytes()
    if damage == "corrupt":  # keep the header, garble the tile data
        victim.write_bytes(good[:2000] + bytes(len(good) - 2000))
    else:
        victim.unlink()

    store = tmp_path / "cube.zarr"
    first = _cube(catalog_copy, store)
    assert first.returncode == 1, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, first.stderr
    assert f"item {item.name!r}" in lines[0] and "band B04" in lines[0]
    assert "--resume" in lines[0] and "Traceback" not in first.stderr
    with pytest.raises(CubeStoreError, match="incomplete"):
        open_cube(store)

    victim.write_bytes(good)  # the user fixes the file
    second = _cube(catalog_copy, store, "--resume")
    assert second.returncode == 0, second.stderr
    fixed = open_cube(store).load()
    assert (fixed.s2.sel(s2_band="B04").values > 0).mean() > 0.9
    reference = _cube(catalog_copy, tmp_path / "reference.zarr")
    assert reference.returncode == 0, reference.stderr
    np.testing.assert_array_equal(fixed.s2.values, open_cube(tmp_path / "reference.zarr").s2.values)
