"""Single-file outputs (item lists, quicklooks, reports): replace only geomm's own.

A command told to write ``--out x.png`` may replace a quicklook it wrote
there yesterday, but never the user's photo of the same name. Each such file
carries a short signature near its start (``SIGNATURE``, in a JSON field, a
PNG ``Software`` text chunk or a Markdown comment), and
:func:`check_replaceable` reads the first bytes of an existing file for it
before anything is written. Stores (cubes, tables) have their own markers
(``geomm.cube._store``, ``geomm.embed._run``); this is the rule for plain files.
"""

from __future__ import annotations

import re
from pathlib import Path

from geomm.errors import ForeignFileError, UnsafeTargetError

__all__ = ["SIGNATURE", "check_replaceable", "refuse_url"]

SIGNATURE = "written by geomm"
"""The words every single-file output of geomm holds in its first bytes."""

_HEAD = 64 * 1024
"""How much of an existing file is read for the signature (PNG text chunks come
before the image data; a JSON field or comment sits in the first lines)."""


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:/")
"""``s3://...``, ``gs://...``, ``https://...``, also as ``Path`` leaves them (``s3:/...``)."""


def refuse_url(path: str | Path, *, what: str) -> None:
    """Raise when an output path is a URL: outputs are local paths for now.

    ``Path("s3://bucket/c.zarr")`` is the local folder ``s3:/bucket/c.zarr``;
    writing there would look like success and put nothing in the bucket.

    Raises:
        UnsafeTargetError: ``path`` names a scheme (``s3://``, ``gs://``, ``https://``...).
    """
    if _URL.match(str(path)) and not Path(str(path)).exists():
        raise UnsafeTargetError(
            f"{str(path)!r} is a URL; the {what} is written to a local path (object-store "
            "outputs are not supported yet): give a local path, or a mounted bucket's"
        )


def check_replaceable(path: str | Path, *, what: str) -> Path:
    """Raise unless ``path`` may be written: absent, or a file geomm wrote.

    Args:
        path: the output file about to be (re)written.
        what: what geomm writes there ("item list", "quicklook"), for the message.

    Raises:
        ForeignFileError: ``path`` is a folder, or a file without geomm's signature.
        UnsafeTargetError: ``path`` is a URL.
    """
    refuse_url(path, what=what)
    path = Path(path)
    if path.is_dir():
        raise ForeignFileError(
            f"{str(path)!r} is a folder; the {what} is a file: give a file path inside it"
        )
    if not path.exists():
        return path
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError as e:
        raise ForeignFileError(
            f"{str(path)!r} exists and cannot be read ({e.strerror}), so geomm cannot tell "
            f"whether it wrote it; choose another path for the {what}"
        ) from e
    if SIGNATURE.encode() not in head:
        raise ForeignFileError(
            f"{str(path)!r} exists and was not written by geomm; geomm replaces only its own "
            f"files: choose another path for the {what}, or move that file away"
        )
    return path
