"""Which pip extra installs which optional module, and the error that says so.

``pip install geomm`` brings the cube pipeline only; models, tables and the
contrastive module need extras (``pyproject.toml``). A missing module must
name the extra to install, not surface as a bare ``ModuleNotFoundError``:
geomm's own lazy imports go through :func:`requires_extra`, and the CLI maps
any ``ModuleNotFoundError`` of a module in :data:`EXTRAS` to the same line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from geomm.errors import MissingExtraError

__all__ = ["EXTRAS", "extra_for", "missing_extra", "requires_extra"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("models", "contrastive"),
    "torchvision": ("models", "contrastive"),
    "torchgeo": ("models",),
    "einops": ("models",),
    "requests": ("models",),
    "pyarrow": ("models",),
    "geopandas": ("models",),
    "open_clip": ("contrastive",),
    "sklearn": ("contrastive",),
    "planetary_computer": ("planetary-computer",),
}
"""Top-level optional module -> the extras that install it (the usual one first)."""


def extra_for(module: str | None, *, prefer: str | None = None) -> str | None:
    """The extra that installs ``module`` (a dotted name is fine), or None if it is no extra's.

    ``prefer`` picks among several extras that install the module (torch is
    in ``models`` and ``contrastive``): the one of the feature being used.
    """
    if not module:
        return None
    extras = EXTRAS.get(module.split(".")[0])
    if not extras:
        return None
    return prefer if prefer in extras else extras[0]


def missing_extra(module: str, extra: str, *, feature: str | None = None) -> MissingExtraError:
    """The one-line error for ``module`` missing, naming ``pip install 'geomm[extra]'``."""
    top = module.split(".")[0]
    what = f"{feature} needs" if feature else "this needs"
    return MissingExtraError(
        f"{what} the optional package {top!r}, which is not installed; "
        f"install it with: pip install 'geomm[{extra}]'",
        name=top,
    )


@contextlib.contextmanager
def requires_extra(extra: str, *, feature: str | None = None) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` of an optional module into a :class:`MissingExtraError`.

    Modules that are not optional (no entry in :data:`EXTRAS`) propagate
    unchanged: their absence is a broken installation, not a missing extra.
    """
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as e:
        found = extra_for(e.name, prefer=extra)
        if found is None:
            raise
        raise missing_extra(e.name or "", found, feature=feature) from e
