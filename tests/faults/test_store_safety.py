"""Issue 13, cases 1-4: cube stores are replaced, shared, checked and set up safely.

Truths: the files a user put in a folder (byte for byte), the pid and host
of the process holding a lease, a reference store written in one
uninterrupted run (every file compared byte for byte), and chunk files
damaged by the test itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from geomm._lease import lease_path, write_lease
from geomm.aoi import read_aoi
from geomm.cli import main
from geomm.cube import CubeConfig, CubeStoreError, build_cube, open_cube, verify_cube, write_cube
from geomm.cube._store import progress_dir
from geomm.errors import StoreInUseError, UnsafeTargetError
from geomm.sample import sample_aoi_path
from geomm.stac import search
from tests.cube.conftest import write_interrupted

START, END = "2024-06-01", "2024-06-12"
VARS = ["s2", "s1", "clear", "s1_time", "s1_lag_days", "x", "y", "time"]


@pytest.fixture(scope="module")
def cube(sample_catalog):
    """The demo AOI over two S2 dates, 2x2-chip chunks: 6 blocks."""
    aoi = read_aoi(sample_aoi_path())
    found = search(sample_catalog, aoi=aoi, start=START, end=END)
    return build_cube(
        found.items,
        aoi=aoi,
        profile=found.source.profile,
        config=CubeConfig(chunk_chips=2, task_chunks=1),
    )


@pytest.fixture(scope="module")
def reference(cube, tmp_path_factory) -> Path:
    """The cube written once, uninterrupted: the truth for every store below."""
    path = tmp_path_factory.mktemp("reference") / "ref.zarr"
    write_cube(cube, path)
    return path


def _cli_cube(sample_catalog: Path, out: Path, *extra: str) -> int:
    return main(
        ["cube", "--catalog", str(sample_catalog), "--aoi", str(sample_aoi_path()),
         "--start", START, "--end", END, "--chunk-chips", "2", "--out", str(out), *extra]
    )  # fmt: skip


def _files(store: Path) -> dict[str, bytes]:
    """Every file under ``store``, by its path inside it."""
    return {
        p.relative_to(store).as_posix(): p.read_bytes()
        for p in sorted(store.rglob("*"))
        if p.is_file()
    }


def _assert_same_store(a: Path, b: Path) -> None:
    """Byte for byte, every file (root metadata and manifest included), and value by value."""
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    different = [k for k in fa if fa[k] != fb[k]]
    assert different == []
    x, y = open_cube(a).load(), open_cube(b).load()
    for name in VARS:
        np.testing.assert_array_equal(x[name].values, y[name].values)


def _user_folder(path: Path) -> dict[str, bytes]:
    """A folder of a user's own files; returns what it holds, to compare afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "notes.txt").write_text("my thesis, chapter 3")
    (path / "data").mkdir(exist_ok=True)
    (path / "data" / "field.csv").write_text("a,b\n1,2\n")
    return _files(path)


# --------------------------------------------------------------------------- 1: overwrite


def test_overwrite_refuses_a_folder_geomm_did_not_make(cube, sample_catalog, tmp_path):
    folder = tmp_path / "mine"
    before = _user_folder(folder)
    with pytest.raises(CubeStoreError, match=r"not made by geomm.*overwrite=True replaces only"):
        write_cube(cube, folder, overwrite=True)
    assert _files(folder) == before
    assert _cli_cube(sample_catalog, folder, "--overwrite") == 1
    assert _files(folder) == before
    # a progress folder of that name that geomm did not fill is kept too
    assert not progress_dir(folder).exists()


def test_overwrite_replaces_a_store_geomm_made_and_only_that(cube, reference, tmp_path):
    path = tmp_path / "c.zarr"
    write_cube(cube.isel(time=[0]), path)
    neighbour = _user_folder(tmp_path / "c.zarr.data")  # a sibling the user owns
    write_cube(cube, path, overwrite=True)
    _assert_same_store(path, reference)
    assert _files(tmp_path / "c.zarr.data") == neighbour
    assert not lease_path(path).exists()  # the lease went with the run


