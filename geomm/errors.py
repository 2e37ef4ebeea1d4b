"""The one error hierarchy of geomm.

Every error a user can cause derives from :class:`GeommError` and from the
builtin it resembles, so callers may catch either. Messages state the rule,
the offending value and the fix; the CLI prints them as one line.

::

    GeommError
    ├── AoiError (ValueError)            bad or unusable AOI GeoJSON
    ├── OptionError (ValueError)         an option outside its range or choices
    ├── CatalogError (ValueError)        unknown provider, unreadable catalog
    │   ├── UntrustedHrefError           an asset href its catalog may not choose
    │   └── UntrustedStorageError        an S3 endpoint item metadata may not choose
    ├── ProfileError (ValueError)        item that a provider profile cannot map
    │   └── NotGeocodedError             S1 scene without a CRS (GRD)
    ├── SearchError (RuntimeError)       a STAC API request failed
    ├── EmptyResultError (LookupError)   a search found no scenes
    ├── AssetReadError (OSError)         a scene's asset is missing or unreadable
    ├── SampleDataError (RuntimeError)   bundled sample data missing or corrupt
    ├── ModelNotFoundError (KeyError)    no installed model of that name
    ├── ModelPluginError (TypeError)     an entry point that is not a model plugin
    ├── ModelInputError (ValueError)     arrays or options a model cannot take
    ├── WeightsError (ValueError)        weights missing, corrupt or not fitting
    ├── SizeLimitError (ValueError)      a job larger than its max_size
    ├── SchedulerError (ConnectionError) a Dask scheduler unreachable or without workers
    ├── MissingExtraError (ModuleNotFoundError)  an optional dependency not installed
    ├── CubeStoreError (RuntimeError)    a store missing, incomplete, damaged or another cube's
    ├── StoreInUseError (RuntimeError)   another run holds the store's lease
    ├── UnsafeTargetError (ValueError)   a root, home or current folder as a store
    └── ForeignFileError (FileExistsError)  an output path holding what geomm did not write

    GeommWarning (UserWarning)
    └── CrsAreaWarning                   a cube CRS meant for an area far from the AOI

    GeommError (continued: the layers' own)
    ├── GridError (ValueError)           a cube grid that cannot be built (geomm.cube)
    ├── CompositeError (ValueError)      composite parameters that do not fit (geomm.cube)
    ├── QuicklookError (ValueError)      a quicklook of a time or band the cube lacks
    ├── ChipError (ValueError)           chips that cannot be cut from a cube (geomm.chips)
    ├── EmbedError (ValueError)          an embedding run that cannot start or go on
    ├── TableError (ValueError)          rows or parts that make no valid embedding table
    └── ContrastiveError                 geomm.contrastive
        ├── CaptionCsvError (ValueError)         an unreadable caption CSV
        │   └── ImageOutsideRootError            a CSV image outside the CSV's folder
        ├── MissingImagesError (FileNotFoundError)  images a CSV names that do not exist
        ├── UnknownLabelError (ValueError)       a label that is not one of the classes
        ├── ContrastiveConfigError (ValueError)  a recipe, attack or data option out of range
        └── CheckpointError (ValueError)         a checkpoint missing or not of this run

docs/errors.md lists each error with when it happens and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from geomm._redact import redact_text, redact_url

__all__ = [
    "AoiError",
    "AssetReadError",
    "CatalogError",
    "EmptyResultError",
    "GeommError",
    "NotGeocodedError",
    "OptionError",
    "ProfileError",
    "SampleDataError",
    "SearchError",
    "UntrustedHrefError",
    "UntrustedStorageError",
]


class GeommError(Exception):
    """Root of all errors geomm raises on purpose."""


class AoiError(GeommError, ValueError):
    """The area of interest cannot be read or used."""


class OptionError(GeommError, ValueError):
    """An option (a configuration field or a command-line flag) is out of range.

    Raised where the option is checked, when it is given, so a run never
    starts with it: the message names the option, the value and what it takes.
    """


class CatalogError(GeommError, ValueError):
    """The catalog named by the user cannot be resolved or opened."""


class UntrustedHrefError(CatalogError):
    """An item's asset href is one its catalog may not choose.

    A local file from a STAC API, a file outside a local catalog's folder, a
    GDAL ``/vsi...`` path (see ``geomm.stac._hrefs``).
    """


class UntrustedStorageError(CatalogError):
    """An item names S3 storage that signed requests may not go to.

    Plain HTTP, or a host neither its provider profile nor the user trusts
    (see ``geomm.stac._storage``).
    """


class ProfileError(GeommError, ValueError):
    """An item does not carry what its provider profile needs."""


class NotGeocodedError(ProfileError):
    """A Sentinel-1 product without a map projection was asked for."""

    def __init__(self, item_id: str, collection: str | None = None):
        where = f" in collection {collection!r}" if collection else ""
        super().__init__(
            f"S1 item {item_id!r}{where} is not geocoded (GRD in radar geometry, no CRS); "
            "use a terrain-corrected collection such as planetary-computer's 'sentinel-1-rtc'"
        )
        self.item_id = item_id
        self.collection = collection

    def __reduce__(self):
        return (type(self), (self.item_id, self.collection))


class SearchError(GeommError, RuntimeError):
    """A STAC API could not be searched."""


class EmptyResultError(GeommError, LookupError):
    """A search matched no scenes."""


class AssetReadError(GeommError, OSError):
    """An asset of a scene could not be opened or decoded."""

    def __init__(self, item_id: str, band: str, href: str, reason: str, hint: str | None = None):
        hint = hint or (
            "The file is missing, corrupt or unreachable: fix or re-download it (or drop the "
            "item from the catalog), then rerun with --resume; finished blocks are kept"
        )
        href, reason = redact_url(href), redact_text(reason)  # signed hrefs carry SAS tokens
        super().__init__(f"cannot read band {band} of item {item_id!r} ({href}): {reason}. {hint}")
        self.item_id = item_id
        self.band = band
        self.href = href
        """The asset's href, its credentials redacted."""
        self.reason = reason
        self.hint = hint

    def __reduce__(self):
        return (type(self), (self.item_id, self.band, self.href, self.reason, self.hint))


