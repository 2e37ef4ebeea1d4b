"""Cubes from COGs over HTTP and S3: same values as from files, no sidecar
probing, retries, the storage the items name, keys asked for by name.

The scenes of a small synthetic region are served by ``_range_server.py``
(byte ranges, 127.0.0.1 only) and the items' hrefs point there, as a
provider's would. What the reader asked the server for is in its log.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dask
import numpy as np
import pystac
import pytest
import xarray as xr

from geomm.cube import build_cube
from geomm.errors import AssetReadError

SERVER = Path(__file__).with_name("_range_server.py")


@pytest.fixture(scope="module")
def local_cube(small_region) -> xr.Dataset:
    return build_cube(small_region.items, aoi=small_region.aoi, profile=small_region.profile).load()


def _serve(folder: Path, log: Path, *fail_first: str):
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(folder), str(log), *fail_first],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def _relative(asset: pystac.Asset, folder: Path) -> str:
    """The asset's file, relative to the region's folder (its path on the server)."""
    return Path(asset.get_absolute_href()).resolve().relative_to(folder.resolve()).as_posix()


def _moved(items: list[pystac.Item], folder: Path, prefix: str) -> list[pystac.Item]:
    """Copies of ``items`` whose asset hrefs are ``prefix/<path in folder>``."""
    out = []
    for item in items:
        copy = item.clone()
        for asset in copy.assets.values():
            asset.href = f"{prefix}/{_relative(asset, folder)}"
        out.append(copy)
    return out


def _remote(items: list[pystac.Item], folder: Path, base: str) -> list[pystac.Item]:
    """Copies of ``items`` whose assets are URLs on the server; the S1 item
    loses its ``proj:*`` fields, so its grids come from headers read over HTTP."""
    out = _moved(items, folder, base)
    for item in out:
        if item.collection_id == "synthetic-s1-rtc":
            for fields in (item.properties, *(a.extra_fields for a in item.assets.values())):
                for key in ("proj:shape", "proj:transform"):
                    fields.pop(key, None)
    return out


def _requests(log: Path) -> list[tuple[str, str, str | None, bool]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def _assert_same(remote: xr.Dataset, local: xr.Dataset) -> None:
    for name in ("s2", "clear"):
        np.testing.assert_array_equal(remote[name].values, local[name].values)
    np.testing.assert_array_equal(remote.s1.values, local.s1.values)  # NaN == NaN here


def test_a_cube_over_http_equals_one_from_files_without_probing_for_sidecars(
    small_region,
    local_cube: xr.Dataset,
    tmp_path: Path,
) -> None:
    r = small_region
    folder, items, aoi, profile = r.folder, r.items, r.aoi, r.profile
    log = tmp_path / "requests.jsonl"
    proc, base = _serve(folder, log)
    try:
        remote = build_cube(_remote(items, folder, base), aoi=aoi, profile=profile).load()
    finally:
        proc.kill()
    _assert_same(remote, local_cube)
    requests = _requests(log)
    assets = {_relative(a, folder) for i in items for a in i.assets.values()}
    paths = Counter(path.lstrip("/") for _, path, *_ in requests)
    # every request is for an asset: no directory listing, no .aux.xml / .msk probes
    assert set(paths) <= assets, sorted(set(paths) - assets)
    # and the S1 grids came over HTTP too (the headers of the item without proj:*)
    assert any(p.startswith("synthetic-s1-rtc/") for p in paths)


def test_a_provider_hiccup_is_retried(
    small_region,
    local_cube: xr.Dataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = small_region
    folder, items, aoi, profile = r.folder, r.items, r.aoi, r.profile
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")  # a user's own setting wins
    log = tmp_path / "requests.jsonl"
    proc, base = _serve(folder, log, "B04.tif", "vh.tif")  # 503 on the first request
    try:
        remote = build_cube(_remote(items, folder, base), aoi=aoi, profile=profile).load()
    finally:
        proc.kill()
    _assert_same(remote, local_cube)
    refused = [path for _, path, *_ in _requests(log) if path.endswith(("/B04.tif", "/vh.tif"))]
    assert len(refused) > 2  # asked again after the 503s


def _on_s3(items: list[pystac.Item], folder: Path, endpoint: str, bucket: str) -> list[pystac.Item]:
    """Copies of ``items`` as Copernicus Data Space publishes them: assets at
    ``s3://BUCKET/...``, the endpoint in ``storage:schemes``, signed requests.

    Each test uses its own bucket: GDAL caches what it read per ``/vsis3/``
    path, whichever endpoint served it.
    """
    out = _moved(items, folder, f"s3://{bucket}")
    for item in out:
        item.properties["storage:schemes"] = {
            "test-s3": {"type": "custom-s3", "platform": endpoint, "requester_pays": False}
        }
        for asset in item.assets.values():
            asset.extra_fields["storage:refs"] = ["test-s3"]
            asset.extra_fields["auth:refs"] = ["s3"]
    return out


def _bucket(folder: Path, root: Path, bucket: str) -> Path:
    """The region's files as ``root/bucket/...``; returns ``root``."""
    shutil.copytree(folder, root / bucket)
    return root


def test_a_cube_from_s3_compatible_storage_reads_where_the_items_say(
    small_region,
    local_cube: xr.Dataset,
    tmp_path: Path,
    monkeypatch,
) -> None:
    r = small_region
    folder, items, aoi, profile = r.folder, r.items, r.aoi, r.profile
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    log = tmp_path / "requests.jsonl"
    proc, base = _serve(_bucket(folder, tmp_path / "root", "eodata"), log)
    # the user trusts this endpoint, plain HTTP included: item metadata alone may not
    monkeypatch.setenv("GEOMM_S3_ENDPOINTS", base)
    try:
        on_s3 = _on_s3(items, folder, base, "eodata")
        remote = build_cube(on_s3, aoi=aoi, profile=profile).load()
    finally:
        proc.kill()
    _assert_same(remote, local_cube)
    requests = _requests(log)
    assert requests and all(path.startswith("/eodata/") for _, path, *_ in requests)
    assert all(signed for *_, signed in requests)  # with the user's keys


def test_missing_s3_keys_are_named_before_blaming_the_file(
    small_region,
    tmp_path: Path,
    monkeypatch,
) -> None:
    r = small_region
    folder, items, aoi, profile = r.folder, r.items, r.aoi, r.profile
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/credentials
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # GDAL's last resort is the EC2 instance-metadata service (169.254.169.254;
    # CPL_AWS_AUTODETECT_EC2=NO would make it try that *without* checking for
    # EC2): point it at a refused loopback port instead
    monkeypatch.setenv("CPL_AWS_EC2_API_ROOT_URL", "http://127.0.0.1:9")
    proc, base = _serve(_bucket(folder, tmp_path / "root", "nokeys"), tmp_path / "log.jsonl")
    monkeypatch.setenv("GEOMM_S3_ENDPOINTS", base)  # trusted by the user (plain HTTP)
    try:
        # one thread: with Dask's pool, the other reading task would still be
        # looking for keys after the error, when monkeypatch has already put
        # the environment back (and GDAL would then ask 169.254.169.254)
        with (
            dask.config.set(scheduler="synchronous"),
            pytest.raises(AssetReadError, match=r"needs S3 keys for 127\.0\.0\.1:\d+: set "),
        ):
            build_cube(_on_s3(items, folder, base, "nokeys"), aoi=aoi, profile=profile).load()
    finally:
        proc.kill()
