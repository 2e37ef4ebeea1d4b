"""Catalogs that other packages provide: register_catalog and the geomm.catalogs entry points.

geomm.stac must find ``catalog="sample"`` without importing geomm.sample (a
higher layer) at its own import, and a third-party catalog the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from geomm.aoi import aoi_from_geojson
from geomm.errors import CatalogError
from geomm.stac import (
    PROFILE_KEY,
    _registry,
    register_catalog,
    registered_catalogs,
    resolve_catalog,
    search,
)
from geomm.testing import make_item, write_static_catalog

AOI = aoi_from_geojson(mapping(box(10.0, 45.0, 10.2, 45.2)))


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """An empty in-process registry for this test, the real one restored afterwards."""
    empty: dict = {}
    monkeypatch.setattr(_registry, "_resolvers", empty)
    return empty


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    item = make_item(
        "one",
        collection="sentinel-2-l2a",
        geometry=mapping(box(9.9, 44.9, 10.5, 45.5)),
        datetime="2024-06-10T10:00:00Z",
    )
    return write_static_catalog(
        tmp_path / "cat",
        {"sentinel-2-l2a": [item]},
        extra_fields={PROFILE_KEY: "planetary-computer"},
    )


def _fake_distribution(site: Path, entry_points: str, modules: dict[str, str]) -> None:
    """A distribution on ``site`` that declares ``entry_points`` and ships ``modules``."""
    info = site / "geomm_catalog_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: geomm-catalog-plugin\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)


def test_a_registered_name_resolves_to_its_catalog_and_the_catalogs_profile(registry, tiny):
    calls = []

    def resolver() -> Path:
        calls.append(1)
        return tiny

    register_catalog("my-catalog", resolver)
    assert "my-catalog" in registered_catalogs()
    source = resolve_catalog("my-catalog")
    assert source.path == tiny and source.url is None
    assert source.profile.name == "planetary-computer"  # from the root's geomm:profile
    found = search("my-catalog", aoi=AOI, start="2024-06-01", end="2024-06-30")
    assert [item.id for item in found.items] == ["one"]
    assert len(calls) == 2  # asked on each resolution, so it may build lazily


def test_a_profile_without_url_or_path_takes_the_catalog_registered_under_its_name(
    registry, tiny, tmp_path
):
    profile = tmp_path / "mine.toml"
    profile.write_text(
        'name = "mine"\ntitle = "mine"\n[collections.sentinel-2-l2a]\n'
        'sensor = "sentinel-2"\noffset_source = "processing-baseline"\n'
        '[collections.sentinel-2-l2a.bands]\nB04 = "B04"\n'
    )
    with pytest.raises(CatalogError, match=r"neither a url nor a path.*geomm\.catalogs"):
        resolve_catalog(profile)
    register_catalog("mine", lambda: tiny.parent)  # a folder holding catalog.json will do
    source = resolve_catalog(profile)
    assert source.path == tiny and source.profile.name == "mine"


@pytest.mark.parametrize("name", ["", " padded ", "https://example.invalid/stac"])
def test_register_catalog_refuses_names_that_cannot_be_typed_as_a_catalog(registry, name):
    with pytest.raises(CatalogError, match="plain name"):
        register_catalog(name, lambda: "x")


def test_register_catalog_refuses_a_resolver_that_is_not_callable(registry):
    with pytest.raises(CatalogError, match="not callable"):
        register_catalog("x", "geomm.sample:sample_catalog")  # type: ignore[arg-type]


def test_a_resolver_pointing_nowhere_is_a_catalog_error(registry, tmp_path):
    register_catalog("gone", lambda: tmp_path / "missing" / "catalog.json")
    with pytest.raises(CatalogError, match="does not exist"):
        resolve_catalog("gone")


def test_unknown_names_list_the_registered_catalogs(registry, tiny):
    register_catalog("my-catalog", lambda: tiny)
    with pytest.raises(CatalogError, match=r"unknown catalog 'nowhere'.*my-catalog"):
        resolve_catalog("nowhere")


def test_an_entry_point_is_imported_only_when_its_name_is_asked_for(
    registry, tiny, tmp_path, monkeypatch
):
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "[geomm.catalogs]\nplugged = geomm_plugged_catalog:where\n",
        {"geomm_plugged_catalog": f"def where():\n    return {str(tiny)!r}\n"},
    )
    monkeypatch.syspath_prepend(str(site))
    assert "plugged" in registered_catalogs()
    assert "geomm_plugged_catalog" not in sys.modules
    resolve_catalog("earth-search")  # a provider's name looks at no plugin
    assert "geomm_plugged_catalog" not in sys.modules
    assert resolve_catalog("plugged").path == tiny
    assert "geomm_plugged_catalog" in sys.modules
    monkeypatch.delitem(sys.modules, "geomm_plugged_catalog")


def test_an_entry_point_that_fails_to_import_says_which(registry, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "[geomm.catalogs]\nbroken = geomm_broken_catalog:where\n"
        "constant = geomm_constant_catalog:WHERE\n",
        {
            "geomm_broken_catalog": "raise RuntimeError('no GDAL here')\n",
            "geomm_constant_catalog": "WHERE = '/nowhere/catalog.json'\n",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(CatalogError, match=r"'broken' \(geomm_broken_catalog:where.*no GDAL here"):
        resolve_catalog("broken")
    with pytest.raises(CatalogError, match=r"'constant' .* is not callable"):
        resolve_catalog("constant")
    monkeypatch.delitem(sys.modules, "geomm_constant_catalog")


def test_a_resolver_that_fails_is_a_catalog_error_naming_the_catalog(registry):
    def broken() -> str:
        raise KeyError("cache")

    register_catalog("flaky", broken)
    with pytest.raises(CatalogError, match=r"providing catalog 'flaky' failed.*KeyError"):
        resolve_catalog("flaky")


def test_a_fresh_process_finds_the_sample_without_importing_it_first(sample_catalog):
    """``--catalog sample`` works in a process that never imported geomm.sample itself.

    Needs geomm installed with its ``geomm.catalogs`` entry point
    (``pip install -e .`` after pyproject.toml declares it).
    """
    code = (
        "import json, sys\n"
        "import geomm.stac\n"
        "before = 'geomm.sample' in sys.modules\n"
        "source = geomm.stac.resolve_catalog('sample')\n"
        "print(json.dumps([before, str(source.path), source.profile.name]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    before, path, profile = json.loads(run.stdout)
    assert before is False  # importing geomm.stac imports no sample generator
    assert Path(path) == sample_catalog and profile == "sample"
