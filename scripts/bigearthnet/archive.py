"""Reading the BigEarthNet example archives shipped in the ``bigearthnet-common`` wheel.

The wheel (2.8.0, Apache-2.0) carries ``BigEarthNet-S2-Example.tar.bz2`` and
``BigEarthNet-S1-Example.tar.bz2``. They are located through the
distribution's metadata (:mod:`importlib.metadata`); the package itself is
never imported, because importing it creates directories in the user's home.
Each archive is read whole into memory, checked against the sha256 pinned
below, and unpacked into :class:`BigEarthNetPatch` records; :func:`write_cog`
rewrites one band as a Cloud-Optimized GeoTIFF with the same pixels.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import rasterio
from rasterio.io import MemoryFile

from geomm.errors import SampleDataError
from geomm.stac import S1_BANDS, S2_BANDS

__all__ = [
    "ARCHIVES",
    "ARCHIVE_SHA256",
    "DIST_NAME",
    "DIST_VERSION",
    "INSTALL_HINT",
    "LICENSE_SHA256",
    "S1_POLARIZATIONS",
    "S2_BANDS",
    "WHEEL_NAME",
    "WHEEL_SHA256",
    "BigEarthNetPatch",
    "Sensor",
    "locate_archive",
    "read_license",
    "read_patches",
    "write_cog",
]

Sensor = Literal["s1", "s2"]

DIST_NAME = "bigearthnet-common"
DIST_VERSION = "2.8.0"
INSTALL_HINT = f"pip install {DIST_NAME}=={DIST_VERSION}"
WHEEL_NAME = "bigearthnet_common-2.8.0-py3-none-any.whl"
WHEEL_SHA256 = "6c2bcf2b1d39a3f48925b0d941557152f9e523576fbb9d2b881a842ed92fd6af"
"""sha256 of the wheel file this catalog was built from (recorded, not checked)."""

ARCHIVES: Mapping[Sensor, str] = {
    "s2": "bigearthnet_common/BigEarthNet-S2-Example.tar.bz2",
    "s1": "bigearthnet_common/BigEarthNet-S1-Example.tar.bz2",
}
ARCHIVE_SHA256: Mapping[Sensor, str] = {
    "s2": "faa13e52868bda950c5255e15b7a6504ae827e637b8376dc10e09aae0c068537",
    "s1": "ac0d32fea2dbd14881d1e78632cba46dcefc8e52acb22e6484790ac93f0da663",
}
"""sha256 of each archive as listed in the RECORD of bigearthnet-common 2.8.0."""
LICENSE_SHA256 = "5217eec6a03f68b9c4fc6bae972e34b2decd502521bb49e94bf8e03fdbd7aacc"

S1_POLARIZATIONS = S1_BANDS

_TIF = re.compile(r"^(?P<patch>.+)_(?P<band>B\d\d|B8A|VV|VH)\.tif$")
_META = re.compile(r"^(?P<patch>.+)_labels_metadata\.json$")


@dataclass(frozen=True)
class BigEarthNetPatch:
    """One BigEarthNet patch exactly as it is stored in the wheel's archive."""

    name: str
    """Patch id, e.g. ``S2A_MSIL2A_20170613T101031_87_48``; becomes the STAC item id."""
    sensor: Sensor
    """``"s2"`` or ``"s1"``."""
    metadata: Mapping[str, Any]
    """The parsed ``<name>_labels_metadata.json``."""
    tiffs: Mapping[str, bytes]
    """Original GeoTIFF bytes by band: ``B01`` .. ``B12`` or ``VV``/``VH``."""

    def __post_init__(self) -> None:
        wanted = set(S2_BANDS if self.sensor == "s2" else S1_POLARIZATIONS)
        if set(self.tiffs) != wanted:
            raise SampleDataError(
                f"BigEarthNet patch {self.name!r} has bands {sorted(self.tiffs)}, "
                f"expected {sorted(wanted)}; reinstall with {INSTALL_HINT}"
            )


# --------------------------------------------------------------------------- locating


def locate_archive(sensor: Sensor) -> Path:
    """Find one example archive inside the installed ``bigearthnet-common`` wheel.

    The package is located through its distribution metadata and never
    imported.

    Args:
        sensor: ``"s2"`` or ``"s1"``.

    Returns:
        Path of ``BigEarthNet-S2-Example.tar.bz2`` or ``BigEarthNet-S1-Example.tar.bz2``.

    Raises:
        SampleDataError: the distribution or the archive is missing.

    """
    if sensor not in ARCHIVES:
        raise ValueError(f"sensor must be 's1' or 's2', got {sensor!r}")
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError as e:
        raise SampleDataError(
            f"the BigEarthNet example archives come from the {DIST_NAME!r} wheel, "
            f"which is not installed; run `{INSTALL_HINT}`"
        ) from e
    path = Path(str(dist.locate_file(ARCHIVES[sensor])))
    if not path.is_file():
        raise SampleDataError(
            f"{DIST_NAME} {dist.version} is installed but has no {ARCHIVES[sensor]} "
            f"(looked at {path}); run `{INSTALL_HINT}`"
        )
    return path


