"""`geomm embed`: cube chips -> model -> GeoParquet, locally, resumed and on a cluster.

Truths: the model applied directly to chip slices of the cube (independent of
the runner's blocks, batches and tables), skip counts recomputed from the
cube's arrays, and an uninterrupted local run for resumed and distributed
runs. croma-tiny with seeded random weights keeps it fast; a third-party
plugin (``plugins/``, found through its entry point) counts chips and can
crash on cue.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from geomm.aoi import aoi_from_geojson, read_aoi
from geomm.chips import cube_chips
from geomm.cube import CubeConfig, make_cube, open_cube
from geomm.embed import EmbedConfig, EmbedError, ModelSpec, embed_cube, parts_dir, read_table
from geomm.sample import sample_aoi_path

PLUGINS = Path(__file__).parent / "plugins"
START, END = "2024-06-01", "2024-07-31"
TINY = ModelSpec(name="croma-tiny", weights="random", precision="fp32", seed=3)
ALL = ("joint", "sar", "optical")
LOW = {"min_clear": 0.5, "min_s1_coverage": 0.5}  # keep most chip-times of the sample


@pytest.fixture(scope="module")
def cube_path(sample_catalog, tmp_path_factory) -> Path:
    """The demo AOI's cube, 2x2-chip chunks: 6 blocks of up to 4 chips x 4 times."""
    out = tmp_path_factory.mktemp("embed") / "cube.zarr"
    make_cube(
        str(sample_catalog),
        aoi=read_aoi(sample_aoi_path()),
        start=START,
        end=END,
        out=out,
        config=CubeConfig(chunk_chips=2),
    )
    return out


