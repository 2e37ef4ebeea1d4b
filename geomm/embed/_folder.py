"""The run folder of an unfinished table: ``<out>.parts/`` and what it may be trusted for.

A run writes ``run.json`` (its manifest: cube, settings, chips, blocks) first,
then one part and one stats file per finished block. A rerun with
``resume=True`` continues only a folder whose manifest equals its own; a
part or stats file that does not read back is redone, not trusted; the
table is merged only when every block the manifest lists has both.
``overwrite=True`` removes only a table geomm wrote (its Parquet metadata
says so) and a folder with geomm's ``run.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomm._outputs import refuse_url
from geomm.embed._config import EmbedConfig
from geomm.embed._table import completed_parts, is_geomm_table, part_rows
from geomm.errors import EmbedError

if TYPE_CHECKING:
    import xarray as xr

    from geomm.chips import Chip, ChipBlock

__all__ = [
    "STATS_SUFFIX",
    "RunTotals",
    "check_complete",
    "check_table_path",
    "manifest",
    "parts_dir",
    "prepare",
    "read_totals",
    "trusted_parts",
    "write_json_atomic",
]

RUN_FILE = "run.json"
STATS_SUFFIX = ".stats.json"
STAT_KEYS = ("rows", "skipped_clear", "skipped_s1")
_RUN_KIND = "geomm-embed-run"
_WHAT = "embedding table"
log = logging.getLogger(__name__)


def check_table_path(out: str | Path) -> Path:
    """``out`` as a table path, or an EmbedError when it names a folder.

    The table is one file; ``.`` or an existing folder would make its run
    folder and cube siblings of the user's own folder.
    """
    refuse_url(out, what=_WHAT)
    out = Path(out)
    if out.name in ("", ".", "..") or out.is_dir():
        raise EmbedError(
            f"{str(out)!r} is a folder; the embedding table is a file: give a path such as "
            f"{str(out / 'embeddings.parquet')!r}"
        )
    return out


def parts_dir(out: str | Path) -> Path:
    """Folder of the per-block parts of an unfinished table at ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def manifest(
    ds: xr.Dataset,
    config: EmbedConfig,
    *,
    chips: Sequence[Chip],
    names: Sequence[str],
    blocks: Sequence[ChipBlock],
) -> dict[str, Any]:
    """The run's ``run.json``: what a resumed run must agree on."""
    ids = hashlib.sha256("\n".join(c.chip_id for c in chips).encode()).hexdigest()[:16]
    return {
        "kind": _RUN_KIND,
        "cube_fingerprint": ds.attrs.get("geomm_fingerprint", ""),
        "times": [str(t) for t in ds.time.values],
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "embeddings": list(names),
        "chips": ids,
        "blocks": [b.name for b in blocks],
    }


def prepare(
    out: Path, parts: Path, run: Mapping[str, Any], *, resume: bool, overwrite: bool
) -> None:
    """Leave ``parts`` ready for this run (new, or the resumed one), or refuse."""
    if out.is_dir():
        raise EmbedError(f"{str(out)!r} is a folder; out must be a .parquet file path")
    if overwrite:
        _remove_previous(out, parts)
    if out.exists():
        raise EmbedError(f"{str(out)!r} already exists; pass overwrite=True to replace it")
    run_file = parts / RUN_FILE
    if parts.is_dir() and not any(parts.iterdir()):  # killed before its run file: nothing yet
        write_json_atomic(run_file, run)
        return
    if parts.exists():
        if not resume:
            raise EmbedError(
                f"an interrupted run left its parts in {str(parts)!r}; pass resume=True to "
                "continue it, or overwrite=True to start again"
            )
        if _read_run_file(parts) != run:
            raise EmbedError(
                f"the interrupted run in {str(parts)!r} used another cube, AOI or settings; "
                "rerun with the original arguments, or overwrite=True to start again"
            )
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    parts.mkdir(parents=True)
    write_json_atomic(run_file, run)


def _remove_previous(out: Path, parts: Path) -> None:
    """Delete the table and run folder geomm wrote at ``out``; refuse anything else."""
    if out.exists() and not is_geomm_table(out):
        raise EmbedError(
            f"{str(out)!r} exists and is not an embedding table geomm wrote (its Parquet "
            "metadata has no geomm entry); overwrite=True replaces only geomm's tables: "
            "choose another out path, or move the file away yourself"
        )
    if parts.exists() and not (
        (parts / RUN_FILE).is_file() or (parts.is_dir() and not any(parts.iterdir()))
    ):
        raise EmbedError(
            f"{str(parts)!r} is in the way of the table's run folder and geomm did not make "
            f"it (it has no {RUN_FILE}); choose another out path, or move it away yourself"
        )
    out.unlink(missing_ok=True)
    if parts.exists():
        shutil.rmtree(parts)


