"""The BigEarthNet example pairs of ``bigearthnet-common`` as a static STAC catalog of COGs.

The ``bigearthnet-common`` wheel (2.8.0, Apache-2.0) ships six real
BigEarthNet-MM patch pairs: a Sentinel-2 L2A patch (12 bands, uint16,
10/20/60 m) and the Sentinel-1 GRD patch paired with it (VV and VH, float32
backscatter in dB, 10 m), each with a ``*_labels_metadata.json``. This module
reads the two archives straight from the installed wheel (the package is never
imported: importing it creates directories in the user's home), rewrites each
band as a Cloud-Optimized GeoTIFF with the same pixels, CRS and transform, and
describes the result as a self-contained STAC 1.1.0 catalog::

    catalog.json                          id "bigearthnet-sample"
    LICENSE, README.md
    bigearthnet-s2/collection.json
    bigearthnet-s2/<patch>/<patch>.json   assets B01 .. B12 (12, canonical order)
    bigearthnet-s2/<patch>/<patch>_B04.tif
    bigearthnet-s1/collection.json
    bigearthnet-s1/<patch>/<patch>.json   assets vv, vh
    bigearthnet-s1/<patch>/<patch>_VV.tif

Everything written is a function of the two pinned archives alone: no clock,
no host name, sorted iteration, one fixed JSON layout, so a rebuild with the
same GDAL is byte-identical.

This is build tooling, not part of the geomm library: geomm only reads the
committed result (``catalogs/sample/bigearthnet``). ``scripts/`` on
``sys.path`` makes it importable as ``bigearthnet``
(``scripts/build_bigearthnet_sample.py`` runs it; tests import it through
``tests/sample/conftest.py``).

The work is split by role: :mod:`bigearthnet.archive` finds and reads the
wheel's archives (sha256-checked) and writes COGs, :mod:`bigearthnet.items`
builds the STAC items (and documents how derived fields such as orbits are
computed), :mod:`bigearthnet.catalog` the collections, root catalog and
README, and this module coordinates them and saves the result atomically.
Their public names are re-exported here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pystac
from pystac.stac_io import DefaultStacIO

from .archive import (
    ARCHIVE_SHA256,
    INSTALL_HINT,
    S1_POLARIZATIONS,
    S2_BANDS,
    BigEarthNetPatch,
    locate_archive,
    read_license,
    read_patches,
    write_cog,
)
from .catalog import CATALOG_ID, S1_COLLECTION_ID, S2_COLLECTION_ID, build_catalog, readme_text
from .items import footprint, s1_item, s1_orbit_state, s1_relative_orbit, s2_item

__all__ = [
    "ARCHIVE_SHA256",
    "CATALOG_ID",
    "INSTALL_HINT",
    "S1_COLLECTION_ID",
    "S1_POLARIZATIONS",
    "S2_BANDS",
    "S2_COLLECTION_ID",
    "BigEarthNetPatch",
    "build_catalog",
    "footprint",
    "locate_archive",
    "read_license",
    "read_patches",
    "s1_item",
    "s1_orbit_state",
    "s1_relative_orbit",
    "s2_item",
    "write_cog",
    "write_sample_catalog",
]

log = logging.getLogger(__name__)

Progress = Callable[[Iterable[Any]], Iterable[Any]]


# --------------------------------------------------------------------------- saving


class _StableStacIO(DefaultStacIO):
    """Writes JSON one fixed way (indent 2, trailing newline), with or without orjson."""

    def json_dumps(self, json_dict: dict[str, Any], *args: Any, **kwargs: Any) -> str:
        return json.dumps(json_dict, indent=2, ensure_ascii=False) + "\n"


def _replace_dir(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``, replacing an existing ``out`` by renames only."""
    if not out.exists():
        os.replace(staging, out)
        return
    backup = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, backup)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(backup, out)
        raise
    shutil.rmtree(backup)


def write_sample_catalog(
    out_dir: str | Path,
    *,
    s2_archive: Path | None = None,
    s1_archive: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Convert the wheel's example archives into the static STAC catalog at ``out_dir``.

    The catalog is written into a temporary sibling directory and moved into
    place with :func:`os.replace`, so ``out_dir`` never holds a half-written
    catalog; an existing ``out_dir`` is replaced as a whole.

    Args:
        out_dir: destination directory, e.g. ``catalogs/sample/bigearthnet``.
        s2_archive: Sentinel-2 archive; by default the one in the installed wheel.
        s1_archive: Sentinel-1 archive; by default the one in the installed wheel.
        progress: optional tqdm-like wrapper over the items being written.

    Returns:
        Path of the root ``catalog.json``.

    Raises:
        SampleDataError: the wheel or its archives are missing or differ from 2.8.0.

    """
    out = Path(out_dir).absolute()
    s2 = read_patches("s2", archive=s2_archive)
    s1 = read_patches("s1", archive=s1_archive)
    license_text = read_license()
    catalog = build_catalog(s2, s1)
    s1_of = {str(p.metadata["corresponding_s2_patch"]): p.name for p in s1}
    by_name = {p.name: p for p in [*s2, *s1]}

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(staging, 0o755)
        catalog.normalize_hrefs(staging.as_posix() + "/")
        catalog.save(pystac.CatalogType.SELF_CONTAINED, stac_io=_StableStacIO())
        items = list(catalog.get_items(recursive=True))
        for item in progress(items) if progress else items:
            patch = by_name[item.id]
            folder = Path(item.get_self_href() or "").parent
            for key, asset in item.assets.items():
                band = key if patch.sensor == "s2" else key.upper()
                write_cog(patch.tiffs[band], folder / Path(asset.href).name)
            log.debug("wrote %s", item.id)
        (staging / "LICENSE").write_text(license_text, encoding="utf-8")
        (staging / "README.md").write_text(readme_text(s2, s1_of), encoding="utf-8")
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote %d items to %s", len(s2) + len(s1), out)
    return out / "catalog.json"
