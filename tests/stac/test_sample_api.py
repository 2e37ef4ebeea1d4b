"""The bundled sample catalog, searched statically and through a real local STAC API.

``rustac serve`` on 127.0.0.1 holds the sample items; ``geomm search`` goes
through pystac-client exactly as it would against a remote provider, and
must find what the static-catalog search finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest

from geomm.aoi import aoi_from_geojson, read_aoi
from geomm.cli import main
from geomm.sample import sample_aoi_path
from geomm.stac import load_profile, search

SAMPLE_COLLECTIONS = ["synthetic-s2-l2a", "synthetic-s1-rtc", "bigearthnet-s2", "bigearthnet-s1"]


@pytest.fixture(scope="module")
def sample_items(sample_catalog):
    root = pystac.Catalog.from_file(str(sample_catalog))
    collections, items = [], []
    for child in root.get_children():
        for collection in child.get_children():
            collections.append(collection.to_dict(include_self_link=False))
            for item in collection.get_items():
                item.make_asset_hrefs_absolute()
                # served as a provider would: assets at URLs (an API's items may not
                # name local files, geomm.stac._hrefs); the search never fetches them
                for asset in item.assets.values():
                    rel = Path(asset.href).relative_to(Path(sample_catalog).parent).as_posix()
                    asset.href = f"http://127.0.0.1:9/{rel}"
                items.append(item.to_dict(include_self_link=False))
    return collections, items


def _ids(result):
    return [i.id for i in result.items]


def test_default_search_of_the_demo_aoi_finds_both_sensors_in_both_zones(sample_catalog):
    result = search("sample", aoi=read_aoi(sample_aoi_path()), start="2024-06-01", end="2024-07-31")
    by_collection = {}
    for item in result.items:
        by_collection.setdefault(item.collection_id, []).append(item)
    assert set(by_collection) == {"synthetic-s2-l2a", "synthetic-s1-rtc"}
    zones = {i.properties.get("proj:code") for i in by_collection["synthetic-s2-l2a"]}
    assert zones == {"EPSG:32632", "EPSG:32633"}
    profile = load_profile("sample")
    for item in result.items:
        verdict = profile.describe(item)
        if verdict.sensor == "sentinel-2":
            assert verdict.dn_offset == 1000 and verdict.processing_baseline == "05.10"
            assert (
                list(verdict.bands)[:12]
                == list(load_profile("sample").rule_for("synthetic-s2-l2a").bands)[:12]
            )
        else:
            assert verdict.units == "linear" and verdict.bands["VV"].nodata == -32768


def test_bigearthnet_pairs_are_searchable_by_their_own_footprints(sample_catalog):
    root = pystac.Catalog.from_file(str(sample_catalog))
    s2 = next(c for c in root.get_all_collections() if c.id == "bigearthnet-s2")
    for item in s2.get_items():
        aoi = aoi_from_geojson(item.geometry)
        day = item.datetime.date().isoformat()
        found = search("sample", aoi=aoi, start=day, end=day, collections=["bigearthnet-s2"])
        assert item.id in _ids(found)
        verdict = load_profile("sample").describe(item)
        assert verdict.dn_offset == 0  # 2017-2018, processing baseline 02.xx


def test_geomm_search_through_a_local_stac_api_equals_the_static_search(
    sample_catalog, sample_items, stac_api, tmp_path, capsys
):
    collections, items = sample_items
    url = stac_api(collections, items)
    aoi_path = sample_aoi_path()
    for query in (
        ["--start", "2024-06-01", "--end", "2024-07-31"],
        ["--start", "2024-06-01", "--end", "2024-07-31", "--max-cloud", "20"],
        ["--start", "2024-06-10", "--end", "2024-06-20"],
    ):
        outs = {}
        for name, catalog in (("static", str(sample_catalog)), ("api", url)):
            out = tmp_path / f"{name}.geojson"
            code = main(
                [
                    "search",
                    "--catalog",
                    catalog,
                    "--aoi",
                    str(aoi_path),
                    "--collections",
                    ",".join(SAMPLE_COLLECTIONS),
                    *query,
                    "--out",
                    str(out),
                ]
            )
            assert code == 0, capsys.readouterr().err
            outs[name] = [f["id"] for f in json.loads(out.read_text())["features"]]
        assert outs["api"] == outs["static"], query
        assert outs["static"], query