def _read_run_file(parts: Path) -> dict[str, Any] | None:
    """The manifest of the run in ``parts`` (None: there is none).

    Raises:
        EmbedError: it is there but does not read as a run manifest.
    """
    run_file = parts / RUN_FILE
    if not run_file.is_file():
        return None
    try:
        value = json.loads(run_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise EmbedError(
            f"the run file {str(run_file)!r} of the interrupted run is unreadable ({e}), so "
            "the run cannot be resumed: rerun with overwrite=True to start again"
        ) from e
    return value if isinstance(value, dict) else {}


def trusted_parts(parts: Path, names: Sequence[str]) -> set[str]:
    """The blocks among ``names`` whose part and stats read back and agree.

    A part or stats file that was damaged since it was written (they are
    written atomically, so only by something else) is removed, with its
    block's leftovers, so the block is embedded again instead of trusted.
    """
    trusted = set()
    for name in sorted(completed_parts(parts) & set(names)):
        stats = _stats_of(parts, name)
        rows = part_rows(parts / f"{name}.parquet")
        if stats is not None and rows is not None and rows == stats["rows"]:
            trusted.add(name)
            continue
        log.warning("block %s of %s does not read back; embedding it again", name, parts)
        (parts / f"{name}.parquet").unlink(missing_ok=True)
        (parts / f"{name}{STATS_SUFFIX}").unlink(missing_ok=True)
        shutil.rmtree(parts / name, ignore_errors=True)
    return trusted


def _stats_of(parts: Path, name: str) -> dict[str, Any] | None:
    """A block's stats, or None when the file is missing or does not read as stats."""
    try:
        stats = json.loads((parts / f"{name}{STATS_SUFFIX}").read_text())
        return stats if all(isinstance(stats.get(k), int) for k in STAT_KEYS) else None
    except (OSError, ValueError, AttributeError):
        return None


def check_complete(out: Path, parts: Path) -> None:
    """Raise unless every block the run file lists has its part and stats (before a merge)."""
    run = _read_run_file(parts)
    if run is None:
        raise EmbedError(
            f"the run file {str(parts / RUN_FILE)!r} disappeared during the run, so "
            f"{str(out)!r} cannot be checked; something else changed the folder: rerun with "
            "overwrite=True"
        )
    listed = run.get("blocks", [])
    have = completed_parts(parts)
    missing = [n for n in listed if n not in have or _stats_of(parts, n) is None]
    if missing:
        raise EmbedError(
            f"the run folder {str(parts)!r} lacks {len(missing)} of the {len(listed)} blocks "
            f"its {RUN_FILE} lists ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}"
            f"), so {str(out)!r} would be short; something else changed the folder: rerun "
            "with resume=True to embed them again"
        )


@dataclass(frozen=True)
class RunTotals:
    """The stats files of a run folder, added up."""

    rows: int
    """Chip-times embedded, over every block."""
    skipped_clear: int
    """Chip-times left out for too little clear sky."""
    skipped_s1: int
    """Chip-times left out for too little S1 coverage."""
    model: Mapping[str, str]
    """The weights id and precision a block recorded (the last one read; empty: none)."""


def read_totals(parts: Path, names: Sequence[str]) -> RunTotals:
    """Add up the stats files of the blocks ``names`` (missing ones count nothing).

    Raises:
        EmbedError: a stats file is there but unreadable.
    """
    total = dict.fromkeys(STAT_KEYS, 0)
    model: Mapping[str, str] = {}
    for name in names:
        path = parts / (name + STATS_SUFFIX)
        if not path.is_file():
            continue
        stats = _stats_of(parts, name)
        if stats is None:
            raise EmbedError(
                f"the stats file {str(path)!r} is unreadable; rerun with resume=True to embed "
                "its block again"
            )
        for key in STAT_KEYS:
            total[key] += int(stats[key])
        model = stats.get("model") or {}
    return RunTotals(model=model, **total)


def write_json_atomic(path: Path, value: Mapping[str, Any]) -> None:
    """Write ``value`` as JSON at ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)