@pytest.fixture
def plugin_path(monkeypatch):
    """Make the test plugin's distribution visible (this process and children)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )
    return PLUGINS


def _column(name: str) -> str:
    """Table column of an embedding: the first requested fills ``embedding``."""
    return "embedding" if name == ALL[0] else f"embedding_{name}"


def _stack(table, column: str) -> np.ndarray:
    return np.stack(table[column].to_numpy()).astype(np.float32)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geomm.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def _assert_same_table(a, b) -> None:
    assert list(a.chip_id) == list(b.chip_id)
    np.testing.assert_array_equal(a.time.to_numpy(), b.time.to_numpy())
    for column in [c for c in a.columns if c.startswith("embedding")]:
        np.testing.assert_array_equal(_stack(a, column), _stack(b, column))
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()


# --------------------------------------------------------------------------- values


def test_table_equals_the_model_applied_to_cube_chips(cube_path, tmp_path):
    config = EmbedConfig(model=TINY, embeddings=ALL, batch_size=5, **LOW)
    report = embed_cube(cube_path, tmp_path / "t.parquet", config=config)
    table = read_table(report.path)
    ds = open_cube(cube_path).load()
    model = TINY.load()
    chips = {c.chip_id: c for c in cube_chips(ds)}

    # which chip-times should be there: recomputed from the cube's arrays
    expected, skipped_clear, skipped_s1 = [], 0, 0
    for chip in chips.values():
        for t in range(ds.sizes["time"]):
            clear = float(ds.clear.values[t, chip.y, chip.x].mean())
            s1 = ds.s1.values[t, :, chip.y, chip.x]
            coverage = float(np.isfinite(s1).all(axis=0).mean())
            if clear < 0.5:
                skipped_clear += 1
            elif coverage < 0.5:
                skipped_s1 += 1
            else:
                expected.append((chip.chip_id, ds.time.values[t], clear, coverage))
    assert sorted((c, t) for c, t, _, _ in expected) == list(
        zip(table.chip_id, table.time.to_numpy(), strict=True)
    )
    assert (report.rows, report.skipped_clear, report.skipped_s1) == (
        len(expected),
        skipped_clear,
        skipped_s1,
    )
    assert 0 < report.rows < len(chips) * ds.sizes["time"]  # the sample has clouds
    by_key = {(c, t): (cl, cov) for c, t, cl, cov in expected}

    # each row: the model on that chip alone, straight from the cube
    for i, row in enumerate(table.itertuples()):
        chip = chips[row.chip_id]
        t = int(np.flatnonzero(ds.time.values == np.datetime64(row.time.to_datetime64()))[0])
        s2 = ds.s2.values[t, :, chip.y, chip.x][None]
        s1 = ds.s1.values[t, :, chip.y, chip.x][None]
        direct = model.embed(s1, s2, outputs=list(ALL))
        for name in ALL:
            np.testing.assert_allclose(
                table[_column(name)].iloc[i], direct[name][0], rtol=0, atol=1e-5
            )
        clear, coverage = by_key[(row.chip_id, np.datetime64(row.time.to_datetime64()))]
        assert row.clear_fraction == pytest.approx(clear, abs=1e-6)
        assert row.s1_coverage == pytest.approx(coverage, abs=1e-6)
        assert row.geometry.equals_exact(chip.geometry_wgs84(), tolerance=1e-9)
        assert row.utm_crs == ds.attrs["crs"]
    meta = table.attrs["geomm"]
    assert meta["model"] == "croma-tiny" and meta["weights_id"] == "random:seed=3"
    assert meta["normalization"] == "ssl4eo" and meta["embeddings"] == list(ALL)


def test_optical_only_embeddings_ignore_s1_coverage(cube_path, tmp_path):
    config = EmbedConfig(model=TINY, embeddings=("optical",), min_clear=0.5, min_s1_coverage=1.0)
    report = embed_cube(cube_path, tmp_path / "o.parquet", config=config)
    assert report.skipped_s1 == 0 and report.rows > 0
    columns = read_table(report.path).columns
    assert "embedding" in columns and "embedding_sar" not in columns


def test_a_sub_aoi_gives_the_same_ids_and_identical_embeddings(cube_path, tmp_path):
    config = EmbedConfig(model=TINY, embeddings=ALL, **LOW)
    full = read_table(embed_cube(cube_path, tmp_path / "full.parquet", config=config).path)
    # the western half of the demo AOI (same UTM zone): fewer chips, other batches
    aoi = read_aoi(sample_aoi_path())
    west, south, east, north = aoi.bbox
    half = shapely.box(west, south, (west + east) / 2, north)
    sub_aoi = aoi_from_geojson(shapely.geometry.mapping(half), source="west half")
    sub = read_table(
        embed_cube(cube_path, tmp_path / "sub.parquet", aoi=sub_aoi, config=config).path
    )
    assert 0 < len(sub) < len(full)
    full_rows = {(c, t): i for i, (c, t) in enumerate(zip(full.chip_id, full.time, strict=True))}
    for i, key in enumerate(zip(sub.chip_id, sub.time, strict=True)):
        j = full_rows[key]  # every sub-AOI chip-time is in the full table, same id
        for name in ALL:
            np.testing.assert_array_equal(sub[_column(name)].iloc[i], full[_column(name)].iloc[j])


# --------------------------------------------------------------------------- runs


def test_existing_output_and_interrupted_runs_need_a_decision(cube_path, tmp_path):
    out = tmp_path / "t.parquet"
    config = EmbedConfig(model=TINY, **LOW)
    embed_cube(cube_path, out, config=config)
    with pytest.raises(EmbedError, match="overwrite=True"):
        embed_cube(cube_path, out, config=config)
    embed_cube(cube_path, out, config=config, overwrite=True)
    parts_dir(out).mkdir()
    (parts_dir(out) / "run.json").write_text("{}")  # an interrupted run of other settings
    out.unlink()
    with pytest.raises(EmbedError, match="resume=True"):
        embed_cube(cube_path, out, config=config)
    with pytest.raises(EmbedError, match="other cube, AOI or settings"):
        embed_cube(cube_path, out, config=config, resume=True)


def test_sigkill_then_resume_embeds_each_chip_once_and_equals_an_uninterrupted_run(
    cube_path, tmp_path, plugin_path
):
    counts = tmp_path / "counts.txt"
    args = ["embed", "--aoi", str(sample_aoi_path()), "--cube", str(cube_path), "--model",
            "counting-tiny", "--weights", "random", "--precision", "fp32", "--batch-size", "3",
            "--min-clear", "0.5", "--min-s1-coverage", "0.5"]  # fmt: skip
    out = tmp_path / "t.parquet"
    env = {"GEOMM_TEST_COUNT_FILE": str(counts)}
    killed = _cli(*args, "--out", str(out), env={**env, "GEOMM_TEST_CRASH_AFTER": "4"})
    assert killed.returncode == -9, killed.stderr
    assert not out.exists() and parts_dir(out).is_dir()  # nothing that looks complete
    before = sum(int(line.split()[1]) for line in counts.read_text().splitlines())
    assert before == 12  # four batches of three saved before the crash

    again = _cli(*args, "--out", str(out), env=env)
    # the dead run's lease is in the way: the library names resume=True (the CLI may say --resume)
    assert again.returncode == 1 and ("resume=True" in again.stderr or "--resume" in again.stderr)
    assert "no longer running" in again.stderr
    resumed = _cli(*args, "--out", str(out), "--resume", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout and not parts_dir(out).exists()

    table = read_table(out)
    total = sum(int(line.split()[1]) for line in counts.read_text().splitlines())
    assert total == len(table)  # no chip-time embedded twice, none lost
    assert f"{len(table) - before} in this run" in resumed.stdout
    clean = _cli(*args, "--out", str(tmp_path / "clean.parquet"))
    assert clean.returncode == 0, clean.stderr
    _assert_same_table(table, read_table(tmp_path / "clean.parquet"))


@pytest.mark.timeout(600)
def test_two_worker_processes_equal_a_local_run_even_when_one_is_killed(
    cube_path, tmp_path, plugin_path, dask_cluster
):
    counts = tmp_path / "counts.txt"
    common = {"PYTHONPATH": os.environ["PYTHONPATH"], "GEOMM_TEST_COUNT_FILE": str(counts)}
    cluster = dask_cluster(
        workers=[
            {**common, "GEOMM_TEST_CRASH_AFTER": "2", "nanny": False},  # dies mid-run
            {**common, "GEOMM_TEST_DELAY": "0.2"},
        ]
    )
    args = ["embed", "--aoi", str(sample_aoi_path()), "--cube", str(cube_path), "--model",
            "counting-tiny", "--weights", "random", "--precision", "fp32", "--batch-size", "3",
            "--min-clear", "0.5", "--min-s1-coverage", "0.5"]  # fmt: skip
    remote = _cli(*args, "--out", str(tmp_path / "remote.parquet"), "--scheduler", cluster.address)
    assert remote.returncode == 0, remote.stderr
    assert cluster.workers[0].poll() is not None  # the first worker really died
    table = read_table(tmp_path / "remote.parquet")
    total = sum(int(line.split()[1]) for line in counts.read_text().splitlines())
    assert total == len(table)  # what the dead worker saved was not redone
    pids = {line.split()[0] for line in counts.read_text().splitlines()}
    assert len(pids) == 2  # both workers embedded
    local = _cli(*args, "--out", str(tmp_path / "local.parquet"))
    assert local.returncode == 0, local.stderr
    _assert_same_table(table, read_table(tmp_path / "local.parquet"))


def test_geomm_embed_from_the_catalog_builds_the_cube_and_says_what_it_did(
    sample_catalog, tmp_path
):
    out = tmp_path / "emb.parquet"
    args = ["embed", "--catalog", str(sample_catalog), "--aoi", str(sample_aoi_path()),
            "--start", START, "--end", END, "--model", "croma-tiny", "--weights", "random",
            "--out", str(out)]  # fmt: skip
    run = _cli(*args)
    assert run.returncode == 0, run.stderr
    assert "random weights" in run.stdout and str(out) in run.stdout
    assert (tmp_path / "emb.cube.zarr" / "zarr.json").is_file()
    table = read_table(out)
    assert table.crs.to_epsg() == 4326 and len(table) > 0
    assert table.embedding.iloc[0].dtype == np.float32
    no_dates = _cli("embed", "--aoi", str(sample_aoi_path()), "--out", str(tmp_path / "x.parquet"),
                    "--model", "croma-tiny", "--weights", "random")  # fmt: skip
    # the library names start= and end= (the CLI may translate them to --start and --end)
    assert no_dates.returncode == 1
    assert "start= and end=" in no_dates.stderr or "--start and --end" in no_dates.stderr
    # croma-tiny has no published weights: said before any cube is built
    no_weights = [a for a in args[:-2] if a not in ("--weights", "random")]
    failed = _cli(*no_weights, "--out", str(tmp_path / "y.parquet"))
    assert failed.returncode == 1 and "random" in failed.stderr
    assert not (tmp_path / "y.cube.zarr").exists()
    # an embedding the model does not produce: also said before any cube is built
    unknown = _cli(*args[:-1], str(tmp_path / "z.parquet"), "--embeddings", "joint,foo")
    assert unknown.returncode == 1 and "no embedding(s) ['foo']" in unknown.stderr
    assert [line for line in unknown.stderr.splitlines() if line.strip()] == [
        unknown.stderr.strip()
    ]  # one line: no progress bar before the error
    assert not (tmp_path / "z.cube.zarr").exists()


def test_the_xarray_accessor_uses_the_same_runner(cube_path, tmp_path):
    import geomm

    ds = geomm.open_cube(cube_path)
    grid = ds.geomm.chips()
    assert list(grid.chip_id) == [c.chip_id for c in cube_chips(ds)]
    table = ds.geomm.embed(model="croma-tiny", weights="random", precision="fp32", **LOW)
    config = EmbedConfig(model=ModelSpec("croma-tiny", "random", "fp32"), **LOW)
    _assert_same_table(
        table, read_table(embed_cube(cube_path, tmp_path / "t.parquet", config=config).path)
    )


@pytest.mark.timeout(600)
def test_a_local_cluster_gives_the_same_table(cube_path, tmp_path):
    config = EmbedConfig(model=TINY, embeddings=ALL, batch_size=4, **LOW)
    local = embed_cube(cube_path, tmp_path / "local.parquet", config=config)
    cluster = embed_cube(cube_path, tmp_path / "cluster.parquet", config=config, scheduler="local")
    assert cluster.rows == local.rows and cluster.blocks_total == local.blocks_total
    _assert_same_table(read_table(cluster.path), read_table(local.path))
