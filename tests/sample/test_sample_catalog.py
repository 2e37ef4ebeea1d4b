"""The assembled sample catalog: complete or absent, never half-built."""

from __future__ import annotations

import pystac
import pytest

import geomm.sample as sample
from geomm.errors import SampleDataError
from geomm.testing import assert_valid_stac


def test_interrupted_build_leaves_nothing_and_a_rerun_completes(tmp_path, monkeypatch):
    def crash(out_dir, config):
        (out_dir / "partial.tif").parent.mkdir(parents=True)
        (out_dir / "partial.tif").write_bytes(b"half")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build

    with monkeypatch.context() as m:
        m.setattr(sample, "generate_synthetic_region", crash)
        with pytest.raises(KeyboardInterrupt):
            sample.sample_catalog(cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no staging folder, no target

    # a stale target without its completion marker is rebuilt, not trusted
    stale = tmp_path / f"sample-v{sample.SAMPLE_VERSION}"
    stale.mkdir()
    (stale / "catalog.json").write_text("{}")
    path = sample.sample_catalog(cache=tmp_path)
    assert path == stale / "catalog.json"
    assert (stale / ".complete").is_file()
    root = pystac.Catalog.from_file(str(path))
    assert_valid_stac(path)
    assert root.extra_fields["geomm:profile"] == "sample"
    ids = sorted(c.id for c in root.get_all_collections())
    assert ids == ["bigearthnet-s1", "bigearthnet-s2", "synthetic-s1-rtc", "synthetic-s2-l2a"]
    counts = {c.id: len(list(c.get_items())) for c in root.get_all_collections()}
    assert counts == {
        "bigearthnet-s1": 6,
        "bigearthnet-s2": 6,
        "synthetic-s1-rtc": 5,
        "synthetic-s2-l2a": 8,
    }
    # a second call reuses the complete build
    mtime = path.stat().st_mtime_ns
    assert sample.sample_catalog(cache=tmp_path) == path
    assert path.stat().st_mtime_ns == mtime


def test_missing_bigearthnet_part_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sample, "catalogs_dir", lambda: tmp_path / "nowhere")
    with pytest.raises(SampleDataError, match=r"BigEarthNet sample is missing .* rebuild it"):
        sample.sample_catalog(cache=tmp_path / "cache")
