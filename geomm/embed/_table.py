"""The embedding table: GeoParquet, one row per chip and time.

Schema (ARCHITECTURE.md, "Embedding table")::

    chip_id         string              stable id (geomm.chips.chip_id)
    geometry        binary (WKB)        chip footprint, EPSG:4326 lon/lat, counterclockwise
    utm_crs         string              the cube CRS the chip lives in ("EPSG:32633")
    time            timestamp[ns]       S2 acquisition (UTC, naive, as in the cube)
    s1_time         timestamp[ns]       paired S1 acquisition; null when unpaired
    clear_fraction  float               share of clear S2 pixels in the chip
    s1_coverage     float               share of pixels with valid VV and VH
    embedding       fixed_size_list<float>[D]   the run's default embedding
    embedding_<n>   fixed_size_list<float>[D_n] further embeddings (sar, optical, ...)

The file's key-value metadata holds ``geo`` (GeoParquet 1.1 column
metadata) and ``geomm`` (JSON: model, weights id, normalization,
precision, geomm version, whatever the caller adds, and
``embedding_columns``: which embedding fills each column).

The Arrow table is built here rather than through ``GeoDataFrame.to_parquet``,
which stores array cells as variable-size lists of float64; a fixed-size
float32 list is half the bytes and tells readers the dimension.

Runs write one *part* file per unit of work (atomically: a part that exists
is complete); ``merge_parts`` sorts all rows by (chip_id, time), so the
table does not depend on the order the parts finished in.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from geomm._version import __version__
from geomm.chips import Chip
from geomm.errors import TableError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "TableError",
    "completed_parts",
    "is_geomm_table",
    "merge_parts",
    "part_rows",
    "read_table",
    "table_part",
    "table_schema",
    "write_part",
]

GEO_KEY = b"geo"
GEOMM_KEY = b"geomm"
_COLUMNS_KEY = b"geomm_columns"
"""Schema metadata of every part: {column: embedding name}, carried to the merged file."""
_SUFFIX = ".parquet"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_EMBEDDING_NAME = re.compile(r"[a-z][a-z0-9_]*")
_GEOPARQUET_VERSION = "1.1.0"
_BASE_FIELDS = (
    pa.field("chip_id", pa.string()),
    pa.field("geometry", pa.binary()),
    pa.field("utm_crs", pa.string()),
    pa.field("time", pa.timestamp("ns")),
    pa.field("s1_time", pa.timestamp("ns")),
    pa.field("clear_fraction", pa.float32()),
    pa.field("s1_coverage", pa.float32()),
)


def table_schema(dims: Mapping[str, int], default: str) -> pa.Schema:
    """The table's Arrow schema for embeddings of the given dimensions.

    Args:
        dims: embedding name -> dimension, e.g. ``{"joint": 768, "sar": 768}``.
        default: the name whose vectors fill the ``embedding`` column; the
            others get ``embedding_<name>`` columns.

    Raises:
        TableError: ``default`` not in ``dims``, a bad name or dimension.
    """
    columns = _embedding_columns(list(dims), default)
    fields = list(_BASE_FIELDS)
    for column, name in columns.items():
        d = int(dims[name])
        if d < 1:
            raise TableError(f"embedding {name!r} has dimension {d}; it must be >= 1")
        fields.append(pa.field(column, pa.list_(pa.float32(), d)))
    return pa.schema(fields, metadata={_COLUMNS_KEY: json.dumps(columns).encode()})


def table_part(
    chips: Sequence[Chip],
    times: np.ndarray,
    s1_times: np.ndarray,
    clear_fraction: np.ndarray,
    s1_coverage: np.ndarray,
    embeddings: Mapping[str, np.ndarray],
    default: str,
) -> pa.Table:
    """Rows of the table for (chip, time) pairs given as flat parallel arrays.

    Args:
        chips: the chip of each row (R rows; a chip repeats for each time).
        times: (R,) S2 times (datetime64).
        s1_times: (R,) paired S1 times, NaT where unpaired.
        clear_fraction: (R,) clear share per row.
        s1_coverage: (R,) S1 coverage per row.
        embeddings: name -> (R, D) vectors (cast to float32).
        default: the name that fills the ``embedding`` column.

    Returns:
        An Arrow table with the schema of :func:`table_schema`.

    Raises:
        TableError: arrays of different lengths, a non-2-D or non-finite
            embedding, or ``default`` missing from ``embeddings``.
    """
    rows = len(chips)
    arrays = {
        "times": times,
        "s1_times": s1_times,
        "clear_fraction": clear_fraction,
        "s1_coverage": s1_coverage,
    }
    for label, values in arrays.items():
        if np.shape(values) != (rows,):
            raise TableError(
                f"{label} has shape {np.shape(values)}, expected ({rows},): one value per chip row"
            )
    vectors = {name: _vectors(name, values, rows) for name, values in embeddings.items()}
    schema = table_schema({n: v.shape[1] for n, v in vectors.items()}, default)
    footprints: dict[str, bytes] = {}
    for chip in chips:
        if chip.chip_id not in footprints:
            geometry = shapely.orient_polygons(chip.geometry_wgs84(), exterior_cw=False)
            footprints[chip.chip_id] = shapely.to_wkb(geometry, output_dimension=2)
    columns = _columns(schema)
    data = {
        "chip_id": pa.array([c.chip_id for c in chips], pa.string()),
        "geometry": pa.array([footprints[c.chip_id] for c in chips], pa.binary()),
        "utm_crs": pa.array([c.crs for c in chips], pa.string()),
        "time": _timestamps(times, "times", nullable=False),
        "s1_time": _timestamps(s1_times, "s1_times", nullable=True),
        "clear_fraction": pa.array(np.asarray(clear_fraction, dtype=np.float32)),
        "s1_coverage": pa.array(np.asarray(s1_coverage, dtype=np.float32)),
    }
    for column, name in columns.items():
        v = vectors[name]
        data[column] = pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), v.shape[1])
    return pa.Table.from_arrays([data[f.name] for f in schema], schema=schema)


def write_part(part: pa.Table, parts_dir: Path, name: str) -> Path:
    """Write ``part`` as ``<parts_dir>/<name>.parquet``, atomically.

    The rows go to a temporary file (``<name>.parquet.<random>.tmp``, unique
    so that two attempts of one Dask task never share it) that is synced
    and then renamed: a part file that exists is complete.

    Raises:
        TableError: ``name`` is not a plain file name, or ``part`` is not a
            table from :func:`table_part`.
    """
    if not _NAME.fullmatch(name) or name.endswith(".tmp"):
        raise TableError(
            f"part name {name!r} must be a plain file name (letters, digits, '_', '-', '.'), "
            "e.g. a ChipBlock.name"
        )
    if not isinstance(part, pa.Table):
        raise TableError(f"a part must be a pyarrow.Table from table_part, got {type(part)}")
    parts_dir = Path(parts_dir)
    parts_dir.mkdir(parents=True, exist_ok=True)
    return _write_atomic(part, parts_dir / f"{name}{_SUFFIX}", extra={})


def completed_parts(parts_dir: Path) -> set[str]:
    """Names of the complete parts in ``parts_dir`` (temporary leftovers ignored)."""
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return set()
    return {p.name[: -len(_SUFFIX)] for p in parts_dir.glob(f"*{_SUFFIX}") if p.is_file()}


def part_rows(path: Path) -> int | None:
    """Rows of the part at ``path`` from its footer, or None when it does not read back."""
    try:
        return int(pq.read_metadata(path).num_rows)
    except (pa.ArrowInvalid, OSError):
        return None


def is_geomm_table(path: str | Path) -> bool:
    """Whether the file at ``path`` is a Parquet file geomm wrote (its ``geomm`` metadata)."""
    try:
        return GEOMM_KEY in (pq.read_schema(path).metadata or {})
    except (pa.ArrowInvalid, OSError):
        return False


def merge_parts(
    parts_dir: Path,
    out: Path,
    metadata: Mapping[str, Any],
    *,
    schema: pa.Schema | None = None,
) -> Path:
    """Merge every part in ``parts_dir`` into one GeoParquet file at ``out``.

    Rows are sorted by (chip_id, time), so the file is the same whatever
    order the parts were written in. ``out`` is written atomically (a
    temporary file renamed into place) and may itself be a part of a
    larger merge. Parts without rows are allowed (a block whose chips were
    all skipped); with no rows at all the file is a valid empty table.

    Args:
        parts_dir: folder of ``*.parquet`` parts (:func:`write_part`).
        out: the table to write.
        metadata: JSON-serialisable run description stored under ``geomm``
            (model, weights id, normalization, precision, ...); the geomm
            version and the embedding columns are added unless given.
        schema: the schema of an empty table when there are no parts at all
            (:func:`table_schema`); without it such a table has no
            embedding columns.

    Raises:
        TableError: parts with different columns or dimensions, the same
            (chip_id, time) in two rows, or metadata that is not JSON.
    """
    names = sorted(completed_parts(parts_dir))
    tables = [_read_part(Path(parts_dir) / f"{n}{_SUFFIX}") for n in names]
    table = _concat(tables, names, schema)
    table = table.sort_by([("chip_id", "ascending"), ("time", "ascending")])
    _check_unique(table)
    columns = _columns(table.schema)
    info = {"geomm_version": __version__, **dict(metadata)}
    info.setdefault("embedding_columns", columns)
    try:
        text = json.dumps(info, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TableError(f"table metadata must be JSON-serialisable: {e}") from e
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return _write_atomic(table, out, extra={GEOMM_KEY: text.encode()})


def read_table(path: str | Path) -> gpd.GeoDataFrame:
    """Open an embedding table as a GeoDataFrame (EPSG:4326).

    Embedding columns hold one float32 array per row
    (``np.stack(gdf.embedding)`` gives the (R, D) matrix); the run's
    metadata is ``gdf.attrs["geomm"]``.

    Raises:
        TableError: no file at ``path``.
    """
    import geopandas

    path = Path(path)
    if not path.is_file():
        raise TableError(f"no embedding table at {str(path)!r}; make one with `geomm embed`")
    gdf = geopandas.read_parquet(path)
    raw = (pq.read_schema(path).metadata or {}).get(GEOMM_KEY)
    gdf.attrs["geomm"] = json.loads(raw) if raw else {}
    return gdf


# --------------------------------------------------------------------------- internals


def _embedding_columns(names: Sequence[str], default: str) -> dict[str, str]:
    """{column: embedding name}: the default in ``embedding``, others ``embedding_<name>``."""
    if default not in names:
        raise TableError(f"default embedding {default!r} is not among the embeddings {names}")
    for name in names:
        if not _EMBEDDING_NAME.fullmatch(name):
            raise TableError(
                f"embedding name {name!r} must be lower-case letters, digits and '_' "
                "(it becomes the column embedding_<name>)"
            )
    return {"embedding": default, **{f"embedding_{n}": n for n in names if n != default}}


def _columns(schema: pa.Schema) -> dict[str, str]:
    raw = (schema.metadata or {}).get(_COLUMNS_KEY)
    if raw:
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    return {f.name: f.name for f in schema if f.name.startswith("embedding")}


def _vectors(name: str, values: np.ndarray, rows: int) -> np.ndarray:
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[0] != rows or v.shape[1] < 1:
        raise TableError(
            f"embedding {name!r} has shape {v.shape}, expected ({rows}, D): one vector per row"
        )
    v = np.ascontiguousarray(v, dtype=np.float32)
    if not np.isfinite(v).all():
        bad = int((~np.isfinite(v).all(axis=1)).sum())
        raise TableError(
            f"embedding {name!r} has {bad} row(s) with NaN or infinite values; the model or "
            "its inputs are broken (check normalization and precision)"
        )
    return v


def _timestamps(values: np.ndarray, label: str, *, nullable: bool) -> pa.Array:
    t = np.asarray(values)
    if t.dtype.kind != "M":
        raise TableError(f"{label} must be datetime64 values, got dtype {t.dtype}")
    t = t.astype("datetime64[ns]")
    missing = np.isnat(t)
    if missing.any() and not nullable:
        raise TableError(f"{label} has {int(missing.sum())} missing (NaT) value(s)")
    return pa.array(t, type=pa.timestamp("ns"), mask=missing)


def _read_part(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise TableError(
            f"part {str(path)!r} is unreadable ({e}); parts are written atomically, so it was "
            "changed afterwards: delete it and rerun with resume=True to redo its block"
        ) from e


def _concat(tables: list[pa.Table], names: list[str], schema: pa.Schema | None) -> pa.Table:
    """One table from parts; parts without rows may differ (they add nothing)."""
    with_rows = [(n, t) for n, t in zip(names, tables, strict=True) if t.num_rows]
    if with_rows:
        target = with_rows[0][1].schema
    elif tables:
        target = tables[0].schema
    else:
        target = schema if schema is not None else pa.schema(_BASE_FIELDS)
    for n, t in with_rows:
        if not t.schema.equals(target, check_metadata=False) or _columns(t.schema) != _columns(
            target
        ):
            raise TableError(
                f"part {n!r} has columns {t.schema.names} ({_describe(t.schema)}), unlike "
                f"{with_rows[0][0]!r} ({_describe(target)}); parts of one table must come "
                "from one model and embedding selection: remove the stale parts and rerun"
            )
    clean = target.remove_metadata().with_metadata(
        {_COLUMNS_KEY: json.dumps(_columns(target)).encode()}
    )
    pieces = [t.replace_schema_metadata(None) for _, t in with_rows]
    if not pieces:
        return clean.empty_table()
    return pa.concat_tables(pieces).replace_schema_metadata(clean.metadata)


def _describe(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}" for f in schema if f.name.startswith("embedding"))


def _check_unique(table: pa.Table) -> None:
    if table.num_rows < 2:
        return
    ids = table.column("chip_id").to_numpy(zero_copy_only=False)
    times = table.column("time").to_numpy()
    same = (ids[1:] == ids[:-1]) & (times[1:] == times[:-1])
    if same.any():
        i = int(np.argmax(same))
        raise TableError(
            f"chip {ids[i]} at {times[i]} appears in more than one row; two parts hold the "
            "same chip and time (a stale part from another run?): remove it and rerun"
        )


def _geo_metadata(table: pa.Table) -> dict[str, Any]:
    """GeoParquet 1.1 ``geo`` metadata of the ``geometry`` column."""
    geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    kinds = sorted({g.geom_type for g in geoms}) if len(geoms) else []
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": kinds,
        "crs": CRS.from_epsg(4326).to_json_dict(),
        "edges": "planar",
        "orientation": "counterclockwise",
    }
    if len(geoms):
        column["bbox"] = [float(v) for v in shapely.total_bounds(geoms)]
    return {
        "version": _GEOPARQUET_VERSION,
        "primary_column": "geometry",
        "columns": {"geometry": column},
    }


def _write_atomic(table: pa.Table, path: Path, extra: Mapping[bytes, bytes]) -> Path:
    metadata = dict(table.schema.metadata or {})
    metadata[GEO_KEY] = json.dumps(_geo_metadata(table)).encode()
    metadata.update(extra)
    table = table.replace_schema_metadata(metadata)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
