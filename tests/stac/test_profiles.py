"""Provider profiles, checked by hand on every real published item in tests/data/stac.

Each row of the tables below was written by reading the item's JSON by eye
(SOURCES.md says where every file comes from); nothing in them is derived
from the code under test. The profile's verdict must equal the row.

How the Sentinel-2 ``dn_offset`` is decided (ARCHITECTURE.md "Canonical
bands": the baseline-04.00 offset of -1000 DN is removed exactly once):

* Planetary Computer declares no ``raster:bands`` at all, so the offset comes
  from ``s2:processing_baseline``: >= 04.00 -> 1000, older -> 0.
* Earth Search declares ``raster:bands`` offset -0.1 on every reflectance
  asset; ``sentinel-2-l2a`` items also say ``earthsearch:boa_offset_applied:
  true`` (pixels already shifted), which wins -> 0. ``sentinel-2-c1-l2a``
  items have no such flag -> the declared offset holds -> 1000.
* CDSE (STAC 1.1) puts ``raster:scale`` 0.0001 / ``raster:offset`` -0.1 flat
  on each asset -> 1000.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac
import pytest

from geomm.errors import NotGeocodedError, ProfileError
from geomm.stac import ItemBands, load_profile

# pystac migrates old storage-extension fields and warns when it cannot parse
# an Earth Search https href; harmless for these tests.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Could not parse bucket/account from href:UserWarning"
)

DATA = Path(__file__).resolve().parents[1] / "data" / "stac"

PC = "planetary-computer/"
ES = "earth-search/"
CDSE = "copernicus-dataspace/"
PC_S2, PC_RTC, PC_GRD = PC + "sentinel-2-l2a/", PC + "sentinel-1-rtc/", PC + "sentinel-1-grd/"
ES_S2, ES_C1, ES_GRD = ES + "sentinel-2-l2a/", ES + "sentinel-2-c1-l2a/", ES + "sentinel-1-grd/"
CDSE_S2, CDSE_GRD = CDSE + "sentinel-2-l2a/", CDSE + "sentinel-1-grd/"

S2_ORDER = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B11",
    "B12",
    "SCL",
)


def _load(rel: str) -> tuple[dict[str, Any], pystac.Item]:
    """The raw JSON (untouched) and the pystac item built from it."""
    with open(DATA / rel, encoding="utf-8") as f:
        raw = json.load(f)
    return raw, pystac.Item.from_dict(copy.deepcopy(raw))


def _describe(profile: str, rel: str) -> tuple[dict[str, Any], ItemBands]:
    raw, item = _load(rel)
    return raw, load_profile(profile).describe(item)


# --------------------------------------------------------------------------- Sentinel-2 table


@dataclass(frozen=True)
class S2Row:
    path: str
    profile: str
    collection: str
    geocoded: bool
    b01: str
    b04: str
    b8a: str
    b09: str
    b12: str
    scl: str
    nodata: float
    scale: float
    dn_offset: int
    baseline: str

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".json")


PC_KEYS = dict(b01="B01", b04="B04", b8a="B8A", b09="B09", b12="B12", scl="SCL")
ES_KEYS = dict(b01="coastal", b04="red", b8a="nir08", b09="nir09", b12="swir22", scl="scl")
CDSE_KEYS = dict(
    b01="B01_60m", b04="B04_10m", b8a="B8A_20m", b09="B09_60m", b12="B12_20m", scl="SCL_20m"
)

S2_ROWS = [
    # ---- Planetary Computer sentinel-2-l2a: assets B01..B12/B8A/SCL, no raster:bands
    # (profile defaults nodata 0, scale 0.0001), proj:epsg in properties -> geocoded.
    S2Row(
        PC_S2 + "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452.json",
        "pc",
        "sentinel-2-l2a",
        True,
        **PC_KEYS,
        nodata=0,
        scale=0.0001,
        # s2:processing_baseline "02.12" (product_uri _N0212_), no raster:bands -> offset 0
        dn_offset=0,
        baseline="02.12",
    ),
    S2Row(
        PC_S2 + "S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json",
        "pc",
        "sentinel-2-l2a",
        True,
        **PC_KEYS,
        nodata=0,
        scale=0.0001,
        # s2:processing_baseline "05.10" >= 04.00, no raster:bands -> 1000
        dn_offset=1000,
        baseline="05.10",
    ),
    S2Row(
        PC_S2 + "S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json",
        "pc",
        "sentinel-2-l2a",
        True,
        **PC_KEYS,
        nodata=0,
        scale=0.0001,
        # s2:processing_baseline "05.11" >= 04.00, no raster:bands -> 1000
        dn_offset=1000,
        baseline="05.11",
    ),
    S2Row(
        PC_S2 + "S2A_MSIL2A_20240823T174901_R141_T13TDE_20240824T013055.json",
        "pc",
        "sentinel-2-l2a",
        True,
        **PC_KEYS,
        nodata=0,
        scale=0.0001,
        # s2:processing_baseline "05.11" >= 04.00, no raster:bands -> 1000
        dn_offset=1000,
        baseline="05.11",
    ),
    # ---- Earth Search sentinel-2-l2a: common names; raster:bands nodata 0, scale 0.0001,
    # offset -0.1 on every reflectance asset; earthsearch:boa_offset_applied true.
    S2Row(
        ES_S2 + "S2B_24MUV_20250731_0_L2A.json",
        "earth-search",
        "sentinel-2-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # earthsearch:boa_offset_applied true although raster:bands offset -0.1 -> 0
        dn_offset=0,
        baseline="05.11",
    ),
    S2Row(
        ES_S2 + "S2A_32TMT_20200305_1_L2A.json",
        "earth-search",
        "sentinel-2-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # reprocessed 05.00 (S2RP granule); boa_offset_applied true although offset -0.1 -> 0
        dn_offset=0,
        baseline="05.00",
    ),
    S2Row(
        ES_S2 + "S2B_20EPT_20250731_0_L2A.json",
        "earth-search",
        "sentinel-2-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # earthsearch:boa_offset_applied true although raster:bands offset -0.1 -> 0
        dn_offset=0,
        baseline="05.11",
    ),
    S2Row(
        ES_S2 + "S2A_13TDE_20231008_0_L2A.json",
        "earth-search",
        "sentinel-2-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # earthsearch:boa_offset_applied true although raster:bands offset -0.1 -> 0
        dn_offset=0,
        baseline="05.09",
    ),
    # ---- Earth Search sentinel-2-c1-l2a: same asset keys and raster:bands, but NO
    # earthsearch:boa_offset_applied property: the declared offset -0.1 holds.
    S2Row(
        ES_C1 + "S2A_T13TDE_20240422T174753_L2A.json",
        "earth-search",
        "sentinel-2-c1-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # raster:bands offset -0.1 / scale 0.0001, no boa_offset_applied flag -> 1000
        dn_offset=1000,
        baseline="05.10",
    ),
    S2Row(
        ES_C1 + "S2B_T20EPT_20250731T131905_L2A.json",
        "earth-search",
        "sentinel-2-c1-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # raster:bands offset -0.1 / scale 0.0001, no boa_offset_applied flag -> 1000
        dn_offset=1000,
        baseline="05.11",
    ),
    S2Row(
        ES_C1 + "S2B_T24MUV_20250731T130245_L2A.json",
        "earth-search",
        "sentinel-2-c1-l2a",
        True,
        **ES_KEYS,
        nodata=0,
        scale=0.0001,
        # raster:bands offset -0.1 / scale 0.0001, no boa_offset_applied flag -> 1000
        dn_offset=1000,
        baseline="05.11",
    ),
    # ---- CDSE sentinel-2-l2a (STAC 1.1): <band>_<res> assets, native resolution taken
    # (B01 exists as B01_20m and B01_60m -> B01_60m); nodata 0 flat; proj:code EPSG:326xx.
    S2Row(
        CDSE_S2 + "S2C_MSIL2A_20260527T014651_N0512_R017_T55WFR_20260527T042005.json",
        "cdse",
        "sentinel-2-l2a",
        True,
        **CDSE_KEYS,
        nodata=0,
        scale=0.0001,
        # raster:offset -0.1 flat on asset (STAC 1.1), processing:version 05.12 -> 1000
        dn_offset=1000,
        baseline="05.12",
    ),
    S2Row(
        CDSE_S2 + "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948.json",
        "cdse",
        "sentinel-2-l2a",
        True,
        **CDSE_KEYS,
        nodata=0,
        scale=0.0001,
        # raster:offset -0.1 flat on asset (STAC 1.1), processing:version 05.11 -> 1000
        dn_offset=1000,
        baseline="05.11",
    ),
    S2Row(
        CDSE_S2 + "S2B_MSIL2A_20200705T101559_N0500_R065_T32TMT_20230530T175912.json",
        "cdse",
        "sentinel-2-l2a",
        True,
        **CDSE_KEYS,
        nodata=0,
        scale=0.0001,
        # 2020 scene reprocessed N0500: raster:offset -0.1 flat, processing:version 05.00 -> 1000
        dn_offset=1000,
        baseline="05.00",
    ),
]


# --------------------------------------------------------------------------- Sentinel-1 table


@dataclass(frozen=True)
class S1Row:
    path: str
    profile: str
    collection: str
    geocoded: bool
    vv: str | None
    """Asset key of VV, None when the item has no VV/VH (HH or HH+HV only)."""
    vh: str | None
    units: str
    nodata: float | None
    """Nodata of the VV/VH assets; None when the item has none of them."""

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".json")


S1_ROWS = [
    # ---- PC sentinel-1-rtc: vv/vh float32 with raster:bands nodata -32768, UTM proj:epsg.
    S1Row(
        PC_RTC + "S1A_IW_GRDH_1SDV_20240419T045904_20240419T045916_053498_067DF2_rtc.json",
        # IW 1SDV, assets vv/vh, raster:bands nodata -32768, proj:epsg 32633 -> linear, geocoded
        "pc",
        "sentinel-1-rtc",
        True,
        "vv",
        "vh",
        "linear",
        -32768,
    ),
    S1Row(
        PC_RTC + "S1A_IW_GRDH_1SDV_20240419T045839_20240419T045904_053498_067DF2_rtc.json",
        # IW 1SDV, assets vv/vh, raster:bands nodata -32768, proj:epsg 32633 -> linear, geocoded
        "pc",
        "sentinel-1-rtc",
        True,
        "vv",
        "vh",
        "linear",
        -32768,
    ),
    S1Row(
        PC_RTC + "S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_058252_073302_rtc.json",
        # IW 1SDV, assets vv/vh, raster:bands nodata -32768, proj:epsg 32634 -> linear, geocoded
        "pc",
        "sentinel-1-rtc",
        True,
        "vv",
        "vh",
        "linear",
        -32768,
    ),
    # ---- PC sentinel-1-grd: no proj:* at all, no raster:bands (profile nodata 0), raw DN.
    S1Row(
        PC_GRD + "S1A_IW_GRDH_1SDV_20250312T052236_20250312T052301_058267_073394.json",
        # sar:polarizations [VV, VH], assets vv/vh, no proj:* -> radar geometry, dn, nodata 0
        "pc",
        "sentinel-1-grd",
        False,
        "vv",
        "vh",
        "dn",
        0,
    ),
    S1Row(
        PC_GRD + "S1A_EW_GRDM_1SSH_20150129T081916_20150129T081938_004383_005598.json",
        # EW 1SSH: sar:polarizations [HH], only asset hh -> no VV/VH, not geocoded
        "pc",
        "sentinel-1-grd",
        False,
        None,
        None,
        "dn",
        None,
    ),
    # ---- Earth Search sentinel-1-grd: proj:epsg 4326 is a footprint of a radar-geometry
    # image (not a map projection); raster:bands nodata 0 uint16.
    S1Row(
        ES_GRD + "S1A_IW_GRDH_1SDV_20240517T093208_20240517T093240_053909_068D6C.json",
        # sar:polarizations [VV, VH], assets vv/vh, raster:bands nodata 0 uint16 -> dn, GRD
        "earth-search",
        "sentinel-1-grd",
        False,
        "vv",
        "vh",
        "dn",
        0,
    ),
    S1Row(
        ES_GRD + "S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json",
        # IW 1SSH: sar:polarizations [HH], only asset hh -> no VV/VH, not geocoded
        "earth-search",
        "sentinel-1-grd",
        False,
        None,
        None,
        "dn",
        None,
    ),
    S1Row(
        ES_GRD + "S1A_EW_GRDM_1SDH_20250709T083614_20250709T083719_060004_07745D.json",
        # EW 1SDH: sar:polarizations [HH, HV], assets hh/hv -> no VV/VH, not geocoded
        "earth-search",
        "sentinel-1-grd",
        False,
        None,
        None,
        "dn",
        None,
    ),
    # ---- CDSE sentinel-1-grd (COG, STAC 1.1): nodata 0 and proj:code null flat on assets.
    S1Row(
        CDSE_GRD + "S1A_IW_GRDH_1SDV_20240607T000653_20240607T000718_054210_0697DA_6EE4_COG.json",
        # sar:polarizations [VV, VH], assets vv/vh with proj:code null, nodata 0 -> dn, GRD
        "cdse",
        "sentinel-1-grd",
        False,
        "vv",
        "vh",
        "dn",
        0,
    ),
    S1Row(
        CDSE_GRD + "S1A_EW_GRDM_1SSH_20241130T001228_20241130T001333_056776_06F825_E84D_COG.json",
        # EW 1SSH: sar:polarizations [HH], only asset hh (proj:code null) -> no VV/VH, GRD
        "cdse",
        "sentinel-1-grd",
        False,
        None,
        None,
        "dn",
        None,
    ),
]

GRD_ROWS = [r for r in S1_ROWS if r.collection == "sentinel-1-grd"]
RTC_ROWS = [r for r in S1_ROWS if r.collection == "sentinel-1-rtc"]


# --------------------------------------------------------------------------- the fixtures


def test_table_covers_every_item_file() -> None:
    on_disk = {
        str(p.relative_to(DATA)) for p in DATA.glob("*/*/*.json") if p.name != "collection.json"
    }
    in_tables = {r.path for r in S2_ROWS} | {r.path for r in S1_ROWS}
    assert len(in_tables) == len(S2_ROWS) + len(S1_ROWS) == 24
    assert on_disk == in_tables


def test_fixtures_are_unchanged_copies() -> None:
    """Every JSON still matches the SHA-256 that SOURCES.md lists for it."""
    sums = re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", (DATA / "SOURCES.md").read_text(), re.M)
    listed = {path: digest for digest, path in sums}
    on_disk = {str(p.relative_to(DATA)) for p in DATA.glob("*/*/*.json")}
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((DATA / path).read_bytes()).hexdigest() == digest, path


# --------------------------------------------------------------------------- per-item verdicts


@pytest.mark.parametrize("row", S2_ROWS, ids=lambda r: r.id)
def test_s2_item(row: S2Row) -> None:
    raw, item = _load(row.path)
    assert item.id == row.id
    assert item.collection_id == row.collection
    ib = load_profile(row.profile).describe(item)

    assert ib.item_id == row.id
    assert ib.collection == row.collection
    assert ib.sensor == "sentinel-2"
    assert ib.geocoded is row.geocoded
    assert ib.require_geocoded() is ib
    assert ib.dn_offset == row.dn_offset
    assert ib.harmonize is (row.dn_offset != 0)
    assert ib.processing_baseline == row.baseline
    assert ib.units is None
    # all 13 canonical S2 bands present, in canonical order
    assert tuple(ib.bands) == S2_ORDER
    assert ib.missing == ()

    expected_keys = {
        "B01": row.b01,
        "B04": row.b04,
        "B8A": row.b8a,
        "B09": row.b09,
        "B12": row.b12,
        "SCL": row.scl,
    }
    for band, key in expected_keys.items():
        ba = ib.bands[band]
        assert ba.band == band
        assert ba.asset == key, band
        # href is the asset's own href, as published
        assert ba.href == raw["assets"][key]["href"]
        assert ba.nodata == row.nodata

    for band in S2_ORDER[:-1]:  # reflectance bands
        ba = ib.bands[band]
        assert ba.scale == pytest.approx(row.scale)
        assert ba.offset == pytest.approx(-ib.dn_offset * ba.scale)
        assert ba.offset == pytest.approx(-0.1 if row.dn_offset == 1000 else 0.0)
    scl = ib.bands["SCL"]
    assert (scl.scale, scl.offset) == (1.0, 0.0)  # classes, never rescaled


@pytest.mark.parametrize("row", S1_ROWS, ids=lambda r: r.id)
def test_s1_item(row: S1Row) -> None:
    raw, item = _load(row.path)
    assert item.id == row.id
    assert item.collection_id == row.collection
    ib = load_profile(row.profile).describe(item)  # never raises, even for HH-only items

    assert ib.item_id == row.id
    assert ib.sensor == "sentinel-1"
    assert ib.geocoded is row.geocoded
    assert ib.units == row.units
    assert ib.dn_offset == 0
    if row.vv is None:
        assert ib.bands == {}
        assert ib.missing == ("VV", "VH")
        return
    assert tuple(ib.bands) == ("VV", "VH")
    assert ib.missing == ()
    for band, key in (("VV", row.vv), ("VH", row.vh)):
        ba = ib.bands[band]
        assert ba.asset == key
        assert ba.href == raw["assets"][key]["href"]
        assert ba.nodata == row.nodata
        assert (ba.scale, ba.offset) == (1.0, 0.0)


# --------------------------------------------------------------------------- cross-checks


def test_same_scene_in_two_providers() -> None:
    """S2B 2020-07-05 R065 T32TMT: PC serves the original 02.12 product, CDSE the
    N0500 reprocessing. The reprocessed pixels carry +1000 DN (BOA_ADD_OFFSET),
    the original ones do not, so the same ground reflectance needs a different
    dn_offset in each to land on the same canonical value."""
    pc_raw, pc = _describe(
        "pc", PC_S2 + "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452.json"
    )
    cd_raw, cd = _describe(
        "cdse", CDSE_S2 + "S2B_MSIL2A_20200705T101559_N0500_R065_T32TMT_20230530T175912.json"
    )
    # same acquisition: datatake start time, relative orbit and tile agree
    assert pc.item_id.startswith("S2B_MSIL2A_20200705T101559_") and "_R065_T32TMT_" in pc.item_id
    assert cd.item_id.startswith("S2B_MSIL2A_20200705T101559_") and "_R065_T32TMT_" in cd.item_id
    assert pc_raw["properties"]["s2:processing_baseline"] == "02.12"
    assert cd_raw["properties"]["processing:version"] == "05.00"

    assert (pc.processing_baseline, pc.dn_offset, pc.harmonize) == ("02.12", 0, False)
    assert (cd.processing_baseline, cd.dn_offset, cd.harmonize) == ("05.00", 1000, True)
    assert pc.bands["B04"].offset == pytest.approx(0.0)
    assert cd.bands["B04"].offset == pytest.approx(-0.1)
    # a reflectance of 0.2 is stored as 2000 DN by 02.12 and 3000 DN by 05.00
    assert 2000 - pc.dn_offset == 3000 - cd.dn_offset == 2000
    assert 2000 * pc.bands["B04"].scale + pc.bands["B04"].offset == pytest.approx(0.2)
    assert 3000 * cd.bands["B04"].scale + cd.bands["B04"].offset == pytest.approx(0.2)


def test_same_granule_in_both_earth_search_collections() -> None:
    """S2B 2025-07-31 T24MUV in ES sentinel-2-l2a (offset already removed) and in
    sentinel-2-c1-l2a (offset kept): both advertise offset -0.1, only the flag differs."""
    old_raw, old = _describe("earth-search", ES_S2 + "S2B_24MUV_20250731_0_L2A.json")
    c1_raw, c1 = _describe("earth-search", ES_C1 + "S2B_T24MUV_20250731T130245_L2A.json")
    assert old_raw["assets"]["red"]["raster:bands"][0]["offset"] == -0.1
    assert c1_raw["assets"]["red"]["raster:bands"][0]["offset"] == -0.1
    assert old_raw["properties"]["earthsearch:boa_offset_applied"] is True
    assert "earthsearch:boa_offset_applied" not in c1_raw["properties"]
    assert (old.dn_offset, c1.dn_offset) == (0, 1000)
    assert "boa_offset_applied" in old.offset_reason


@pytest.mark.parametrize("row", GRD_ROWS, ids=lambda r: r.id)
def test_grd_is_refused_for_cubes(row: S1Row) -> None:
    _, ib = _describe(row.profile, row.path)
    assert ib.geocoded is False
    with pytest.raises(NotGeocodedError) as exc:
        ib.require_geocoded()
    assert isinstance(exc.value, ProfileError)
    msg = str(exc.value)
    assert row.id in msg
    assert "sentinel-1-grd" in msg
    assert "sentinel-1-rtc" in msg
    assert exc.value.item_id == row.id


@pytest.mark.parametrize("row", RTC_ROWS, ids=lambda r: r.id)
def test_pc_rtc_is_linear_geocoded(row: S1Row) -> None:
    raw, ib = _describe("pc", row.path)
    assert raw["assets"]["vv"]["raster:bands"][0]["nodata"] == -32768
    assert ib.units == "linear"
    assert ib.geocoded is True
    assert ib.require_geocoded() is ib
    assert ib.bands["VV"].nodata == -32768.0
    assert ib.bands["VH"].nodata == -32768.0


def test_cdse_malformed_storage_refs_item_describes() -> None:
    path = CDSE_S2 + "S2B_MSIL2A_20200705T101559_N0500_R065_T32TMT_20230530T175912.json"
    raw, item = _load(path)
    # the quirk is really there, as published: a string where a list belongs
    assert raw["assets"]["Product"]["storage:refs"] == "\U0001235f\u203b"
    assert "Product" in item.assets
    ib = load_profile("cdse").describe(item)
    assert ib.dn_offset == 1000
    assert ib.missing == ()
    # the generic profile copes too
    assert load_profile("generic").describe(item).dn_offset == 1000


# --------------------------------------------------------------------------- generic profile

# (item, generic dn_offset, why). Band asset keys must equal the provider
# profile's; dn_offset too.
GENERIC_S2 = [
    # PC: no raster:bands -> generic falls back to s2:processing_baseline, like the PC profile
    (PC_S2 + "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452.json", 0),
    (PC_S2 + "S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json", 1000),
    # ES c1: raster:bands offset -0.1, no flag: generic reads the same declared offset
    (ES_C1 + "S2A_T13TDE_20240422T174753_L2A.json", 1000),
    # ES sentinel-2-l2a: earthsearch:boa_offset_applied true wins over the advertised
    # raster:bands offset -0.1 in generic.toml too -> 0, like the earth-search profile
    (ES_S2 + "S2A_32TMT_20200305_1_L2A.json", 0),
    (ES_S2 + "S2A_13TDE_20231008_0_L2A.json", 0),
    # CDSE: raster:offset -0.1 flat -> 1000; B01 -> B01_60m (candidate list order)
    (CDSE_S2 + "S2A_MSIL2A_20241107T113311_N0511_R080_T32VKR_20241107T123948.json", 1000),
    (CDSE_S2 + "S2C_MSIL2A_20260527T014651_N0512_R017_T55WFR_20260527T042005.json", 1000),
]
PROVIDER_OF = {PC: "pc", ES: "earth-search", CDSE: "cdse"}


def _provider(path: str) -> str:
    return PROVIDER_OF[path.split("/", 1)[0] + "/"]


@pytest.mark.parametrize(("path", "dn_offset"), GENERIC_S2, ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_generic_s2_matches_provider(path: str, dn_offset: int) -> None:
    _, item = _load(path)
    specific = load_profile(_provider(path)).describe(item)
    generic = load_profile("generic").describe(item)
    assert {b: a.asset for b, a in generic.bands.items()} == {
        b: a.asset for b, a in specific.bands.items()
    }
    assert {b: (a.nodata, a.scale) for b, a in generic.bands.items()} == {
        b: (a.nodata, a.scale) for b, a in specific.bands.items()
    }
    assert generic.processing_baseline == specific.processing_baseline
    assert generic.dn_offset == dn_offset
    assert specific.dn_offset == generic.dn_offset


def test_generic_removes_offset_exactly_once_on_earth_search_l2a() -> None:
    # earthsearch:boa_offset_applied true, raster:bands offset -0.1: pixels are harmonized
    _, item = _load(ES_S2 + "S2A_32TMT_20200305_1_L2A.json")
    assert load_profile("generic").describe(item).dn_offset == 0


# (item, generic geocoded, units, VV/VH asset keys) -- same verdict as the provider profile.
GENERIC_S1 = [
    # collection sentinel-1-rtc matches "*sentinel-1*rtc*" -> linear, nodata -32768, geocoded
    (
        PC_RTC + "S1A_IW_GRDH_1SDV_20250311T044231_20250311T044249_058252_073302_rtc.json",
        True,
        "linear",
        ("vv", "vh"),
    ),
    # every *-grd falls to "*sentinel-1*" -> geocoded false, dn
    (
        PC_GRD + "S1A_IW_GRDH_1SDV_20250312T052236_20250312T052301_058267_073394.json",
        False,
        "dn",
        ("vv", "vh"),
    ),
    (
        ES_GRD + "S1A_IW_GRDH_1SDV_20240517T093208_20240517T093240_053909_068D6C.json",
        False,
        "dn",
        ("vv", "vh"),
    ),
    (
        ES_GRD + "S1A_EW_GRDM_1SDH_20250709T083614_20250709T083719_060004_07745D.json",
        False,
        "dn",
        None,
    ),
    (
        CDSE_GRD + "S1A_IW_GRDH_1SDV_20240607T000653_20240607T000718_054210_0697DA_6EE4_COG.json",
        False,
        "dn",
        ("vv", "vh"),
    ),
    (
        CDSE_GRD + "S1A_EW_GRDM_1SSH_20241130T001228_20241130T001333_056776_06F825_E84D_COG.json",
        False,
        "dn",
        None,
    ),
]


@pytest.mark.parametrize(
    ("path", "geocoded", "units", "keys"), GENERIC_S1, ids=lambda v: str(v).rsplit("/", 1)[-1]
)
def test_generic_s1_matches_provider(
    path: str, geocoded: bool, units: str, keys: tuple[str, str] | None
) -> None:
    _, item = _load(path)
    specific = load_profile(_provider(path)).describe(item)
    generic = load_profile("generic").describe(item)
    assert (generic.geocoded, generic.units) == (geocoded, units)
    assert (specific.geocoded, specific.units) == (geocoded, units)
    got = tuple(a.asset for a in generic.bands.values()) or None
    assert got == keys
    assert {b: (a.asset, a.nodata) for b, a in generic.bands.items()} == {
        b: (a.asset, a.nodata) for b, a in specific.bands.items()
    }


# --------------------------------------------------------------------------- profile errors


def test_unknown_collection_names_known_ones() -> None:
    raw, _ = _load(PC_S2 + "S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json")
    raw["collection"] = "landsat-c2-l2"
    item = pystac.Item.from_dict(raw)
    with pytest.raises(ProfileError) as exc:
        load_profile("pc").describe(item)
    msg = str(exc.value)
    assert "'landsat-c2-l2'" in msg
    for known in ("sentinel-2-l2a", "sentinel-1-rtc", "sentinel-1-grd"):
        assert known in msg
    assert "planetary-computer.toml" in msg


def test_hh_only_item_in_a_geocoded_collection_is_a_clear_error() -> None:
    """An HH product presented as RTC (geocoded collection) cannot be silently
    accepted with no bands: the error names its polarizations."""
    raw, _ = _load(ES_GRD + "S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json")
    raw["collection"] = "sentinel-1-rtc"
    item = pystac.Item.from_dict(raw)
    with pytest.raises(ProfileError, match=r"polarizations \['HH'\].*VV and VH"):
        load_profile("pc").describe(item)
