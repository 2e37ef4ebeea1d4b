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

from pathlib import Path

from geomm.errors import ForeignFileError

__all__ = ["SIGNATURE", "check_replaceable"]

SIGNATURE = "written by geomm"
"""The words every single-file output of geomm holds in its first bytes."""

_HEAD = 64 * 1024
"""How much of an existing file is read for the signature (PNG text chunks come
before the image data; a JSON field or comment sits in the first lines)."""


def check_replaceable(path: str | Path, *, what: str) -> Path:
    """Raise unless ``path`` may be written: absent, or a file geomm wrote.

    Args:
        path: the output file about to be (re)written.
        what: what geomm writes there ("item list", "quicklook"), for the message.

    Raises:
        ForeignFileError: ``path`` is a folder, or a file without geomm's signature.
    """
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
