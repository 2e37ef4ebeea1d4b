"""Issue 13, cases 6 and 9: a catalog may not make geomm read files it should not.

Case 6: a STAC API's items pointed assets at ``file:///etc/passwd`` and geomm
handed them to rasterio. Case 9: a local catalog's ``../`` and absolute hrefs
reached files outside its folder without a word. The items here are copies of
a real published Planetary Computer item with one href changed, served by a
real STAC API (``rustac serve`` on 127.0.0.1) or written as a catalog on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from geomm.aoi import Aoi, aoi_from_geojson
from geomm.cli import main
from geomm.errors import CatalogError, UntrustedHrefError
from geomm.stac import search

DATA = Path(__file__).resolve().parents[1] / "data" / "stac" / "planetary-computer"
COLLECTION = DATA / "sentinel-2-l2a" / "collection.json"
ITEM = DATA / "sentinel-2-l2a" / "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452.json"
ITEM_ID = "S2B_MSIL2A_20200705T101559_R065_T32TMT_20200825T083452"
DAY = "2020-07-05"


def _aoi() -> Aoi:
    west, south, east, north = json.loads(ITEM.read_text())["bbox"]
    middle = box(
        (west + east) / 2, (south + north) / 2, (west + east) / 2 + 0.01, (south + north) / 2 + 0.01
    )
    return aoi_from_geojson(json.loads(json.dumps(mapping(middle))))  # lists, as a file has


def _item(href: str | None) -> dict:
    """The published item, its B04 asset at ``href`` (None: as published)."""
    item = json.loads(ITEM.read_text())
    if href is not None:
        item["assets"]["B04"]["href"] = href
    return item


def _collection() -> dict:
    return json.loads(COLLECTION.read_text())


def _search(catalog: str | Path, **kwargs):
    return search(catalog, aoi=_aoi(), start=DAY, end=DAY, collections=["sentinel-2-l2a"], **kwargs)


# --------------------------------------------------------------------------- a STAC API


def test_a_remote_api_item_as_published_is_found_with_its_hrefs(stac_api) -> None:
    url = stac_api([_collection()], [_item(None)])
    found = _search(url)
    assert [i.id for i in found.items] == [ITEM_ID]
    published = _item(None)["assets"]
    assert {k: a.href for k, a in found.items.items[0].assets.items()} == {
        k: a["href"] for k, a in published.items()
    }


LOCAL_FROM_AN_API = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "file://localhost/etc/passwd",
    "/etc/passwd",
    "  /etc/passwd",
    "file:///tmp/%2e%2e/etc/passwd",
    "/vsicurl/http://127.0.0.1:9/x.tif",
    "/VSIZIP//tmp/a.zip/b.tif",
    "file:///vsicurl/http://127.0.0.1:9/x.tif",
    "zip+file:///tmp/a.zip!/b.tif",
    "C:/Windows/win.ini",
    "\\\\fileserver\\share\\b04.tif",
    "ftp://127.0.0.1/b04.tif",
]


@pytest.mark.parametrize("href", LOCAL_FROM_AN_API)
def test_a_remote_api_may_not_point_assets_at_local_files(stac_api, href: str) -> None:
    url = stac_api([_collection()], [_item(href)])
    with pytest.raises(UntrustedHrefError) as caught:
        _search(url)
    message = str(caught.value)
    assert "\n" not in message
    assert f"item {ITEM_ID!r}" in message and "asset 'B04'" in message
    assert url in message and "STAC API" in message
    assert "may only reference" in message


def test_a_remote_api_may_not_read_local_files_even_when_told_to_trust_catalogs(
    stac_api,
) -> None:
    url = stac_api([_collection()], [_item("file:///etc/passwd")])
    with pytest.raises(UntrustedHrefError, match="may only reference"):
        _search(url, allow_outside_catalog=True)


def test_geomm_cube_from_such_an_api_is_one_error_line_and_reads_nothing(
    stac_api,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rasterio

    opened: list[str] = []
    real_open = rasterio.open
    monkeypatch.setattr(
        rasterio, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k)
    )
    url = stac_api([_collection()], [_item("file:///etc/passwd")])
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps(mapping(box(*_aoi().bbox))))
    out = tmp_path / "cube.zarr"
    code = main(
        ["cube", "--catalog", url, "--aoi", str(aoi), "--start", DAY, "--end", DAY,
         "--collections", "sentinel-2-l2a", "--out", str(out)]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert "file:///etc/passwd" in err and "asset 'B04'" in err
    assert opened == [] and not out.exists()


# --------------------------------------------------------------------------- a local catalog


def _local_catalog(folder: Path, href: str) -> Path:
    """A static catalog in ``folder``: catalog.json -> collection -> the item, B04 at ``href``.

    The item's own B04 file is written too (``B04.tif`` beside the item), so
    an href inside the folder has a real file to point at.
    """
    coll_dir = folder / "sentinel-2-l2a"
    item_dir = coll_dir / ITEM_ID
    item_dir.mkdir(parents=True)
    (item_dir / "B04.tif").write_bytes(b"not really a tif")
    (folder / "catalog.json").write_text(
        json.dumps(
            {
                "type": "Catalog",
                "id": "local",
                "stac_version": "1.0.0",
                "description": "t",
                "links": [
                    {"rel": "root", "href": "./catalog.json"},
                    {"rel": "child", "href": "./sentinel-2-l2a/collection.json"},
                ],
            }  # fmt: skip
        )
    )
    collection = _collection()
    collection["links"] = [
        {"rel": "root", "href": "../catalog.json"},
        {"rel": "parent", "href": "../catalog.json"},
        {"rel": "item", "href": f"./{ITEM_ID}/{ITEM_ID}.json"},
    ]
    collection.pop("assets", None)
    (coll_dir / "collection.json").write_text(json.dumps(collection))
    item = _item(href)
    item["links"] = [
        {"rel": "root", "href": "../../catalog.json"},
        {"rel": "parent", "href": "../collection.json"},
        {"rel": "collection", "href": "../collection.json"},
    ]
    (item_dir / f"{ITEM_ID}.json").write_text(json.dumps(item))
    return folder / "catalog.json"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the catalog's folder, not in it."""
    path = tmp_path / "outside.tif"
    path.write_bytes(b"a file the catalog may not reach")
    return path


