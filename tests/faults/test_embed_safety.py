"""Issue 13, cases 1, 2 and the embed errors: an embedding table's files are safe.

Truths: the bytes of files a user made, the pid of the process holding the
table's lease, and a table embedded in one uninterrupted run (rows and
embeddings compared exactly).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import geomm.embed._run as run_module
import geomm.embed._table as table_module
from geomm._lease import lease_path, write_lease
from geomm.aoi import read_aoi
from geomm.cli import main
from geomm.cube import CubeConfig, make_cube
from geomm.embed import EmbedConfig, EmbedError, ModelSpec, embed_cube, parts_dir, read_table
from geomm.errors import StoreInUseError
from geomm.sample import sample_aoi_path

TINY = ModelSpec(name="croma-tiny", weights="random", precision="fp32", seed=3)
CONFIG = EmbedConfig(model=TINY, min_clear=0.5, min_s1_coverage=0.5)


@pytest.fixture(scope="module")
def cube_path(sample_catalog, tmp_path_factory) -> Path:
    """The demo AOI's cube over two S2 dates, 2x2-chip chunks: 6 blocks."""
    out = tmp_path_factory.mktemp("embed-safety") / "cube.zarr"
    make_cube(
        str(sample_catalog),
        aoi=read_aoi(sample_aoi_path()),
        start="2024-06-01",
        end="2024-06-12",
        out=out,
        config=CubeConfig(chunk_chips=2),
    )
    return out


@pytest.fixture(scope="module")
def clean(cube_path, tmp_path_factory):
    """The table of one uninterrupted run: the truth for resumed runs."""
    out = tmp_path_factory.mktemp("clean") / "clean.parquet"
    embed_cube(cube_path, out, config=CONFIG)
    return read_table(out)


def _cli(cube_path: Path, out: Path, *extra: str) -> int:
    return main(
        ["embed", "--aoi", str(sample_aoi_path()), "--cube", str(cube_path), "--model",
         "croma-tiny", "--weights", "random", "--precision", "fp32", "--min-clear", "0.5",
         "--min-s1-coverage", "0.5", "--out", str(out), *extra]
    )  # fmt: skip


def _assert_same_table(table, truth) -> None:
    assert len(table) == len(truth) > 0
    assert list(table.chip_id) == list(truth.chip_id)
    np.testing.assert_array_equal(table.time.to_numpy(), truth.time.to_numpy())
    np.testing.assert_array_equal(np.stack(table.embedding), np.stack(truth.embedding))


def _interrupt_after(n: int):
    calls = []

    def progress(block) -> None:
        calls.append(block)
        if len(calls) == n:
            raise KeyboardInterrupt

    return progress


# --------------------------------------------------------------------------- 1: overwrite


def test_overwrite_replaces_only_a_table_geomm_wrote(cube_path, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), out)  # the user's own Parquet file
    before = out.read_bytes()
    with pytest.raises(EmbedError, match=r"not an embedding table geomm wrote.*overwrite=True"):
        embed_cube(cube_path, out, config=CONFIG, overwrite=True)
    assert _cli(cube_path, out, "--overwrite") == 1
    assert "not an embedding table geomm wrote" in capsys.readouterr().err
    assert out.read_bytes() == before and not parts_dir(out).exists()

    out.unlink()
    folder = parts_dir(out)  # a folder of the user's where the run folder would go
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    with pytest.raises(EmbedError, match=r"geomm did not make it \(it has no run.json\)"):
        embed_cube(cube_path, out, config=CONFIG, overwrite=True)
    assert (folder / "mine.txt").read_text() == "keep me"


def test_overwrite_replaces_geomm_s_table_and_run_folder(cube_path, clean, tmp_path):
    out = tmp_path / "t.parquet"
    with pytest.raises(KeyboardInterrupt):
        embed_cube(cube_path, out, config=CONFIG, progress=_interrupt_after(2))
    embed_cube(cube_path, out, config=CONFIG, overwrite=True)
    embed_cube(cube_path, out, config=CONFIG, overwrite=True)  # replaces its own table
    _assert_same_table(read_table(out), clean)
    assert not parts_dir(out).exists() and not lease_path(out).exists()


