"""What lies in and beside a cube store, and the rules for touching it.

A store ``<name>.zarr`` has, beside it, the folder of per-block completion
markers ``<name>.zarr.progress/`` while it is unfinished, and, while its
skeleton is being set up, the hidden folder ``.<name>.zarr.geomm-setup``.
Inside, the root attributes say whether it is finished (``geomm_status``)
and which cube it holds (``geomm_fingerprint``), and the marker group
``geomm/`` says geomm made it. Only a store that is geomm's is ever
replaced or repaired; a folder under a hidden or marker name that geomm did
not make is left as it is (docs/reliability.md).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from geomm.cube._manifest import MARKER, read_json
from geomm.errors import CubeStoreError

__all__ = [
    "FINGERPRINT",
    "MARKER_KIND",
    "STATUS",
    "clear_markers",
    "is_geomm_store",
    "occupied",
    "progress_dir",
    "remove_leftover_setup",
    "remove_store",
    "setup_dir",
    "store_attrs",
]

STATUS = "geomm_status"
"""Root attribute: ``"incomplete"`` until the last block is written, then ``"complete"``."""
FINGERPRINT = "geomm_fingerprint"
"""Root attribute: the hash of what defines the cube (a resume must match it)."""
MARKER_KIND = "geomm-cube"
"""``geomm_marker`` attribute of the marker group of a cube store."""
_PROGRESS_SUFFIX = ".progress"
_SETUP_SUFFIX = ".geomm-setup"
_BLOCK_NAME = re.compile(r"y\d{6}-\d{6}_x\d{6}-\d{6}")
"""A block marker's name (its pixel extent): only such files are removed with the markers."""


def progress_dir(path: str | Path) -> Path:
    """Folder of per-block completion markers of an unfinished store."""
    path = Path(path)
    return path.with_name(path.name + _PROGRESS_SUFFIX)


def setup_dir(path: Path) -> Path:
    """The hidden sibling folder a store's skeleton is written in before its rename."""
    return path.with_name(f".{path.name}{_SETUP_SUFFIX}")


def store_attrs(path: Path) -> dict[str, Any]:
    """The root attributes of the store at ``path`` ({} when unreadable)."""
    attrs = (read_json(path / "zarr.json") or {}).get("attributes", {})
    return attrs if isinstance(attrs, dict) else {}


def occupied(path: Path) -> bool:
    """Whether something is at ``path`` (an empty folder counts as nothing: no loss)."""
    if path.is_dir() and not path.is_symlink():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


def is_geomm_store(path: Path) -> bool:
    """Whether ``path`` carries geomm's marker group, or (older stores) both geomm attributes."""
    if not path.is_dir() or path.is_symlink():
        return False
    marker = read_json(path / MARKER / "zarr.json") or {}
    if marker.get("attributes", {}).get("geomm_marker") == MARKER_KIND:
        return True
    attrs = store_attrs(path)
    return STATUS in attrs and FINGERPRINT in attrs


def clear_markers(path: Path) -> None:
    """Remove the store's progress folder, if it holds nothing but block markers."""
    markers = progress_dir(path)
    if markers.is_dir() and all(_BLOCK_NAME.fullmatch(p.name) for p in markers.iterdir()):
        shutil.rmtree(markers)


def remove_store(path: Path) -> None:
    """Delete the geomm store at ``path`` and its progress markers; refuse anything else."""
    if not is_geomm_store(path):
        raise CubeStoreError(
            f"{str(path)!r} exists and was not made by geomm (it has no geomm cube marker); "
            "overwrite=True replaces only a cube store geomm wrote: choose another path, or "
            "move it away yourself"
        )
    shutil.rmtree(path)
    clear_markers(path)


def remove_leftover_setup(setup: Path) -> None:
    """Delete a skeleton a killed setup left, after checking it is geomm's.

    xarray writes the skeleton's root ``zarr.json`` first as an empty group and
    at once again with the cube's ``geomm_*`` attributes: so a leftover is
    either marked as geomm's, or nothing but that empty group (or nothing at
    all). Anything else under that hidden name is not removed.
    """
    entries = sorted(p.name for p in setup.iterdir()) if setup.is_dir() else None
    empty_group = entries == ["zarr.json"] and (read_json(setup / "zarr.json") or {}).get(
        "attributes", {}
    ) in ({}, None)
    if entries == [] or empty_group or is_geomm_store(setup):
        shutil.rmtree(setup)
        return
    raise CubeStoreError(
        f"{str(setup)!r} is in the way of the store's setup and geomm did not make it; "
        "move it away yourself"
    )