class SampleDataError(GeommError, RuntimeError):
    """The bundled sample catalog is missing or damaged."""


# --- geomm.models -----------------------------------------------------------
# ModelNotFoundError (KeyError), ModelPluginError (TypeError),
# ModelInputError (ValueError) and WeightsError (ValueError) extend the tree
# above for the embedding-model registry.

__all__ += ["ModelInputError", "ModelNotFoundError", "ModelPluginError", "WeightsError"]


class ModelNotFoundError(GeommError, KeyError):
    """No installed model plugin has the requested name."""

    def __init__(self, name: str, available: list[str] | tuple[str, ...]):
        listed = ", ".join(available) if available else "none"
        super().__init__(
            f"no embedding model named {name!r}; installed models: {listed}. "
            "Third-party models register in the 'geomm.models' entry-point group "
            "(`geomm models` lists them)"
        )
        self.name = name
        self.available = tuple(available)

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message, quoting it.
        return str(self.args[0])

    def __reduce__(self):
        return (type(self), (self.name, self.available))


class ModelPluginError(GeommError, TypeError):
    """An entry point in the ``geomm.models`` group does not load or is not a plugin."""


class ModelInputError(GeommError, ValueError):
    """Arrays or options that an embedding model cannot take (shape, dtype, names)."""


class WeightsError(GeommError, ValueError):
    """Model weights are missing, unreadable, corrupt or do not fit the model."""


# --- guards and environment -------------------------------------------------
# SizeLimitError (ValueError): a job's planned output is larger than allowed;
# SchedulerError (ConnectionError): a Dask scheduler unreachable or without
# workers; MissingExtraError (ModuleNotFoundError): an optional dependency of
# the feature asked for is not installed. GeommWarning is the root of
# geomm's warnings; CrsAreaWarning: a cube CRS whose area of use is far away.

__all__ += [
    "CrsAreaWarning",
    "GeommWarning",
    "MissingExtraError",
    "SchedulerError",
    "SizeLimitError",
]


class SizeLimitError(GeommError, ValueError):
    """A job would write more than the size limit it was given (``max_size``)."""

    def __init__(self, what: str, size: int, limit: int):
        super().__init__(
            f"{what} would be {_size_text(size)} uncompressed, above the limit "
            f"max_size={_size_text(limit)}; choose a smaller AOI or fewer dates, or run it on a "
            f"cluster (scheduler=ADDRESS) and raise the limit (max_size={_size_text(size * 2)}, "
            "or max_size=None for no limit)"
        )
        self.what = what
        self.size = size
        self.limit = limit

    def __reduce__(self):
        return (type(self), (self.what, self.size, self.limit))


