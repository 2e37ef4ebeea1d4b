"""The bundled offline sample catalog.

Two parts, one static STAC catalog:

* ``bigearthnet``: six real Sentinel-1/Sentinel-2 pairs from the BigEarthNet
  examples in the ``bigearthnet-common`` wheel, converted to COGs and
  committed under ``catalogs/sample/bigearthnet`` (rebuilt by
  ``scripts/build_bigearthnet_sample.py``; the converter is build tooling in
  ``scripts/bigearthnet``, not part of this package).
* ``synthetic``: a deterministic, physically plausible two-UTM-zone region
  with known ground truth (:mod:`geomm.sample._synthetic`), too large to
  commit, so generated on first use into geomm's cache.

:func:`sample_catalog` assembles both in the cache and returns the root
``catalog.json``; it builds in a temporary folder and moves it into place
only when complete, so an interrupted build is simply redone.

geomm.stac sits below this package and never imports it: the catalog is
registered under the name ``sample`` (:func:`geomm.stac.register_catalog`
here, and the ``geomm.catalogs`` entry point for a process that has not
imported this package), so ``catalog="sample"`` and ``--catalog sample``
resolve to :func:`sample_catalog`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from geomm._resources import cache_dir, catalogs_dir
from geomm.errors import SampleDataError
from geomm.sample._s2_bands import S2_BAND_INFO
from geomm.sample._synthetic import GroundTruth, SyntheticConfig, generate_synthetic_region
from geomm.stac import PROFILE_KEY, register_catalog

__all__ = [
    "S2_BAND_INFO",
    "SAMPLE_VERSION",
    "GroundTruth",
    "SyntheticConfig",
    "generate_synthetic_region",
    "sample_aoi_path",
    "sample_catalog",
]

SAMPLE_VERSION = 1
"""Bump when the generator's output changes, so caches are rebuilt."""

_COMPLETE = ".complete"


def sample_catalog(*, cache: str | Path | None = None) -> Path:
    """Path of the sample catalog's root ``catalog.json``, built on first use.

    Args:
        cache: folder to build in; default :func:`geomm._resources.cache_dir`.

    Raises:
        SampleDataError: the committed BigEarthNet part is missing.
    """
    root = Path(cache) if cache is not None else cache_dir()
    target = root / f"sample-v{SAMPLE_VERSION}"
    if (target / _COMPLETE).is_file():
        return target / "catalog.json"
    root.mkdir(parents=True, exist_ok=True)
    real = catalogs_dir() / "sample" / "bigearthnet"
    if not (real / "catalog.json").is_file():
        raise SampleDataError(
            f"the BigEarthNet sample is missing from {real}; reinstall geomm, or rebuild it "
            "with `python scripts/build_bigearthnet_sample.py`"
        )
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        generate_synthetic_region(staging / "synthetic", SyntheticConfig())
        shutil.copytree(real, staging / "bigearthnet")
        _write_root(staging)
        (staging / _COMPLETE).write_text("ok\n")
        if target.exists():  # a stale, incomplete build from an interrupted run
            shutil.rmtree(target)
        os.replace(staging, target)
    except FileExistsError:
        pass  # another process finished first; its result is complete
    except OSError as e:
        if not (target / _COMPLETE).is_file():
            raise SampleDataError(f"could not build the sample catalog in {root}: {e}") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "catalog.json"


register_catalog("sample", sample_catalog)


def sample_aoi_path() -> Path:
    """The demo AOI: a polygon over the synthetic region, across UTM zones 32/33."""
    return catalogs_dir() / "sample" / "aoi.geojson"


def _write_root(folder: Path) -> None:
    root = {
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": "geomm-sample",
        "description": (
            "geomm's offline sample: real BigEarthNet Sentinel-1/2 pairs (Contains modified "
            "Copernicus Sentinel data 2017-2018) and a synthetic two-UTM-zone region with "
            "known ground truth."
        ),
        PROFILE_KEY: "sample",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            {"rel": "self", "href": "./catalog.json", "type": "application/json"},
            {
                "rel": "child",
                "href": "./synthetic/catalog.json",
                "type": "application/json",
                "title": "Synthetic two-zone region",
            },
            {
                "rel": "child",
                "href": "./bigearthnet/catalog.json",
                "type": "application/json",
                "title": "BigEarthNet example pairs",
            },
        ],
    }
    (folder / "catalog.json").write_text(json.dumps(root, indent=2) + "\n")
