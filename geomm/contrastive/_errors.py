"""Errors of :mod:`geomm.contrastive`, rooted at :class:`geomm.errors.GeommError`.

Each also derives from the builtin it resembles, so callers may catch either;
messages give the rule, the offending value and the fix. The CLI prints them
as one line.

::

    GeommError
    └── ContrastiveError
        ├── CaptionCsvError (ValueError)          CSV unreadable, a column or image bad
        │   └── ImageOutsideRootError             an image path leaves the CSV's folder
        ├── MissingImagesError (FileNotFoundError) images named by a CSV are absent
        ├── UnknownLabelError (ValueError)        target/label not among the classes
        ├── ContrastiveConfigError (ValueError)   invalid recipe, attack or model option
        └── CheckpointError (ValueError)          checkpoint missing, corrupt or mismatched
"""

from __future__ import annotations

from collections.abc import Sequence

from geomm.errors import GeommError

__all__ = [
    "CaptionCsvError",
    "CheckpointError",
    "ContrastiveConfigError",
    "ContrastiveError",
    "ImageOutsideRootError",
    "MissingImagesError",
    "UnknownLabelError",
    "check_seed",
]

SEED_MAX = 2**32 - 1
"""Largest seed: every generator geomm seeds (torch, random, numpy) takes it, with room
for the per-epoch seeds derived from it."""


class ContrastiveError(GeommError):
    """Root of the errors raised by :mod:`geomm.contrastive`."""


class CaptionCsvError(ContrastiveError, ValueError):
    """An image-caption CSV cannot be read or lacks a required column."""


class ImageOutsideRootError(CaptionCsvError):
    """A CSV names an image outside its own folder (``..``, an absolute path, a symlink).

    A caption CSV is a listing that may come from anyone; like a local catalog
    it may only name files under its folder unless the user trusts it
    (``allow_outside_root=True``; ``--allow-outside-catalog`` on the command line).
    """

    def __init__(self, csv_path: str, row: int, image: str, resolved: str):
        super().__init__(
            f"{csv_path}, row {row}: image {image!r} resolves to {resolved}, outside the CSV's "
            f"folder; image paths must stay inside it: move the images under that folder, or "
            f"pass allow_outside_root=True if you trust this CSV"
        )
        self.csv_path, self.row, self.image, self.resolved = csv_path, row, image, resolved

    def __reduce__(self):  # noqa: ANN204 - picklable across processes
        return (type(self), (self.csv_path, self.row, self.image, self.resolved))


class MissingImagesError(ContrastiveError, FileNotFoundError):
    """Image files named by a CSV do not exist (lists the first few)."""

    def __init__(self, csv_path: str, missing: Sequence[str], total: int, *, shown: int = 5):
        first = ", ".join(missing[:shown])
        more = f" (and {len(missing) - shown} more)" if len(missing) > shown else ""
        super().__init__(
            f"{len(missing)} of {total} images named in {csv_path} do not exist: {first}{more}. "
            "Image paths are read relative to the CSV's folder; fix the paths or the "
            "image column (--image-key), or restore the files"
        )
        self.csv_path = csv_path
        self.missing = tuple(missing)
        self.total = total

    def __reduce__(self):  # noqa: ANN204 - picklable across processes
        return (type(self), (self.csv_path, self.missing, self.total))


class UnknownLabelError(ContrastiveError, ValueError):
    """A target or test label is not one of the known classes."""

    def __init__(self, what: str, labels: Sequence[str], classes: Sequence[str]):
        shown = ", ".join(repr(x) for x in list(labels)[:5])
        known = ", ".join(repr(c) for c in list(classes)[:20])
        more = " ..." if len(classes) > 20 else ""
        super().__init__(
            f"{what} {shown} not among the {len(classes)} classes ({known}{more}); "
            "use one of them, or pass the right class list (--classes)"
        )
        self.what = what
        self.labels = tuple(labels)
        self.classes = tuple(classes)

    def __reduce__(self):  # noqa: ANN204 - picklable across processes
        return (type(self), (self.what, self.labels, self.classes))


class ContrastiveConfigError(ContrastiveError, ValueError):
    """A recipe, attack, model or data option has an invalid value."""


class CheckpointError(ContrastiveError, ValueError):
    """A checkpoint is missing, unreadable, or does not match the run."""


def check_seed(name: str, value: int) -> int:
    """``value`` if it is a seed every generator takes (0 to :data:`SEED_MAX`).

    Checked where a seed is given, so a run never starts with one that torch
    would refuse (an overflow) part-way through.

    Raises:
        ContrastiveConfigError: naming ``name``, the value and the range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ContrastiveConfigError(
            f"{name} must be an integer from 0 to {SEED_MAX}, got {value!r}"
        )
    return value
