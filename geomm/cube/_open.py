"""Opening and verifying a finished cube store.

``open_cube`` refuses an incomplete store, and checks a complete one's
files against its chunk manifest cheaply (each is there, with the size
written): a missing chunk would otherwise read as fill values.
``verify_cube`` reads, checksums and decodes every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from geomm.cube._layout import STATUS, store_attrs
from geomm.cube._manifest import (
    VerifyReport,
    checksum_damage,
    decode_damage,
    describe,
    read_manifest,
    stat_damage,
)
from geomm.errors import CubeStoreError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_cube", "verify_cube"]


def open_cube(path: str | Path, *, allow_incomplete: bool = False) -> xr.Dataset:
    """Open a cube written by :func:`write_cube`, lazily, with its CRS.

    A complete store's files are checked against its chunk manifest
    cheaply (each is there, with the size written; :func:`verify_cube`
    checks the bytes): a missing chunk would otherwise read as fill values.

    Raises:
        CubeStoreError: no store at ``path``, or an incomplete one (finish
            it with ``write_cube(..., resume=True)``), or a damaged one
            (chunk files missing or truncated), unless ``allow_incomplete``.
    """
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise CubeStoreError(f"no Zarr cube at {str(path)!r}; build one with `geomm cube`")
    import rioxarray  # noqa: F401 - registers the .rio accessor users expect
    import xarray as xr

    ds: xr.Dataset = xr.open_zarr(path, decode_coords="all", consolidated=False, zarr_format=3)
    if allow_incomplete:
        return ds
    if ds.attrs.get(STATUS) != "complete":
        raise CubeStoreError(
            f"cube {str(path)!r} is incomplete (an interrupted run); finish it with "
            "write_cube(cube, path, resume=True), or open it with allow_incomplete=True"
        )
    manifest = read_manifest(path)
    if manifest is not None:
        damaged = stat_damage(path, manifest)
        if damaged:
            raise CubeStoreError(
                f"cube {str(path)!r} is damaged: {describe(damaged)}; repair it with "
                "write_cube(cube, path, resume=True) (the same cube: only the blocks holding "
                "these chunks are rewritten), or open it with allow_incomplete=True"
            )
    return ds


def verify_cube(path: str | Path) -> VerifyReport:
    """Check every file of a finished store against its chunk manifest.

    Each file listed when the store was completed is read and its CRC-32
    compared with the one recorded; each chunk is also decoded through
    Zarr (so a file damaged since is found whatever was changed in it).
    This reads the whole store; :func:`open_cube` only checks presence and
    sizes.

    Raises:
        CubeStoreError: no store, an incomplete one, or one written before
            geomm recorded manifests (nothing to verify against).
    """
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise CubeStoreError(f"no Zarr cube at {str(path)!r}; build one with `geomm cube`")
    if store_attrs(path).get(STATUS) != "complete":
        raise CubeStoreError(
            f"cube {str(path)!r} is incomplete (an interrupted run); finish it with "
            "write_cube(cube, path, resume=True) before verifying it"
        )
    manifest = read_manifest(path)
    if manifest is None:
        raise CubeStoreError(
            f"cube {str(path)!r} has no chunk manifest (an older geomm wrote it), so it "
            "cannot be verified; rebuild it with overwrite=True"
        )
    damaged = checksum_damage(path, manifest)
    bad = {d.key for d in damaged}
    damaged += decode_damage(path, [k for k in manifest if k not in bad])
    return VerifyReport(path, len(manifest), tuple(sorted(damaged, key=lambda d: d.key)))