@pytest.mark.parametrize("where", ["cwd", "parent-of-cwd", "home", "root"])
def test_root_like_targets_are_always_refused(cube, tmp_path, monkeypatch, where):
    work = tmp_path / "work"
    before = _user_folder(work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    target = {"cwd": Path("."), "parent-of-cwd": tmp_path, "home": Path("~"), "root": Path("/")}
    if where == "home":
        _user_folder(tmp_path / "home")
        target["home"] = tmp_path / "home"
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(UnsafeTargetError, match="never replaces; pass path="):
            write_cube(cube, target[where], **flags)
    assert _files(work) == before
    assert not list(work.glob("*.lock")) and not list(tmp_path.glob("*.lock"))


def test_cli_cube_out_dot_overwrite_empties_nothing(sample_catalog, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    before = _user_folder(work)
    monkeypatch.chdir(work)
    assert _cli_cube(sample_catalog, Path("."), "--overwrite") == 1
    assert "the current folder" in capsys.readouterr().err
    assert _files(work) == before


def test_embed_overwrite_keeps_a_user_folder_named_like_its_cube(sample_catalog, tmp_path):
    cube_folder = tmp_path / "emb.cube.zarr"  # where geomm embed would keep its cube
    before = _user_folder(cube_folder)
    code = main(
        ["embed", "--catalog", str(sample_catalog), "--aoi", str(sample_aoi_path()),
         "--start", START, "--end", END, "--model", "croma-tiny", "--weights", "random",
         "--out", str(tmp_path / "emb.parquet"), "--overwrite"]
    )  # fmt: skip
    assert code == 1
    assert _files(cube_folder) == before
    assert not (tmp_path / "emb.parquet").exists()


# --------------------------------------------------------------------------- 2: one writer


def test_a_second_writer_is_refused_and_told_who_holds_the_store(cube, tmp_path):
    path = tmp_path / "c.zarr"
    holder = f"pid {os.getpid()} on host {socket.gethostname()!r}"
    with write_lease(path, what="cube store"):
        for flags in ({}, {"overwrite": True}, {"resume": True}):
            with pytest.raises(StoreInUseError, match=f"being written by {holder} since"):
                write_cube(cube, path, **flags)
        assert not path.exists()  # nothing was written by the refused runs
    write_cube(cube, path)  # released: the store is free again


def _lease_file(path: Path, *, pid: int, host: str) -> Path:
    lock = lease_path(path)
    lock.write_text(
        json.dumps(
            {"kind": "geomm-lease", "what": "cube store", "pid": pid, "host": host,
             "started": "2026-12-01T10:00:00+00:00", "token": "dead"}
        )
    )  # fmt: skip
    return lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_writers_lease_is_taken_over_only_by_resume(cube, reference, tmp_path):
    path = tmp_path / "c.zarr"
    write_interrupted(cube, path, blocks=2)
    _lease_file(path, pid=_dead_pid(), host=socket.gethostname())  # as a SIGKILL leaves it
    with pytest.raises(StoreInUseError, match=r"is no longer running; rerun with resume=True"):
        write_cube(cube, path)
    report = write_cube(cube, path, resume=True)
    assert (report.blocks_skipped, report.blocks_written) == (2, 4)
    assert not lease_path(path).exists()
    _assert_same_store(path, reference)


def test_a_writer_whose_lease_was_taken_over_never_marks_the_store_complete(cube, tmp_path):
    path = tmp_path / "c.zarr"

    def taken_over(block):  # as if this run stalled and a resume took its lease meanwhile
        _lease_file(path, pid=1, host="elsewhere.example")

    with pytest.raises(StoreInUseError, match="lease was taken over while it was stalled"):
        write_cube(cube, path, progress=taken_over)
    with pytest.raises(CubeStoreError, match="incomplete"):
        open_cube(path)  # not marked complete by the run that lost its lease
    assert json.loads(lease_path(path).read_text())["host"] == "elsewhere.example"  # kept


def test_a_held_lease_is_never_refreshed_once_taken_over(tmp_path):
    target = tmp_path / "t"
    with write_lease(target, what="test", heartbeat_s=0.05):
        lock = _lease_file(target, pid=1, host="elsewhere.example")
        old = time.time() - 3600
        os.utime(lock, (old, old))
        time.sleep(0.3)  # several heartbeats
        assert lock.stat().st_mtime == pytest.approx(old, abs=1)  # the other's lease, left alone
    assert lock.exists()  # and not removed when this holder left


def test_a_lease_from_another_host_is_stale_only_when_its_heartbeat_stopped(cube, tmp_path):
    path = tmp_path / "c.zarr"
    lock = _lease_file(path, pid=1, host="elsewhere.example")
    with pytest.raises(StoreInUseError, match="pid 1 on host 'elsewhere.example'"):
        write_cube(cube, path, resume=True)  # alive as far as anyone can tell
    old = time.time() - 3600
    os.utime(lock, (old, old))
    with pytest.raises(StoreInUseError, match=r"no heartbeat for \d+ s; rerun with resume=True"):
        write_cube(cube, path)
    write_cube(cube, path, overwrite=True)
    assert open_cube(path).attrs["geomm_status"] == "complete"


def test_a_held_lease_keeps_its_heartbeat(tmp_path):
    path = tmp_path / "c.zarr"
    with write_lease(path, what="cube store", heartbeat_s=0.05):
        lock = lease_path(path)
        first = lock.stat().st_mtime_ns
        deadline = time.monotonic() + 5
        while lock.stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.stat().st_mtime_ns > first
    assert not lock.exists()


def test_taking_the_lease_is_atomic_among_racing_writers(tmp_path):
    path = tmp_path / "c.zarr"
    start, results = threading.Barrier(16), []
    release = threading.Event()

    def contender() -> None:
        start.wait()
        try:
            with write_lease(path, what="cube store"):
                results.append("held")
                release.wait(5)
        except StoreInUseError:
            results.append("refused")

    threads = [threading.Thread(target=contender) for _ in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(results) < 16 and time.monotonic() < deadline:
        if results.count("refused") == 15:
            break
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join()
    assert sorted(results) == ["held"] + ["refused"] * 15


def test_cli_refuses_a_store_another_process_writes_then_resumes_after_it_died(
    cube, sample_catalog, tmp_path, capsys
):
    path = tmp_path / "c.zarr"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from geomm._lease import write_lease
            with write_lease({str(path)!r}, what="cube store"):
                time.sleep(120)
        """)]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not lease_path(path).exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.02)
        assert _cli_cube(sample_catalog, path, "--overwrite") == 1
        assert f"being written by pid {holder.pid} on host" in capsys.readouterr().err
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert _cli_cube(sample_catalog, path) == 1  # stale: a plain run does not take it over
    assert "no longer running" in capsys.readouterr().err
    assert _cli_cube(sample_catalog, path, "--resume") == 0
    assert open_cube(path).attrs["geomm_status"] == "complete"


# --------------------------------------------------------------------------- 3: integrity


def _chunk(store: Path, var: str, t: int, row: int, col: int) -> Path:
    band = [] if var == "clear" else ["0"]
    return store.joinpath(var, "c", str(t), *band, str(row), str(col))


def test_open_cube_names_missing_and_truncated_chunks(reference, tmp_path):
    path = tmp_path / "c.zarr"
    shutil.copytree(reference, path)
    _chunk(path, "s2", 0, 0, 0).unlink()
    _chunk(path, "clear", 1, 1, 2).unlink()
    truncated = _chunk(path, "s1", 0, 1, 1)
    truncated.write_bytes(truncated.read_bytes()[:10])
    with pytest.raises(CubeStoreError) as caught:
        open_cube(path)
    text = str(caught.value)
    assert "3 chunk file(s) missing or changed" in text
    assert "s2/c/0/0/0/0 (missing)" in text and "clear/c/1/1/2 (missing)" in text
    assert "s1/c/0/0/1/1 (size 10, written" in text and "resume=True" in text
    assert open_cube(path, allow_incomplete=True).sizes == open_cube(reference).sizes


def test_verify_finds_changed_bytes_that_open_cannot_see(reference, tmp_path, capsys):
    path = tmp_path / "c.zarr"
    shutil.copytree(reference, path)
    assert verify_cube(path).sound and main(["verify", str(path)]) == 0
    assert "sound" in capsys.readouterr().out
    chunk = _chunk(path, "s2", 1, 1, 0)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only a checksum tells
    chunk.write_bytes(bytes(data))
    _chunk(path, "clear", 0, 0, 1).unlink()
    report = verify_cube(path)
    assert [d.key for d in report.damaged] == ["clear/c/0/0/1", "s2/c/1/0/1/0"]
    assert report.damaged[1].problem.startswith("checksum differs")
    manifest = json.loads((path / "geomm" / "manifest.json").read_text())["files"]
    assert report.chunks_checked == len(manifest) == len(_files(reference)) - 3
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "s2/c/1/0/1/0" in out and "clear/c/0/0/1" in out and "damaged" in out


def test_resume_rewrites_exactly_the_damaged_blocks_and_equals_the_original(
    cube, reference, tmp_path
):
    path = tmp_path / "c.zarr"
    shutil.copytree(reference, path)
    _chunk(path, "s2", 0, 0, 0).unlink()  # block y0 x0
    _chunk(path, "s2", 1, 0, 0).unlink()  # the same block, another time
    broken = _chunk(path, "s1", 1, 1, 2)  # block y1 x2: changed in place
    data = bytearray(broken.read_bytes())
    data[-1] ^= 0x01
    broken.write_bytes(bytes(data))
    sound_block = [_chunk(path, v, t, 0, 1) for v in ("s2", "s1", "clear") for t in (0, 1)]
    mtimes = {p: p.stat().st_mtime_ns for p in sound_block}
    report = write_cube(cube, path, resume=True)
    assert (report.blocks_written, report.blocks_skipped) == (2, 4)
    assert {p: p.stat().st_mtime_ns for p in sound_block} == mtimes  # not rewritten
    _assert_same_store(path, reference)
    assert verify_cube(path).sound


def test_damage_outside_the_pixels_is_not_patched_over(cube, reference, tmp_path):
    path = tmp_path / "c.zarr"
    shutil.copytree(reference, path)
    (path / "x" / "c" / "0").unlink()
    with pytest.raises(CubeStoreError, match=r"outside its pixel data \(x/c/0.*overwrite=True"):
        write_cube(cube, path, resume=True)


# --------------------------------------------------------------------------- 4: setup

_KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
import zarr.storage
import geomm.cube._store as store
from geomm.aoi import read_aoi
from geomm.cube import CubeConfig, build_cube, write_cube
from geomm.sample import sample_aoi_path
from geomm.stac import search

catalog, out, point, START, END = sys.argv[1], Path(sys.argv[2]), *sys.argv[3:6]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point.startswith("set-"):  # the n-th object Zarr writes
    real, calls = zarr.storage.LocalStore.set, []
    async def set_(self, key, value):
        calls.append(key)
        if len(calls) == int(point[4:]):
            die()
        return await real(self, key, value)
    zarr.storage.LocalStore.set = set_
elif point == "marker":
    store._write_marker = lambda *a: die()
elif point in ("before-rename", "after-rename"):
    real_rename = os.rename
    def rename(a, b):
        if point == "before-rename":
            die()
        real_rename(a, b)
        die()
    store.os.rename = rename

aoi = read_aoi(sample_aoi_path())
found = search(catalog, aoi=aoi, start=START, end=END)
ds = build_cube(found.items, aoi=aoi, profile=found.source.profile,
                config=CubeConfig(chunk_chips=2, task_chunks=1))
write_cube(ds, out)
"""

POINTS = ["set-1", "set-10", "set-37", "marker", "before-rename", "after-rename", "set-45"]
"""Kill points: Zarr's 1st, 10th and 37th skeleton write (of 38), before the marker, before
and after the skeleton's rename, and the first pixel chunks (write 45)."""


def test_sigkill_at_any_point_of_setup_then_resume_equals_a_clean_run(
    cube, reference, sample_catalog, tmp_path
):
    stores = {point: tmp_path / point / "c.zarr" for point in POINTS}
    procs = {}
    for point, store in stores.items():
        store.parent.mkdir()
        procs[point] = subprocess.Popen(
            [sys.executable, "-c", _KILL_SCRIPT, str(sample_catalog), str(store), point]
            + [START, END],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    for point, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (point, err.decode()[-2000:])
    for point, store in stores.items():
        assert lease_path(store).exists(), point  # the dead writer's lease is left behind
        # a store is absent or resumable: never "not a geomm cube", never a KeyError
        report = write_cube(cube, store, resume=True)
        assert report.blocks_written + report.blocks_skipped == 6, point
        _assert_same_store(store, reference)
        assert not [p.name for p in store.parent.iterdir() if p.name != "c.zarr"], point


def test_a_folder_under_the_setup_name_that_is_not_geomm_s_is_kept(cube, tmp_path):
    path = tmp_path / "c.zarr"
    setup = tmp_path / ".c.zarr.geomm-setup"  # the hidden name setup writes the skeleton to
    before = _user_folder(setup)
    with pytest.raises(CubeStoreError, match="geomm did not make it"):
        write_cube(cube, path)
    assert _files(setup) == before
    shutil.rmtree(setup)
    (setup).mkdir()
    (setup / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    write_cube(cube, path)  # the empty group a setup killed after its first write leaves
    assert not setup.exists() and open_cube(path) is not None
