"""The committed BigEarthNet sample catalog against the wheel it was built from.

Ground truth is read here independently of the converter
(``scripts/bigearthnet``, importable through ``conftest.py``): the original
GeoTIFFs and metadata JSON come straight out of the tar archives in the
installed ``bigearthnet-common`` wheel, and footprints are recomputed with
pyproj.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import runpy
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bigearthnet as ben
import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.io import MemoryFile
from shapely.geometry import Point, shape

from geomm.errors import SampleDataError
from geomm.testing import assert_valid_cog, assert_valid_stac

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalogs" / "sample" / "bigearthnet"
SCRIPT = REPO / "scripts" / "build_bigearthnet_sample.py"
HINT = "pip install bigearthnet-common==2.8.0"
S2_KEYS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"]
BUILT_WITH_GDAL = "3.10.3"
"""GDAL of the committed build; COG bytes (DEFLATE streams) may differ under another."""

EXT = "https://stac-extensions.github.io/{}/schema.json"


# --------------------------------------------------------------------------- ground truth


def _wheel_archive(name: str) -> Path:
    try:
        dist = importlib.metadata.distribution("bigearthnet-common")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"bigearthnet-common is not installed ({HINT})")
    return Path(str(dist.locate_file(f"bigearthnet_common/{name}")))


@pytest.fixture(scope="module")
def originals() -> dict[str, dict[str, Any]]:
    """patch name -> {"meta": metadata JSON, "tifs": {band: GeoTIFF bytes}}, both sensors."""
    out: dict[str, dict[str, Any]] = {}
    for name in ("BigEarthNet-S2-Example.tar.bz2", "BigEarthNet-S1-Example.tar.bz2"):
        with tarfile.open(_wheel_archive(name), "r:bz2") as tar:
            for m in tar.getmembers():
                if not m.isfile():
                    continue
                folder, base = m.name.split("/")[-2:]
                entry = out.setdefault(folder, {"meta": None, "tifs": {}})
                data = tar.extractfile(m).read()  # type: ignore[union-attr]
                if base.endswith("_labels_metadata.json"):
                    entry["meta"] = json.loads(data)
                else:
                    assert base.startswith(folder + "_") and base.endswith(".tif"), base
                    entry["tifs"][base[len(folder) + 1 : -4]] = data
    assert len(out) == 12
    return out


def _items(collection: str) -> list[tuple[Path, dict[str, Any]]]:
    paths = sorted((CATALOG / collection).glob("*/*.json"))
    return [(p, json.loads(p.read_text())) for p in paths]


def _read(src: bytes | Path) -> dict[str, Any]:
    def grab(ds: rasterio.DatasetReader) -> dict[str, Any]:
        return {
            "array": ds.read(),
            "crs": ds.crs,
            "transform": ds.transform,
            "nodata": ds.nodata,
            "dtype": ds.dtypes[0],
        }

    if isinstance(src, bytes):
        with MemoryFile(src) as mem, mem.open() as ds:
            return grab(ds)
    with rasterio.open(src) as ds:
        return grab(ds)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- 1. pixels


def test_every_band_of_every_patch_is_bit_identical_to_the_wheel(originals):
    seen = set()
    for collection in ("bigearthnet-s2", "bigearthnet-s1"):
        for path, item in _items(collection):
            src = originals[item["id"]]
            for key, asset in item["assets"].items():
                band = key if collection == "bigearthnet-s2" else key.upper()
                want = _read(src["tifs"][band])
                got = _read(path.parent / asset["href"])
                where = f"{item['id']} {band}"
                assert got["dtype"] == want["dtype"], where
                assert got["array"].shape == want["array"].shape, where
                assert got["array"].tobytes() == want["array"].tobytes(), where
                assert got["crs"] == want["crs"], where
                assert got["transform"] == want["transform"], where
                assert got["nodata"] is None and want["nodata"] is None, where
                # the item's projection fields describe the same grid
                assert asset["proj:shape"] == list(want["array"].shape[1:]), where
                assert asset["proj:transform"] == list(want["transform"])[:6], where
                seen.add((item["id"], band))
    expected = {(p, b) for p, e in originals.items() for b in e["tifs"]}
    assert seen == expected
    assert len(seen) == 6 * 12 + 6 * 2


# --------------------------------------------------------------------------- 2. STAC + COG


def test_every_document_is_valid_stac_and_every_tif_a_valid_cog():
    docs = [CATALOG / "catalog.json", *sorted(CATALOG.glob("*/collection.json"))]
    docs += sorted(CATALOG.glob("*/*/*.json"))
    assert len(docs) == 1 + 2 + 12
    for doc in docs:
        assert_valid_stac(doc)
    tifs = sorted(CATALOG.rglob("*.tif"))
    assert len(tifs) == 6 * 12 + 6 * 2
    for tif in tifs:
        assert_valid_cog(tif)


def test_structure_ids_and_relative_links():
    root = json.loads((CATALOG / "catalog.json").read_text())
    assert root["id"] == "bigearthnet-sample"
    children = sorted(link["href"] for link in root["links"] if link["rel"] == "child")
    assert children == ["./bigearthnet-s1/collection.json", "./bigearthnet-s2/collection.json"]
    for path in CATALOG.rglob("*.json"):
        doc = json.loads(path.read_text())
        assert "self" not in {link["rel"] for link in doc["links"]}, path
        for link in doc["links"]:
            if link["rel"] in {"root", "parent", "child", "item", "collection", "license"}:
                assert link["href"].startswith("."), (path, link)
                assert (path.parent / link["href"]).resolve().is_file(), (path, link)
        for asset in doc.get("assets", {}).values():
            assert asset["href"].startswith("./"), path
            assert (path.parent / asset["href"]).is_file(), path


def test_s2_properties_match_the_source_metadata(originals):
    items = _items("bigearthnet-s2")
    assert len(items) == 6
    s1_of = {
        e["meta"]["corresponding_s2_patch"]: n
        for n, e in originals.items()
        if "corresponding_s2_patch" in e["meta"]
    }
    for _, item in items:
        meta = originals[item["id"]]["meta"]
        p = item["properties"]
        fields = meta["tile_source"].split("_")  # S2A MSIL1C <time> N0205 R022 T33UUP <time>.SAFE
        assert _utc(p["datetime"]) == datetime.strptime(
            meta["acquisition_date"], "%Y-%m-%d %H:%M:%S"
        ).replace(tzinfo=UTC)
        assert p["bigearthnet:labels"] == meta["labels"]
        assert p["s2:processing_baseline"] == f"{fields[3][1:3]}.{fields[3][3:5]}"
        assert p["s2:mgrs_tile"] == fields[5][1:]
        assert p["grid:code"] == "MGRS-" + fields[5][1:]
        assert p["sat:relative_orbit"] == int(fields[4][1:])
        assert p["platform"] == {"S2A": "sentinel-2a", "S2B": "sentinel-2b"}[item["id"][:3]]
        assert p["constellation"] == "sentinel-2" and p["instruments"] == ["msi"]
        assert p["bigearthnet:s1_patch"] == s1_of[item["id"]]
        crs = _read(originals[item["id"]]["tifs"]["B02"])["crs"]
        assert p["proj:code"] == f"EPSG:{crs.to_epsg()}"
        assert list(item["assets"]) == S2_KEYS
        for key, asset in item["assets"].items():
            gsd = {120: 10.0, 60: 20.0, 20: 60.0}[asset["proj:shape"][0]]
            assert asset["gsd"] == gsd
            assert asset["raster:bands"] == [
                {
                    "data_type": "uint16",
                    "nodata": 0,
                    "scale": 0.0001,
                    "offset": 0.0,
                    "spatial_resolution": gsd,
                }
            ]
            assert [b["name"] for b in asset["eo:bands"]] == [key]
            assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        for ext in (
            "eo/v1.1.0",
            "raster/v1.1.0",
            "projection/v2.0.0",
            "sat/v1.0.0",
            "grid/v1.1.0",
            "sentinel-2/v1.0.0",
        ):
            assert EXT.format(ext) in item["stac_extensions"]
    # the two processing baselines present, by hand
    baselines = {item["id"]: item["properties"]["s2:processing_baseline"] for _, item in items}
    assert baselines["S2A_MSIL2A_20170613T101031_87_48"] == "02.05"
    assert baselines["S2A_MSIL2A_20171221T112501_56_35"] == "02.06"


def test_s1_properties_match_the_source_metadata(originals):
    items = _items("bigearthnet-s1")
    assert len(items) == 6
    for _, item in items:
        meta = originals[item["id"]]["meta"]
        p = item["properties"]
        assert _utc(p["datetime"]) == datetime.fromisoformat(meta["acquisition_time"]).replace(
            tzinfo=UTC
        )
        assert p["bigearthnet:labels"] == meta["labels"]
        assert p["bigearthnet:s2_patch"] == meta["corresponding_s2_patch"]
        assert p["sat:absolute_orbit"] == int(meta["scene_source"].split("_")[6])
        assert p["platform"] == "sentinel-1a" and p["constellation"] == "sentinel-1"
        assert p["sar:instrument_mode"] == "IW"
        assert p["sar:frequency_band"] == "C"
        assert p["sar:product_type"] == "GRD"
        assert p["sar:polarizations"] == ["VV", "VH"]
        crs = _read(originals[item["id"]]["tifs"]["VV"])["crs"]
        assert p["proj:code"] == f"EPSG:{crs.to_epsg()}"
        assert list(item["assets"]) == ["vv", "vh"]
        for key, asset in item["assets"].items():
            assert asset["raster:bands"] == [
                {"data_type": "float32", "unit": "dB", "spatial_resolution": 10.0}
            ]
            assert asset["sar:polarizations"] == [key.upper()]
        for ext in ("raster/v1.1.0", "projection/v2.0.0", "sat/v1.0.0", "sar/v1.0.0"):
            assert EXT.format(ext) in item["stac_extensions"]
    by_id = {item["id"]: item["properties"] for _, item in items}
    # worked by hand: S1A relative orbit = ((17018 - 73) % 175) + 1 = 146; 16:50 UTC at
    # 13.7 E is 17:45 local solar time, i.e. the dusk (ascending) pass
    p = by_id["S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"]
    assert (p["sat:absolute_orbit"], p["sat:relative_orbit"]) == (17018, 146)
    assert p["sat:orbit_state"] == "ascending"
    # ((18527 - 73) % 175) + 1 = 80; 04:33 UTC at 30.3 E is 06:34 local: dawn (descending)
    p = by_id["S1A_IW_GRDH_1SDV_20170925T043256_35VPK_69_24"]
    assert (p["sat:absolute_orbit"], p["sat:relative_orbit"]) == (18527, 80)
    assert p["sat:orbit_state"] == "descending"


def test_collections_license_providers_attribution_and_extents():
    wheel_license = importlib.metadata.distribution("bigearthnet-common").read_text(
        "license_files/LICENSE"
    )
    assert (CATALOG / "LICENSE").read_text() == wheel_license
    readme = (CATALOG / "README.md").read_text()
    for needle in (
        "bigearthnet-common 2.8.0",
        "Contains modified Copernicus Sentinel data 2017-2018",
        "10.1109/MGRS.2021.3089174",
        "10.1109/IGARSS.2019.8900532",
        "scripts/build_bigearthnet_sample.py",
    ):
        assert needle in readme
    for cid in ("bigearthnet-s2", "bigearthnet-s1"):
        col = json.loads((CATALOG / cid / "collection.json").read_text())
        assert col["id"] == cid
        assert col["license"] == "Apache-2.0"
        lic = [link for link in col["links"] if link["rel"] == "license"]
        assert [link["href"] for link in lic] == ["../LICENSE"]
        assert "Contains modified Copernicus Sentinel data 2017-2018" in col["description"]
        assert "Sumbul" in col["description"] and "BigEarthNet-MM" in col["description"]
        roles = {r for prov in col["providers"] for r in prov["roles"]}
        assert {"producer", "processor"} <= roles
        items = [item for _, item in _items(cid)]
        boxes = np.array([item["bbox"] for item in items])
        want = [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
        assert col["extent"]["spatial"]["bbox"] == [want]
        times = sorted(_utc(item["properties"]["datetime"]) for item in items)
        start, end = col["extent"]["temporal"]["interval"][0]
        assert (_utc(start), _utc(end)) == (times[0], times[-1])


# --------------------------------------------------------------------------- 3. geometry


def test_footprints_contain_the_patch_centre_and_pairs_share_them(originals):
    s2 = {item["id"]: item for _, item in _items("bigearthnet-s2")}
    s1 = {item["id"]: item for _, item in _items("bigearthnet-s1")}
    for item in [*s2.values(), *s1.values()]:
        meta = originals[item["id"]]["meta"]
        c = meta["coordinates"]
        bottom = c.get("lry", c.get("lly"))  # BigEarthNet-S1 JSON spells it "lly"
        epsg = _read(originals[item["id"]]["tifs"]["B02" if item["id"] in s2 else "VV"])["crs"]
        to_ll = Transformer.from_crs(epsg, "EPSG:4326", always_xy=True)
        lon, lat = to_ll.transform((c["ulx"] + c["lrx"]) / 2, (c["uly"] + bottom) / 2)
        geom = shape(item["geometry"])
        assert geom.is_valid and geom.contains(Point(lon, lat)), item["id"]
        w, s, e, n = item["bbox"]
        assert w < lon < e and s < lat < n
        assert geom.bounds == pytest.approx((w, s, e, n), abs=0)
        # 1.2 km x 1.2 km: transform the footprint back and compare the corners
        back = Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
        xs, ys = back.transform(*zip(*item["geometry"]["coordinates"][0], strict=True))
        assert sorted({round(x, 1) for x in xs}) == [float(c["ulx"]), float(c["lrx"])]
        assert sorted({round(y, 1) for y in ys}) == [float(bottom), float(c["uly"])]
    for s1_id, item in s1.items():
        partner = s2[item["properties"]["bigearthnet:s2_patch"]]
        assert partner["properties"]["bigearthnet:s1_patch"] == s1_id
        assert item["geometry"] == partner["geometry"]
        assert item["bbox"] == partner["bbox"]


# --------------------------------------------------------------------------- 4. determinism


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_rebuild_with_the_script_is_byte_identical(tmp_path):
    out = tmp_path / "bigearthnet"
    out.mkdir()
    (out / "stale.txt").write_text("replaced as a whole")
    main = runpy.run_path(str(SCRIPT))["main"]
    assert main(["--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bigearthnet"]  # no leftovers
    built, committed = _digests(out), _digests(CATALOG)
    assert sorted(built) == sorted(committed)
    if rasterio.__gdal_version__ == BUILT_WITH_GDAL:
        assert built == committed
    else:  # DEFLATE bytes may change with GDAL; metadata must not
        for name in committed:
            if not name.endswith(".tif"):
                assert built[name] == committed[name], name
            else:
                assert np.array_equal(_read(out / name)["array"], _read(CATALOG / name)["array"])
        pytest.skip(f"GDAL {rasterio.__gdal_version__}, not {BUILT_WITH_GDAL}: COG bytes unchecked")


# --------------------------------------------------------------------------- 5. errors


def test_missing_wheel_is_a_clear_sample_data_error(monkeypatch, tmp_path):
    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(SampleDataError, match=HINT.replace(".", r"\.")) as err:
        ben.locate_archive("s2")
    assert "bigearthnet-common" in str(err.value)
    assert isinstance(err.value, RuntimeError)
    with pytest.raises(SampleDataError, match="pip install bigearthnet-common==2"):
        ben.write_sample_catalog(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_wheel_without_archive_or_with_a_changed_archive(monkeypatch, tmp_path):
    class NoFiles:
        version = "2.8.0"

        def locate_file(self, path: str) -> Path:
            return tmp_path / "nowhere" / path

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: NoFiles())
    with pytest.raises(SampleDataError, match="BigEarthNet-S1-Example.tar.bz2.*pip install"):
        ben.locate_archive("s1")
    monkeypatch.undo()
    bogus = tmp_path / "BigEarthNet-S2-Example.tar.bz2"
    bogus.write_bytes(b"not the archive")
    with pytest.raises(SampleDataError, match="sha256"):
        ben.read_patches("s2", archive=bogus)


def test_orbit_helpers():
    assert ben.s1_relative_orbit("sentinel-1a", 17018) == 146
    assert ben.s1_relative_orbit("sentinel-1b", 27) == 1
    noon = datetime(2017, 6, 13, 12, 0, tzinfo=UTC)
    with pytest.raises(SampleDataError, match="orbit direction"):
        ben.s1_orbit_state(noon, 0.0)
    assert ben.s1_orbit_state(datetime(2017, 6, 13, 17, 0, tzinfo=UTC), 15.0) == "ascending"
    assert ben.s1_orbit_state(datetime(2017, 6, 13, 5, 0, tzinfo=UTC), 15.0) == "descending"
