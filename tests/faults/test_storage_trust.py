"""Issue 13, case 7: item metadata may not choose where signed S3 requests go.

An item's ``storage:schemes`` named ``http://127.0.0.1:PORT`` as its S3
platform, and GDAL sent ``Authorization: AWS4-HMAC-SHA256 Credential=<the
user's key id>/...`` there over plain HTTP. Now an endpoint from item
metadata is used only over HTTPS and only when AWS's, the provider
profile's (CDSE's eodata) or the user's own (``GEOMM_S3_ENDPOINTS``).
The end-to-end test serves a small synthetic region from the recording
S3-style server of ``tests/cube/test_remote_read.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest

from geomm.cube import build_cube
from geomm.errors import CatalogError, UntrustedStorageError
from geomm.stac import load_profile
from tests.cube.conftest import SmallRegion
from tests.cube.test_remote_read import _bucket, _on_s3, _requests, _serve

DATA = Path(__file__).resolve().parents[1] / "data" / "stac" / "copernicus-dataspace"
CDSE_ITEM = (
    DATA / "sentinel-2-l2a" / "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948.json"
)


def _cdse(platform: str | None = None) -> pystac.Item:
    """The published CDSE item; with ``platform``, its cdse-s3 scheme moved there."""
    raw = json.loads(CDSE_ITEM.read_text())
    if platform is not None:
        raw["properties"]["storage:schemes"]["cdse-s3"]["platform"] = platform
    return pystac.Item.from_dict(raw)


@pytest.fixture(autouse=True)
def _no_user_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEOMM_S3_ENDPOINTS", raising=False)


def test_the_published_cdse_item_reads_from_eodata_over_https() -> None:
    item = _cdse()
    published = item.properties["storage:schemes"]["cdse-s3"]["platform"]
    assert published == "https://eodata.dataspace.copernicus.eu"  # the truth, as published
    b04 = load_profile("cdse").describe(item).bands["B04"]
    assert dict(b04.gdal)["AWS_S3_ENDPOINT"] == "eodata.dataspace.copernicus.eu"
    assert dict(b04.gdal)["AWS_HTTPS"] == "YES"
    assert dict(b04.gdal)["AWS_NO_SIGN_REQUEST"] == "NO"  # signed: hence the care


@pytest.mark.parametrize(
    "platform",
    ["http://127.0.0.1:8999", "https://s3.attacker.example", "https://{bucket}.evil.example.org"],
)
@pytest.mark.parametrize("profile", ["cdse", "generic"])
def test_an_endpoint_the_item_chose_is_refused(platform: str, profile: str) -> None:
    with pytest.raises(UntrustedStorageError) as caught:
        load_profile(profile).describe(_cdse(platform))
    message = str(caught.value)
    assert isinstance(caught.value, CatalogError) and "\n" not in message
    assert "S2A_MSIL2A_20241107T113311" in message and "B01_60m" in message
    assert platform in message and "GEOMM_S3_ENDPOINTS=" in message


def test_a_trusted_host_is_reached_over_https_whatever_the_item_says() -> None:
    b04 = load_profile("cdse").describe(_cdse("http://eodata.dataspace.copernicus.eu")).bands["B04"]
    assert dict(b04.gdal)["AWS_HTTPS"] == "YES"


def test_the_user_may_trust_an_endpoint_plain_http_only_when_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEOMM_S3_ENDPOINTS", "minio.lan:9000, http://127.0.0.1:8999")
    local = load_profile("cdse").describe(_cdse("http://127.0.0.1:8999")).bands["B04"]
    assert dict(local.gdal)["AWS_S3_ENDPOINT"] == "127.0.0.1:8999"
    assert dict(local.gdal)["AWS_HTTPS"] == "NO"  # the user's entry says http://
    lan = load_profile("cdse").describe(_cdse("http://minio.lan:9000")).bands["B04"]
    assert dict(lan.gdal)["AWS_HTTPS"] == "YES"  # a bare host means HTTPS, not the item's http


def test_no_signed_request_goes_where_item_metadata_says_over_http(
    small_region: SmallRegion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTHEUSERSKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-users-secret")
    log = tmp_path / "requests.jsonl"
    proc, base = _serve(_bucket(small_region.folder, tmp_path / "root", "trust"), log)
    try:
        on_s3 = _on_s3(small_region.items, small_region.folder, base, "trust")
        with pytest.raises(UntrustedStorageError, match=r"over plain HTTP"):
            build_cube(on_s3, aoi=small_region.aoi, profile=small_region.profile).load()
        assert not log.exists() or _requests(log) == []  # nothing at all reached the host
        # the user's own word (not the item's) lets the same items through, signed
        monkeypatch.setenv("GEOMM_S3_ENDPOINTS", base)
        cube = build_cube(on_s3, aoi=small_region.aoi, profile=small_region.profile).load()
    finally:
        proc.kill()
    local = build_cube(
        small_region.items, aoi=small_region.aoi, profile=small_region.profile
    ).load()
    np.testing.assert_array_equal(cube.s2.values, local.s2.values)
    requests = _requests(log)
    assert requests and all(signed for *_, signed in requests)
