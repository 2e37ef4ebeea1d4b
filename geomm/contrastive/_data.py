"""Image-caption CSV datasets in the CleanCLIP reference format.

The reference format is a CSV with an ``image`` column (a path relative to
the CSV's folder, or absolute) and a ``caption`` column; other columns
(``label``, ``is_backdoor``) ride along. open_clip's convention, a
tab-separated file with ``filepath`` and ``title``, is read too: with no
keys given, the reader picks whichever pair the header has, and with no
delimiter it sniffs tab versus comma from the header line.

Reading checks every image path stays inside the CSV's folder (``..``,
absolute paths and symlinks resolved; ``allow_outside_root=True`` trusts the
CSV), exists and is an image, naming the row of the first bad one, so a
training run never dies an hour in on a bad path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from geomm.contrastive._errors import (
    CaptionCsvError,
    ImageOutsideRootError,
    MissingImagesError,
    UnknownLabelError,
)

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


def _not_utf8(path: Path, e: UnicodeDecodeError) -> CaptionCsvError:
    return CaptionCsvError(
        f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
        "save it as UTF-8 (a CSV of image paths and captions)"
    )


def _check_delimiter(sep: str) -> str:
    if sep == "\\t":  # typed literally on a command line
        return "\t"
    if len(sep) != 1 or sep in '\r\n"':
        raise CaptionCsvError(
            f"delimiter must be one character (',' or a tab, written '\\t'), got {sep!r}"
        )
    return sep


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
    allow_outside_root: bool = False,
) -> CaptionTable:
    """Read an image-caption CSV (reference or open_clip format).

    Image paths are checked before anything else happens with the table: a
    path that resolves outside the CSV's folder (``..``, absolute, a symlink)
    is refused unless ``allow_outside_root``; the CSV may come from anyone.

    Args:
        path: the CSV (or TSV) file, UTF-8.
        image_key: image-path column; default ``image``, else open_clip's ``filepath``.
        caption_key: caption column; default ``caption``, else open_clip's ``title``.
        delimiter: field separator; default: tab if the header has one, else comma.
        check_images: fail if any image file is missing or not an image.
        allow_outside_root: trust the CSV to name images outside its folder.

    Raises:
        CaptionCsvError: unreadable file (missing, not UTF-8, empty), a column
            missing, or an image that is not one (naming its row, 1 = first after
            the header).
        ImageOutsideRootError: an image outside the CSV's folder (naming its row).
        MissingImagesError: images named in the CSV are absent (first few listed).
    """
    csv_path = Path(path).expanduser().resolve()
    if not csv_path.is_file():
        raise CaptionCsvError(f"no such CSV file: {csv_path}")
    frame, sep = _read_frame(csv_path, delimiter)
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
            f"{sep!r}). Name the columns (image_key=..., caption_key=...), or give the right "
            "delimiter=..."
        )
    if len(frame) == 0:
        raise CaptionCsvError(f"{csv_path} has a header but no rows")
    table = CaptionTable(csv_path, frame, image_key, caption_key, sep)
    if not allow_outside_root:
        _check_inside(table)
    if check_images:
        _check_images(table)
    return table


def _read_frame(csv_path: Path, delimiter: str | None) -> tuple[pd.DataFrame, str]:
    """All rows as strings, and the delimiter used; one-line errors for unreadable text."""
    if csv_path.stat().st_size == 0:
        raise CaptionCsvError(f"{csv_path} is empty; a caption CSV starts with a header line")
    try:
        sep = _check_delimiter(delimiter) if delimiter is not None else _sniff_delimiter(csv_path)
        frame = pd.read_csv(csv_path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(csv_path, e) from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise CaptionCsvError(f"cannot parse {csv_path} with delimiter {sep!r}: {e}") from e
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("Unnamed: ")]]
    return frame, sep


def _check_inside(table: CaptionTable) -> None:
    """Every image path resolves (symlinks, ``..``) under the CSV's folder."""
    root = table.root.resolve()
    for row, (raw, p) in enumerate(
        zip(table.frame[table.image_key], table.image_paths, strict=True), 1
    ):
        resolved = p.resolve()
        if not resolved.is_relative_to(root):
            raise ImageOutsideRootError(str(table.csv_path), row, str(raw), str(resolved))


def _check_images(table: CaptionTable) -> None:
    """Every image exists and PIL recognises it (its header only: cheap)."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    paths = table.image_paths
    missing = [f"row {r} {p}" for r, p in enumerate(paths, 1) if not p.exists()]
    if missing:
        raise MissingImagesError(str(table.csv_path), missing, len(paths))
    for row, p in enumerate(paths, 1):
        try:
            with PILImage.open(p) as im:
                im.size  # noqa: B018 - the header is parsed on open; touch it anyway
        except (UnidentifiedImageError, OSError, ValueError) as e:
            reason = "a folder" if p.is_dir() else type(e).__name__
            raise CaptionCsvError(
                f"{table.csv_path}, row {row}: {p} is not an image ({reason}); fix the path "
                "or remove the row"
            ) from e


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