def read_license() -> str:
    """Return the LICENSE text shipped in the ``bigearthnet-common`` wheel.

    Raises:
        SampleDataError: the distribution or its license file is missing or differs
            from the one in version 2.8.0.

    """
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError as e:
        raise SampleDataError(f"{DIST_NAME!r} is not installed; run `{INSTALL_HINT}`") from e
    text = dist.read_text("license_files/LICENSE")
    if text is None:
        raise SampleDataError(f"{DIST_NAME} {dist.version} ships no LICENSE; run `{INSTALL_HINT}`")
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != LICENSE_SHA256:
        raise SampleDataError(
            f"{DIST_NAME} LICENSE has sha256 {digest}, expected {LICENSE_SHA256} "
            f"(version {DIST_VERSION}); run `{INSTALL_HINT}`"
        )
    return text


# --------------------------------------------------------------------------- reading


def read_patches(sensor: Sensor, *, archive: Path | None = None) -> list[BigEarthNetPatch]:
    """Read every patch of one example archive into memory.

    Args:
        sensor: ``"s2"`` or ``"s1"``.
        archive: the ``.tar.bz2`` to read; by default the one in the installed wheel.
            It must be byte-identical to the archive of bigearthnet-common 2.8.0.

    Returns:
        The patches, sorted by name.

    Raises:
        SampleDataError: the archive is missing, differs from the pinned one, or
            does not hold complete patches.

    """
    path = locate_archive(sensor) if archive is None else Path(archive)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise SampleDataError(f"cannot read {path}: {e}; run `{INSTALL_HINT}`") from e
    digest = hashlib.sha256(blob).hexdigest()
    if digest != ARCHIVE_SHA256[sensor]:
        raise SampleDataError(
            f"{path} has sha256 {digest}, expected {ARCHIVE_SHA256[sensor]} "
            f"({DIST_NAME} {DIST_VERSION}); run `{INSTALL_HINT}`"
        )
    metas: dict[str, Mapping[str, Any]] = {}
    tiffs: dict[str, dict[str, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:bz2") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            base = member.name.rsplit("/", 1)[-1]
            handle = tar.extractfile(member)
            if handle is None:  # pragma: no cover - isfile() members always extract
                continue
            if m := _META.match(base):
                metas[m["patch"]] = json.loads(handle.read())
            elif m := _TIF.match(base):
                tiffs.setdefault(m["patch"], {})[m["band"]] = handle.read()
    if not metas or set(metas) != set(tiffs):
        raise SampleDataError(
            f"{path}: metadata for {sorted(metas)} but rasters for {sorted(tiffs)}; "
            f"run `{INSTALL_HINT}`"
        )
    return [BigEarthNetPatch(n, sensor, metas[n], tiffs[n]) for n in sorted(metas)]


# --------------------------------------------------------------------------- writing COGs


def _blocksize(height: int, width: int) -> int:
    """Smallest power-of-two tile (128..512, the COG driver's range) holding the image."""
    size = 128
    while size < max(height, width) and size < 512:
        size *= 2
    return size


def write_cog(tiff: bytes, dst: str | Path) -> None:
    """Rewrite a single-band GeoTIFF as a Cloud-Optimized GeoTIFF with the same pixels.

    CRS, transform, data type and values are copied unchanged (no nodata is
    added). DEFLATE with the horizontal predictor for integers and the
    floating-point predictor for floats; BigEarthNet patches fit in one tile,
    so the COG has one tile and no overviews (larger inputs get 512 px tiles
    and GDAL's default overviews).

    Args:
        tiff: bytes of the source GeoTIFF.
        dst: path of the COG to write.

    """
    with MemoryFile(tiff) as mem, mem.open() as src:
        data = src.read()
        block = _blocksize(src.height, src.width)
        profile: dict[str, Any] = {
            "driver": "COG",
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs,
            "transform": src.transform,
            "nodata": src.nodata,
            "compress": "DEFLATE",
            "level": 9,
            "predictor": "3" if data.dtype.kind == "f" else "2",
            "blocksize": block,
            "overviews": "NONE" if max(src.height, src.width) <= block else "AUTO",
        }
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
