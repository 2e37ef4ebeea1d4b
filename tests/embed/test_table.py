"""The GeoParquet embedding table: schema, values, GeoParquet metadata, atomic parts."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, mapping

import geomm
from geomm.aoi import aoi_from_geojson
from geomm.chips import Chip, CubeLayout
from geomm.cube import cube_grid
from geomm.embed import _table
from geomm.embed._table import (
    TableError,
    completed_parts,
    merge_parts,
    read_table,
    table_part,
    table_schema,
    write_part,
)

D, D_SAR = 16, 8
TIMES = np.array(["2024-06-03T10:20:31", "2024-06-08T10:20:29"], dtype="datetime64[ns]")
S1_TIMES = np.array(["2024-06-05T05:35:12", "NaT"], dtype="datetime64[ns]")
META = {
    "model": "croma-base",
    "weights_id": "abc123",
    "normalization": "croma",
    "precision": "fp32",
}


def utm_chips() -> list[Chip]:
    layout = CubeLayout("EPSG:32633", 120, 10.0, 345, 4440, ncols=3, nrows=2, chunk_chips=2)
    return [layout.chip(i, j) for i in range(2) for j in range(3)]


def rows_for(chips: list[Chip], seed: int = 0) -> dict:
    """Flat rows (chip x time) with embeddings that name their row (and random tails)."""
    rng = np.random.default_rng(seed)
    flat = [(c, t) for c in chips for t in range(len(TIMES))]
    n = len(flat)
    joint = rng.normal(size=(n, D)).astype(np.float32)
    sar = rng.normal(size=(n, D_SAR)).astype(np.float32)
    return {
        "chips": [c for c, _ in flat],
        "times": TIMES[[t for _, t in flat]],
        "s1_times": S1_TIMES[[t for _, t in flat]],
        "clear_fraction": rng.uniform(size=n).astype(np.float32),
        "s1_coverage": rng.uniform(size=n).astype(np.float32),
        "embeddings": {"joint": joint, "sar": sar},
    }


def take(rows: dict, index) -> dict:
    index = np.asarray(index, dtype=int)
    return {
        "chips": [rows["chips"][i] for i in index],
        "times": rows["times"][index],
        "s1_times": rows["s1_times"][index],
        "clear_fraction": rows["clear_fraction"][index],
        "s1_coverage": rows["s1_coverage"][index],
        "embeddings": {k: v[index] for k, v in rows["embeddings"].items()},
    }


def part(rows: dict) -> pa.Table:
    return table_part(**rows, default="joint")


def expected_by_key(rows: dict) -> dict:
    out = {}
    for r, chip in enumerate(rows["chips"]):
        out[chip.chip_id, rows["times"][r]] = {
            "chip": chip,
            "s1_time": rows["s1_times"][r],
            "clear_fraction": rows["clear_fraction"][r],
            "s1_coverage": rows["s1_coverage"][r],
            "joint": rows["embeddings"]["joint"][r],
            "sar": rows["embeddings"]["sar"][r],
        }
    return out


def same_geometry(a, b) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=0))


@pytest.fixture
def table_path(tmp_path) -> tuple[Path, dict]:
    rows = rows_for(utm_chips())
    n = len(rows["chips"])
    order = np.random.default_rng(1).permutation(n)
    write_part(part(take(rows, order[: n // 2])), tmp_path / "parts", "r04440_c00345")
    write_part(part(take(rows, order[n // 2 :])), tmp_path / "parts", "r04440_c00347")
    out = merge_parts(tmp_path / "parts", tmp_path / "table.parquet", META)
    return out, rows


# --------------------------------------------------------------------------- round trip


def test_round_trip_keeps_types_values_and_order(table_path):
    path, rows = table_path
    schema = pq.read_schema(path)
    assert schema.field("embedding").type == pa.list_(pa.float32(), D)
    assert schema.field("embedding_sar").type == pa.list_(pa.float32(), D_SAR)
    assert schema.field("clear_fraction").type == pa.float32()
    assert schema.field("s1_coverage").type == pa.float32()
    assert schema.field("time").type == pa.timestamp("ns")
    assert schema.field("chip_id").type == pa.string()
    assert "embedding_joint" not in schema.names  # the default is not stored twice

    gdf = geopandas.read_parquet(path)  # a reader that is not ours
    assert gdf.crs.to_epsg() == 4326
    expected = expected_by_key(rows)
    keys = list(zip(gdf.chip_id, gdf.time.to_numpy(), strict=True))
    assert keys == sorted(expected)
    for r, key in enumerate(keys):
        want = expected[key]
        chip = want["chip"]
        assert gdf.utm_crs[r] == "EPSG:32633"
        assert same_geometry(gdf.geometry[r], chip.geometry_wgs84())
        assert gdf.embedding[r].dtype == np.float32
        np.testing.assert_array_equal(gdf.embedding[r], want["joint"])
        np.testing.assert_array_equal(gdf.embedding_sar[r], want["sar"])
        assert gdf.clear_fraction[r] == want["clear_fraction"]
        assert gdf.s1_coverage[r] == want["s1_coverage"]
        if np.isnat(want["s1_time"]):
            assert gdf.s1_time.isna()[r]
        else:
            assert gdf.s1_time.to_numpy()[r] == want["s1_time"]
    assert gdf.s1_time.isna().sum() == 6  # the second date has no S1 partner


def test_metadata_names_the_run(table_path):
    path, _ = table_path
    raw = pq.read_metadata(path).metadata[b"geomm"]  # file key-value metadata
    info = json.loads(raw)
    assert {k: info[k] for k in META} == META
    assert info["geomm_version"] == geomm.__version__
    assert info["embedding_columns"] == {"embedding": "joint", "embedding_sar": "sar"}
    gdf = read_table(path)
    assert gdf.attrs["geomm"] == info
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == 12


def test_geo_metadata_follows_geoparquet_1_1(table_path):
    path, rows = table_path
    geo = json.loads(pq.read_metadata(path).metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == ["Polygon"]
    assert CRS.from_json_dict(column["crs"]) == CRS.from_epsg(4326)
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    footprints = [c.geometry_wgs84() for c in utm_chips()]
    np.testing.assert_allclose(column["bbox"], shapely.total_bounds(footprints), rtol=0, atol=0)
    # it claims counterclockwise exteriors; check every row
    assert column["orientation"] == "counterclockwise"
    wkb = pq.read_table(path, columns=["geometry"]).column("geometry").to_pylist()
    for g in shapely.from_wkb(wkb):
        assert g.exterior.is_ccw


# --------------------------------------------------------------------------- parts


def test_leftover_temporary_files_are_not_parts(tmp_path):
    parts = tmp_path / "parts"
    rows = rows_for(utm_chips()[:2])
    write_part(part(rows), parts, "r00001_c00001")
    assert sorted(p.name for p in parts.iterdir()) == ["r00001_c00001.parquet"]
    (parts / "r00002_c00002.parquet.tmp").write_bytes(b"half a parquet file")
    (parts / "r00003_c00003.parquet.0a1b2c.tmp").write_bytes(b"PAR1")
    (parts / "r00001_c00001.stats.json").write_text("{}")
    (parts / "r00004_c00004").mkdir()  # a block's batch folder
    assert completed_parts(parts) == {"r00001_c00001"}
    assert completed_parts(tmp_path / "missing") == set()
    out = merge_parts(parts, tmp_path / "t.parquet", META)
    assert len(read_table(out)) == 4


def test_an_interrupted_write_leaves_no_part(tmp_path, monkeypatch):
    def crash(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_table.pq, "write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        write_part(part(rows_for(utm_chips()[:1])), tmp_path, "r00001_c00001")
    assert completed_parts(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []


def test_merge_does_not_depend_on_the_order_parts_were_written(tmp_path):
    rows = rows_for(utm_chips())
    groups = np.array_split(np.arange(len(rows["chips"])), 3)
    names = ["r04440_c00345", "r04440_c00347", "r04438_c00345"]
    for folder, sequence, flip in (("a", [0, 1, 2], False), ("b", [2, 0, 1], True)):
        for g in sequence:
            index = groups[g][::-1] if flip else groups[g]
            write_part(part(take(rows, index)), tmp_path / folder, names[g])
    a = merge_parts(tmp_path / "a", tmp_path / "a.parquet", META)
    b = merge_parts(tmp_path / "b", tmp_path / "b.parquet", META)
    assert pq.read_table(a).equals(pq.read_table(b), check_metadata=True)
    assert a.read_bytes() == b.read_bytes()


def test_parts_merged_into_a_part_merge_again(tmp_path):
    """Batches -> one part per block -> the table, as a resumable run does."""
    rows = rows_for(utm_chips())
    n = len(rows["chips"])
    parts = tmp_path / "parts"
    for b, block in enumerate(np.array_split(np.arange(n), 2)):
        batches = parts / f"block{b}"
        for k, batch in enumerate(np.array_split(block, 3)):
            write_part(part(take(rows, batch)), batches, f"{k:06d}")
        merge_parts(batches, parts / f"block{b}.parquet", {})
    assert completed_parts(parts) == {"block0", "block1"}
    direct = tmp_path / "direct"
    write_part(part(rows), direct, "all")
    two_step = merge_parts(parts, tmp_path / "t.parquet", META)
    one_step = merge_parts(direct, tmp_path / "u.parquet", META)
    assert pq.read_table(two_step).equals(pq.read_table(one_step), check_metadata=True)
    assert read_table(two_step).attrs["geomm"]["embedding_columns"] == {
        "embedding": "joint",
        "embedding_sar": "sar",
    }


# --------------------------------------------------------------------------- empty tables


def empty_rows() -> dict:
    return {
        "chips": [],
        "times": np.array([], dtype="datetime64[ns]"),
        "s1_times": np.array([], dtype="datetime64[ns]"),
        "clear_fraction": np.array([], dtype=np.float32),
        "s1_coverage": np.array([], dtype=np.float32),
        "embeddings": {"joint": np.zeros((0, D), np.float32), "sar": np.zeros((0, D_SAR))},
    }


def test_an_empty_result_is_a_valid_empty_table(tmp_path):
    write_part(part(empty_rows()), tmp_path / "parts", "r00001_c00001")
    out = merge_parts(tmp_path / "parts", tmp_path / "t.parquet", META)
    gdf = geopandas.read_parquet(out)
    assert len(gdf) == 0 and gdf.crs.to_epsg() == 4326
    assert pq.read_schema(out).field("embedding").type == pa.list_(pa.float32(), D)
    geo = json.loads(pq.read_metadata(out).metadata[b"geo"])
    assert geo["columns"]["geometry"]["geometry_types"] == []
    assert "bbox" not in geo["columns"]["geometry"]
    assert read_table(out).attrs["geomm"]["model"] == "croma-base"


def test_empty_parts_do_not_disturb_the_schema_of_the_others(tmp_path):
    parts = tmp_path / "parts"
    write_part(part(rows_for(utm_chips()[:1])), parts, "b")
    write_part(table_part(**{**empty_rows(), "embeddings": {"x": np.zeros((0, 3))}}, default="x"),
               parts, "a")  # fmt: skip
    out = merge_parts(parts, tmp_path / "t.parquet", META)
    assert len(read_table(out)) == 2
    assert pq.read_schema(out).field("embedding").type == pa.list_(pa.float32(), D)


def test_no_parts_at_all_writes_the_given_schema(tmp_path):
    schema = table_schema({"joint": D, "sar": D_SAR}, "joint")
    out = merge_parts(tmp_path / "none", tmp_path / "t.parquet", META, schema=schema)
    assert pq.read_schema(out).field("embedding_sar").type == pa.list_(pa.float32(), D_SAR)
    assert len(geopandas.read_parquet(out)) == 0
    bare = merge_parts(tmp_path / "none", tmp_path / "u.parquet", META)
    assert pq.read_schema(bare).names[:7] == [
        "chip_id", "geometry", "utm_crs", "time", "s1_time", "clear_fraction", "s1_coverage"
    ]  # fmt: skip


# --------------------------------------------------------------------------- antimeridian


def test_chips_across_the_antimeridian_are_multipolygons_in_the_table(tmp_path):
    coords = [(179.97, -17.02), (180.03, -17.02), (180.03, -16.98), (179.97, -16.98)]
    grid = cube_grid(aoi_from_geojson(mapping(Polygon(coords))))
    layout = CubeLayout(grid.crs, 120, 10.0, grid.col0, grid.row0, grid.ncols, grid.nrows, 8)
    chips = [layout.chip(i, j) for i in range(grid.nrows) for j in range(grid.ncols)]
    assert any(isinstance(c.geometry_wgs84(), MultiPolygon) for c in chips)
    write_part(part(rows_for(chips)), tmp_path / "parts", "p")
    out = merge_parts(tmp_path / "parts", tmp_path / "t.parquet", META)
    geo = json.loads(pq.read_metadata(out).metadata[b"geo"])
    assert geo["columns"]["geometry"]["geometry_types"] == ["MultiPolygon", "Polygon"]
    bbox = geo["columns"]["geometry"]["bbox"]
    assert bbox[0] == -180.0 and bbox[2] == 180.0
    gdf = read_table(out)
    by_id = {c.chip_id: c for c in chips}
    for chip_id, geometry in zip(gdf.chip_id, gdf.geometry, strict=True):
        assert same_geometry(geometry, by_id[chip_id].geometry_wgs84())
        for p in getattr(geometry, "geoms", [geometry]):
            assert p.exterior.is_ccw


# --------------------------------------------------------------------------- refusals


def test_bad_rows_are_refused_with_reasons(tmp_path):
    rows = rows_for(utm_chips()[:2])
    with pytest.raises(TableError, match=r"times has shape \(3,\), expected \(4,\)"):
        table_part(**{**rows, "times": rows["times"][:3]}, default="joint")
    bad = rows["embeddings"]["joint"].copy()
    bad[1, 2] = np.nan
    with pytest.raises(TableError, match="1 row.*NaN"):
        table_part(**{**rows, "embeddings": {"joint": bad}}, default="joint")
    with pytest.raises(TableError, match="default embedding 'optical'"):
        table_part(**rows, default="optical")
    with pytest.raises(TableError, match="expected \\(4, D\\)"):
        table_part(**{**rows, "embeddings": {"joint": np.zeros(4)}}, default="joint")
    with pytest.raises(TableError, match="plain file name"):
        write_part(part(rows), tmp_path, "../escape")
    with pytest.raises(TableError, match="missing"):
        table_part(**{**rows, "times": np.array(["NaT"] * 4, "datetime64[ns]")}, default="joint")


def test_parts_that_do_not_fit_together_are_refused(tmp_path):
    chips = utm_chips()
    write_part(part(rows_for(chips[:2])), tmp_path / "dims", "a")
    other = rows_for(chips[2:4])
    other["embeddings"] = {"joint": np.zeros((4, D + 1), np.float32)}
    write_part(part(other), tmp_path / "dims", "b")
    with pytest.raises(TableError, match="one model and embedding selection"):
        merge_parts(tmp_path / "dims", tmp_path / "t.parquet", META)
    write_part(part(rows_for(chips[:2])), tmp_path / "dup", "a")
    write_part(part(rows_for(chips[1:3])), tmp_path / "dup", "b")
    with pytest.raises(TableError, match=r"chip 32633-120px10m-00346-04440 at .* more than one"):
        merge_parts(tmp_path / "dup", tmp_path / "t.parquet", META)
    assert not (tmp_path / "t.parquet").exists()
    write_part(part(rows_for(chips[:1])), tmp_path / "meta", "a")
    with pytest.raises(TableError, match="JSON"):
        merge_parts(tmp_path / "meta", tmp_path / "t.parquet", {"when": object()})


def test_read_table_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(TableError, match="no embedding table"):
        read_table(tmp_path / "nope.parquet")


def test_an_unreadable_part_is_named(tmp_path):
    (tmp_path / "r00001_c00001.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(TableError, match=r"r00001_c00001.parquet' is unreadable"):
        merge_parts(tmp_path, tmp_path / "out" / "t.parquet", META)
