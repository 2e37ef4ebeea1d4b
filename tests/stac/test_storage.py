"""GDAL options for S3-hosted assets, from the STAC storage extension of real items."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pystac
import pytest

from geomm.stac import load_profile, s3_read_options

DATA = Path(__file__).resolve().parents[1] / "data" / "stac"
CDSE_S2 = DATA / "copernicus-dataspace" / "sentinel-2-l2a"
CDSE_ITEM = CDSE_S2 / "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948.json"
CDSE_MALFORMED = CDSE_S2 / "S2B_MSIL2A_20200705T101559_N0500_R065_T32TMT_20230530T175912.json"
ES_GRD = (
    DATA
    / "earth-search"
    / "sentinel-1-grd"
    / "S1A_IW_GRDH_1SDV_20240517T093208_20240517T093240_053909_068D6C.json"
)
PC_S2 = sorted((DATA / "planetary-computer" / "sentinel-2-l2a").glob("S2*.json"))[0]

CDSE_S3 = {
    "AWS_S3_ENDPOINT": "eodata.dataspace.copernicus.eu",
    "AWS_HTTPS": "YES",
    "AWS_VIRTUAL_HOSTING": "FALSE",
    "AWS_NO_SIGN_REQUEST": "NO",
}
CDSE_TRUSTS = load_profile("cdse").s3_endpoints
"""The endpoints the cdse profile lets its items name (geomm.stac._storage refuses others)."""


def _item(path: Path) -> pystac.Item:
    return pystac.Item.from_dict(json.loads(path.read_text()))


def test_cdse_assets_read_from_its_s3_endpoint_signed() -> None:
    item = _item(CDSE_ITEM)
    # as published: two schemes, the second requester-pays; s3 authentication
    assert item.assets["B04_10m"].extra_fields["storage:refs"] == ["cdse-s3", "creodias-s3"]
    assert item.properties["storage:schemes"]["creodias-s3"]["requester_pays"] is True
    for key in ("B04_10m", "B05_20m", "SCL_20m"):
        assert s3_read_options(item, key, trusted_endpoints=CDSE_TRUSTS) == CDSE_S3


def test_cdse_malformed_storage_refs_and_https_assets_need_nothing() -> None:
    item = _item(CDSE_MALFORMED)
    assert s3_read_options(item, "B04_10m", trusted_endpoints=CDSE_TRUSTS) == CDSE_S3
    assert isinstance(item.assets["Product"].extra_fields["storage:refs"], str)  # published so
    assert s3_read_options(item, "Product") == {}  # an https href anyway
    assert s3_read_options(item, "no-such-asset") == {}


def test_earth_search_requester_pays_is_signed_in_its_region() -> None:
    item = _item(ES_GRD)  # published with storage v1 fields; pystac migrates them to v2
    assert "storage:schemes" in item.properties
    assert s3_read_options(item, "vv") == {
        "AWS_REGION": "eu-central-1",
        "AWS_REQUEST_PAYER": "requester",
        "AWS_NO_SIGN_REQUEST": "NO",
    }
    raw = json.loads(ES_GRD.read_text())  # the v1 fields as such (a dict not through pystac)
    assert raw["properties"]["storage:requester_pays"] is True
    v1 = pystac.Item.from_dict(raw, migrate=False)
    v1.properties.pop("storage:schemes", None)
    assert s3_read_options(v1, "vv") == {
        "AWS_REGION": "eu-central-1",
        "AWS_REQUEST_PAYER": "requester",
    }


def test_earth_search_items_read_without_pystac_storage_warnings() -> None:
    """pystac warns while migrating each Earth Search item's storage fields; not to users."""
    es_s2 = sorted((DATA / "earth-search" / "sentinel-2-c1-l2a").glob("S2*.json"))[0]
    read = "import json, pathlib, sys, pystac; "
    read += "pystac.Item.from_dict(json.loads(pathlib.Path(sys.argv[1]).read_text()))"

    def stderr(code: str) -> str:
        run = [sys.executable, "-W", "default", "-c", code, str(es_s2)]
        return subprocess.run(run, capture_output=True, text=True, check=True).stderr

    assert "Could not parse bucket/account" in stderr(read)  # the quirk is real
    assert "Warning" not in stderr("import geomm.stac; " + read)


def test_planetary_computer_https_assets_need_nothing() -> None:
    item = _item(PC_S2)
    assert all(s3_read_options(item, key) == {} for key in item.assets)


def _with_scheme(scheme: dict, auth: list | None) -> pystac.Item:
    raw = json.loads(CDSE_ITEM.read_text())  # a fresh dict: changed freely
    raw["properties"]["storage:schemes"] = {"only": scheme}
    asset = raw["assets"]["B04_10m"]
    asset["storage:refs"] = ["only"]
    if auth is None:
        asset.pop("auth:refs", None)
    else:
        asset["auth:refs"] = auth
    return pystac.Item.from_dict(raw)


@pytest.mark.parametrize(
    ("scheme", "auth", "trusted", "expected"),
    [
        (  # virtual hosting: the bucket goes in front of the endpoint
            {"type": "custom-s3", "platform": "https://{bucket}.s3.example.com"},
            ["s3"],
            ("s3.example.com",),  # trusted by the user or the profile: HTTPS
            {"AWS_S3_ENDPOINT": "s3.example.com", "AWS_VIRTUAL_HOSTING": "TRUE"},
        ),
        (  # plain http, a region in the template, public: unsigned requests
            {"type": "custom-s3", "platform": "http://{region}.example.com:9000", "region": "r1"},
            None,
            ("http://*.example.com:9000",),  # plain HTTP only because the user's entry says so
            {
                "AWS_S3_ENDPOINT": "r1.example.com:9000",
                "AWS_HTTPS": "NO",
                "AWS_REGION": "r1",
                "AWS_NO_SIGN_REQUEST": "YES",
            },  # fmt: skip
        ),
        (  # AWS itself, requester-pays: no endpoint, the payer header
            {
                "type": "aws-s3",
                "platform": "https://{bucket}.s3.{region}.amazonaws.com",
                "region": "eu-central-1",
                "requester_pays": True,
            },  # fmt: skip
            ["s3"],
            (),  # AWS itself needs no trust
            {
                "AWS_REGION": "eu-central-1",
                "AWS_REQUEST_PAYER": "requester",
                "AWS_NO_SIGN_REQUEST": "NO",
            },  # fmt: skip
        ),
    ],
)
def test_schemes_map_as_the_storage_extension_says(scheme, auth, trusted, expected) -> None:
    got = s3_read_options(_with_scheme(scheme, auth), "B04_10m", trusted_endpoints=trusted)
    assert {k: got[k] for k in expected} == expected, got
    if scheme["type"] == "aws-s3":
        assert "AWS_S3_ENDPOINT" not in got
