"""Where geomm's data files live, installed or in a source checkout."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "catalogs_dir", "offline"]

_PACKAGE = Path(__file__).resolve().parent


def catalogs_dir() -> Path:
    """The ``catalogs/`` folder: provider profiles and the sample catalog.

    A wheel carries it as ``geomm/catalogs``; an editable install or a source
    checkout has it at the top of the repository.
    """
    for candidate in (_PACKAGE / "catalogs", _PACKAGE.parent / "catalogs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"geomm's catalogs/ folder is missing (looked in {_PACKAGE} and its parent); "
        "reinstall geomm"
    )


def cache_dir() -> Path:
    """Root of geomm's cache (generated sample data, downloads).

    ``$GEOMM_CACHE_DIR`` wins, then ``$XDG_CACHE_HOME/geomm``, then
    ``~/.cache/geomm``. The folder is not created here.
    """
    if env := os.environ.get("GEOMM_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "geomm"


def offline() -> bool:
    """``GEOMM_OFFLINE=1``: never download model weights (air-gapped machines, CI, tests).

    Searches of STAC APIs the user names still go out; only the implicit
    downloads (published weights) are refused, with a message saying where
    the file is expected.
    """
    return os.environ.get("GEOMM_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")
