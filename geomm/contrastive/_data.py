"""Image-caption CSV datasets in the CleanCLIP reference format.

The reference format is a CSV with an ``image`` column (a path relative to
the CSV's folder, or absolute) and a ``caption`` column; other columns
(``label``, ``is_backdoor``) ride along. open_clip's convention, a
tab-separated file with ``filepath`` and ``title``, is read too: with no
keys given, the reader picks whichever pair the header has, and with no
delimiter it sniffs tab versus comma from the header line.

Reading checks every image exists and lists the first few missing ones, so
a training run never dies an hour in on a bad path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from geomm.contrastive._errors import CaptionCsvError, MissingImagesError, UnknownLabelError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "CaptionTable",
    "ImageStore",
    "read_caption_csv",
    "resolve_labels",
]

_KEY_PAIRS = (("image", "caption"), ("filepath", "title"))


def _sniff_delimiter(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline()
    return "\t" if "\t" in header else ","


@dataclass(frozen=True)
class CaptionTable:
    """An image-caption CSV read into memory (paths resolved, images checked)."""

    csv_path: Path
    """The CSV file read."""
    frame: pd.DataFrame
    """All its rows and columns, as read (strings)."""
    image_key: str
    """Column holding image paths."""
    caption_key: str
    """Column holding captions."""
    delimiter: str
    """Field separator used."""

    @property
    def root(self) -> Path:
        """Folder that relative image paths start from (the CSV's folder)."""
        return self.csv_path.parent

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def captions(self) -> list[str]:
        """Captions, in row order."""
        return [str(c) for c in self.frame[self.caption_key]]

    @property
    def image_paths(self) -> list[Path]:
        """Absolute image paths, in row order."""
        return [self.root / str(p) for p in self.frame[self.image_key]]

    def column(self, key: str) -> list[str]:
        """Values of a column, or a clear error naming the columns there are."""
        if key not in self.frame.columns:
            raise CaptionCsvError(
                f"{self.csv_path} has no {key!r} column (columns: {list(self.frame.columns)}); "
                f"add it or name the right one"
            )
        return [str(v) for v in self.frame[key]]

    @property
    def is_backdoor(self) -> list[bool]:
        """The ``is_backdoor`` column as booleans (all False when absent)."""
        if "is_backdoor" not in self.frame.columns:
            return [False] * len(self)
        return [str(v).strip().lower() in ("1", "true", "yes") for v in self.frame["is_backdoor"]]


def read_caption_csv(
    path: str | os.PathLike[str],
    *,
    image_key: str | None = None,
    caption_key: str | None = None,
    delimiter: str | None = None,
    check_images: bool = True,
) -> CaptionTable:
    """Read an image-caption CSV (reference or open_clip format).

    Args:
        path: the CSV (or TSV) file.
        image_key: image-path column; default ``image``, else open_clip's ``filepath``.
        caption_key: caption column; default ``caption``, else open_clip's ``title``.
        delimiter: field separator; default: tab if the header has one, else comma.
        check_images: fail if any image file is missing.

    Raises:
        CaptionCsvError: unreadable file, or a column missing.
        MissingImagesError: images named in the CSV are absent (first few listed).
    """
    csv_path = Path(path).expanduser().resolve()
    if not csv_path.is_file():
        raise CaptionCsvError(f"no such CSV file: {csv_path}")
    sep = delimiter if delimiter is not None else _sniff_delimiter(csv_path)
    if sep == "\\t":  # typed literally on a command line
        sep = "\t"
    try:
        frame = pd.read_csv(csv_path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise CaptionCsvError(f"cannot parse {csv_path} with delimiter {sep!r}: {e}") from e
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("Unnamed: ")]]
    columns = list(frame.columns)
    if image_key is None and caption_key is None:
        pair = next((p for p in _KEY_PAIRS if set(p) <= set(columns)), _KEY_PAIRS[0])
        image_key, caption_key = pair
    image_key = image_key or "image"
    caption_key = caption_key or "caption"
    missing_cols = [k for k in (image_key, caption_key) if k not in columns]
    if missing_cols:
        raise CaptionCsvError(
            f"{csv_path} lacks column(s) {missing_cols}; it has {columns} (delimiter "
            f"{sep!r}). Name the columns with --image-key/--caption-key, or fix --delimiter"
        )
    if len(frame) == 0:
        raise CaptionCsvError(f"{csv_path} has a header but no rows")
    table = CaptionTable(csv_path, frame, image_key, caption_key, sep)
    if check_images:
        paths = table.image_paths
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise MissingImagesError(str(csv_path), missing, len(paths))
    return table


def resolve_labels(
    labels: Sequence[str], classes: Sequence[str], *, what: str = "label(s)"
) -> list[int]:
    """Class indices of labels given as class names or as integer indices.

    Raises:
        UnknownLabelError: a label is neither a class name nor an index in range.
    """
    index = {c: i for i, c in enumerate(classes)}
    names = [str(v).strip() for v in labels]
    if all(n in index for n in names):
        return [index[n] for n in names]
    if all(n.lstrip("-").isdigit() for n in names):
        ints = [int(n) for n in names]
        bad = sorted({n for n in ints if not 0 <= n < len(classes)})
        if not bad:
            return ints
        raise UnknownLabelError(what, [str(b) for b in bad], classes)
    bad_names = sorted({n for n in names if n not in index})
    raise UnknownLabelError(what, bad_names, classes)


class ImageStore:
    """Decoded RGB images of a table, loaded on demand and kept up to a memory budget.

    Small sets (the 32 px digits) stay in memory after the first read, so
    epochs cost no decoding; once ``cache_bytes`` of pixels are held, further
    images are read from disk each time.
    """

    def __init__(self, paths: Sequence[Path], *, cache_bytes: int = 1 << 30):
        self.paths = list(paths)
        self.cache_bytes = cache_bytes
        self._images: dict[int, Image.Image] = {}
        self._held = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Image.Image:
        if i in self._images:
            return self._images[i]
        from PIL import Image as PILImage

        with PILImage.open(self.paths[i]) as im:
            image = im.convert("RGB")
        size = image.width * image.height * 3
        if self._held + size <= self.cache_bytes:
            self._images[i] = image
            self._held += size
        return image