# --------------------------------------------------------------------------- 2: one writer


def test_a_second_run_is_refused_while_another_holds_the_table(cube_path, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    holder = f"pid {os.getpid()} on host {socket.gethostname()!r}"
    with write_lease(out, what="embedding table"):
        for flags in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(StoreInUseError, match=f"being written by {holder}"):
                embed_cube(cube_path, out, config=CONFIG, **flags)
        assert _cli(cube_path, out, "--resume") == 1
        assert "being written by pid" in capsys.readouterr().err
        assert not out.exists() and not parts_dir(out).exists()


def test_the_merge_refuses_a_run_folder_missing_a_listed_part(
    cube_path, clean, tmp_path, monkeypatch
):
    """What a concurrent run did: delete parts between the embedding and the merge."""
    out = tmp_path / "t.parquet"
    real = run_module._run_local

    def then_lose_a_part(source, todo, config, names, parts, progress):
        result = real(source, todo, config, names, parts, progress)
        sorted(parts.glob("*.parquet"))[2].unlink()
        return result

    monkeypatch.setattr(run_module, "_run_local", then_lose_a_part)
    with pytest.raises(EmbedError, match=r"lacks 1 of the 6 blocks its run.json lists"):
        embed_cube(cube_path, out, config=CONFIG)
    assert not out.exists()  # never a short table
    monkeypatch.setattr(run_module, "_run_local", real)
    report = embed_cube(cube_path, out, config=CONFIG, resume=True)
    assert report.blocks_resumed == 5
    _assert_same_table(read_table(out), clean)


# --------------------------------------------------------------------------- 5: run files


def test_a_corrupt_run_file_is_one_line_with_the_fix(cube_path, clean, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    with pytest.raises(KeyboardInterrupt):
        embed_cube(cube_path, out, config=CONFIG, progress=_interrupt_after(2))
    (parts_dir(out) / "run.json").write_bytes(b'{"cube_fingerprint": \xff')
    with pytest.raises(
        EmbedError, match=r"run.json' of the interrupted run is unreadable.*overwrite"
    ):
        embed_cube(cube_path, out, config=CONFIG, resume=True)
    assert _cli(cube_path, out, "--resume") == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "unreadable" in err
    embed_cube(cube_path, out, config=CONFIG, overwrite=True)
    _assert_same_table(read_table(out), clean)


def test_a_corrupt_stats_file_or_part_is_embedded_again_on_resume(cube_path, clean, tmp_path):
    out = tmp_path / "t.parquet"
    with pytest.raises(KeyboardInterrupt):
        embed_cube(cube_path, out, config=CONFIG, progress=_interrupt_after(3))
    parts = parts_dir(out)
    stats = sorted(parts.glob("*.stats.json"))
    part_files = sorted(parts.glob("*.parquet"))
    assert len(stats) == len(part_files) == 3
    stats[0].write_text("{")  # cut short
    part_files[1].write_bytes(part_files[1].read_bytes()[:100])  # truncated
    report = embed_cube(cube_path, out, config=CONFIG, resume=True)
    assert (report.blocks_resumed, report.blocks_total) == (1, 6)
    _assert_same_table(read_table(out), clean)


def test_disk_full_during_embed_is_an_embed_error_and_resumes(
    cube_path, clean, tmp_path, monkeypatch, capsys
):
    real, calls = table_module._write_atomic, []

    def fills_up(table, path, extra):
        calls.append(path)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(table, path, extra)

    monkeypatch.setattr(table_module, "_write_atomic", fills_up)
    out = tmp_path / "t.parquet"
    with pytest.raises(EmbedError, match=r"No space left on device.*resume=True to keep"):
        embed_cube(cube_path, out, config=CONFIG)
    calls.clear()
    other = tmp_path / "cli.parquet"
    assert _cli(cube_path, other) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "internal error" not in err
    monkeypatch.setattr(table_module, "_write_atomic", real)  # room again
    report = embed_cube(cube_path, out, config=CONFIG, resume=True)
    assert report.blocks_resumed >= 1
    _assert_same_table(read_table(out), clean)