def test_a_local_catalog_reads_its_own_files_and_web_assets(tmp_path: Path) -> None:
    catalog = _local_catalog(tmp_path / "cat", "./B04.tif")
    found = _search(catalog)
    item_dir = (tmp_path / "cat" / "sentinel-2-l2a" / ITEM_ID).resolve()
    assert Path(found.items.items[0].assets["B04"].get_absolute_href()).resolve() == (
        item_dir / "B04.tif"
    )
    # its other assets stay the published https URLs: allowed from any catalog
    assert found.items.items[0].assets["B03"].href == _item(None)["assets"]["B03"]["href"]


def _outside_hrefs(outside: Path, cat: Path) -> dict[str, str]:
    depth = "../" * 3  # the item sits in cat/sentinel-2-l2a/<id>/
    return {
        "relative ../": f"{depth}outside.tif",
        "absolute path": str(outside),
        "file:// URL": outside.as_uri(),
        "file://localhost": f"file://localhost{outside}",
        "percent-encoded ..": f"file://{cat}/%2e%2e/outside.tif",
        "system file": "/etc/passwd",
        "gdal vsi path": f"/vsizip/{outside}/b04.tif",
        "zip+file scheme": f"zip+file://{outside}!/b04.tif",
    }


@pytest.mark.parametrize(
    "kind",
    ["relative ../", "absolute path", "file:// URL", "file://localhost", "percent-encoded ..",
     "system file", "gdal vsi path", "zip+file scheme"],
)  # fmt: skip
def test_a_local_catalog_may_not_reach_outside_its_folder_unless_trusted(
    tmp_path: Path, outside: Path, kind: str
) -> None:
    cat = tmp_path / "cat"
    href = _outside_hrefs(outside, cat)[kind]
    catalog = _local_catalog(cat, href)
    with pytest.raises(UntrustedHrefError) as caught:
        _search(catalog)
    message = str(caught.value)
    assert isinstance(caught.value, CatalogError) and isinstance(caught.value, ValueError)
    assert f"item {ITEM_ID!r}" in message and "asset 'B04'" in message
    assert "allow_outside_catalog=True" in message and "--allow" not in message
    assert str(cat.resolve()) in message
    # the user's word lets the same catalog through, the href untouched
    found = _search(catalog, allow_outside_catalog=True)
    assert [i.id for i in found.items] == [ITEM_ID]


def test_a_symbolic_link_out_of_the_folder_counts_as_outside(tmp_path: Path, outside: Path) -> None:
    cat = tmp_path / "cat"
    catalog = _local_catalog(cat, "./link.tif")
    os.symlink(outside, cat / "sentinel-2-l2a" / ITEM_ID / "link.tif")
    with pytest.raises(UntrustedHrefError, match="outside the catalog's folder"):
        _search(catalog)
    assert _search(catalog, allow_outside_catalog=True).items.items[0].id == ITEM_ID


def test_geomm_search_takes_allow_outside_catalog(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _local_catalog(tmp_path / "cat", str(outside))
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps(mapping(box(*_aoi().bbox))))
    args = ["search", "--catalog", str(catalog), "--aoi", str(aoi), "--start", DAY, "--end", DAY,
            "--collections", "sentinel-2-l2a"]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "outside the catalog's folder" in err
    assert "--allow-outside-catalog" in err and "allow_outside_catalog=" not in err  # its words
    assert main([*args, "--allow-outside-catalog"]) == 0
    assert ITEM_ID in capsys.readouterr().out
