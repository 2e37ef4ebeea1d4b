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

from geomm.errors import (
    CaptionCsvError,
    CheckpointError,
    ContrastiveConfigError,
    ContrastiveError,
    ImageOutsideRootError,
    MissingImagesError,
    UnknownLabelError,
)

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