def _size_text(nbytes: float) -> str:
    """``123456789012`` -> ``123.5 GB`` (decimal units, as disks are sold)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    step = 0
    while abs(nbytes) >= 1000 and step < len(units) - 1:
        nbytes /= 1000
        step += 1
    return f"{nbytes:.0f} B" if step == 0 else f"{nbytes:.1f} {units[step]}"


class SchedulerError(GeommError, ConnectionError):
    """The Dask scheduler named by the user cannot be reached or has no workers."""


class MissingExtraError(GeommError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the pip extra."""


class GeommWarning(UserWarning):
    """Root of the warnings geomm issues on purpose."""


class CrsAreaWarning(GeommWarning):
    """The cube CRS is valid but meant for an area far from the AOI (distorted pixels)."""


# --- outputs (geomm._lease, geomm._outputs) ---------------------------------
# StoreInUseError (RuntimeError), UnsafeTargetError (ValueError) and
# ForeignFileError (FileExistsError): one writer per store, folders no store
# may replace, and files geomm did not write.

__all__ += ["CubeStoreError", "ForeignFileError", "StoreInUseError", "UnsafeTargetError"]


class CubeStoreError(GeommError, RuntimeError):
    """A cube store is missing, incomplete, damaged, or belongs to another cube."""


class StoreInUseError(GeommError, RuntimeError):
    """Another run holds the lease of a store (or a dead run's lease is in the way)."""


class UnsafeTargetError(GeommError, ValueError):
    """An output path is a folder geomm must never replace (root, home, current folder)."""


class ForeignFileError(GeommError, FileExistsError):
    """An output file path holds a folder or a file geomm did not write."""


# --- geomm.cube --------------------------------------------------------

__all__ += ["CompositeError", "GridError", "QuicklookError"]


class CompositeError(GeommError, ValueError):
    """A composite cannot be made with these parameters."""


class QuicklookError(GeommError, ValueError):
    """A quicklook cannot be drawn: unknown time, or a cube without the needed bands."""


class GridError(GeommError, ValueError):
    """The requested grid cannot be built."""


# --- geomm.chips -------------------------------------------------------

__all__ += ["ChipError"]


class ChipError(GeommError, ValueError):
    """Chips cannot be cut from this cube, or a chip does not belong to it."""


# --- geomm.embed -------------------------------------------------------

__all__ += ["EmbedError", "TableError"]


class EmbedError(GeommError, ValueError):
    """An embedding run cannot start or continue as asked."""


class TableError(GeommError, ValueError):
    """Rows, parts or a file that do not make a valid embedding table."""


# --- geomm.contrastive -------------------------------------------------

__all__ += [
    "CaptionCsvError",
    "CheckpointError",
    "ContrastiveConfigError",
    "ContrastiveError",
    "ImageOutsideRootError",
    "MissingImagesError",
    "UnknownLabelError",
]


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

    def __reduce__(self):
        return (type(self), (self.csv_path, self.row, self.image, self.resolved))


class MissingImagesError(ContrastiveError, FileNotFoundError):
    """Image files named by a CSV do not exist (lists the first few)."""

    def __init__(self, csv_path: str, missing: Sequence[str], total: int, *, shown: int = 5):
        first = ", ".join(missing[:shown])
        more = f" (and {len(missing) - shown} more)" if len(missing) > shown else ""
        super().__init__(
            f"{len(missing)} of {total} images named in {csv_path} do not exist: {first}{more}. "
            "Image paths are read relative to the CSV's folder; fix the paths or the "
            "image column (image_key=...), or restore the files"
        )
        self.csv_path = csv_path
        self.missing = tuple(missing)
        self.total = total

    def __reduce__(self):
        return (type(self), (self.csv_path, self.missing, self.total))


class UnknownLabelError(ContrastiveError, ValueError):
    """A target or test label is not one of the known classes."""

    def __init__(self, what: str, labels: Sequence[str], classes: Sequence[str]):
        shown = ", ".join(repr(x) for x in list(labels)[:5])
        known = ", ".join(repr(c) for c in list(classes)[:20])
        more = " ..." if len(classes) > 20 else ""
        super().__init__(
            f"{what} {shown} not among the {len(classes)} classes ({known}{more}); "
            "use one of them, or pass the right class list (classes=...)"
        )
        self.what = what
        self.labels = tuple(labels)
        self.classes = tuple(classes)

    def __reduce__(self):
        return (type(self), (self.what, self.labels, self.classes))


class ContrastiveConfigError(ContrastiveError, ValueError):
    """A recipe, attack, model or data option has an invalid value."""


class CheckpointError(ContrastiveError, ValueError):
    """A checkpoint is missing, unreadable, or does not match the run."""
