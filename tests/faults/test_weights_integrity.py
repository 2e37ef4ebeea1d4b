"""Issue 13 case 5: a weights file changed in place is always seen as changed.

geomm caches a weights file's sha256 in ``<file>.sha256`` so a 778 MB file is
not hashed on every run. The cache must not outlive the bytes it describes: a
file corrupted in place, with its mtime put back (``os.utime``), is hashed
again (its ctime, inode or size differ), so the recorded weights id changes
and a published name's hash check refuses it. A sidecar that geomm did not
write is never trusted and never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from geomm.models import WeightsError, load_model, save_checkpoint
from geomm.models._weights import file_sha256


def sha256(path: Path) -> str:
    """The independent truth: hashlib over the bytes as they are now."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def corrupt_in_place(path: Path) -> None:
    """Flip one byte in the middle of the file, then restore atime and mtime exactly."""
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


@pytest.fixture(scope="module")
def tiny():
    return load_model("croma-tiny", "random", precision="fp32", seed=5)


def test_in_place_corruption_with_mtime_restored_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(1 << 16))
    good = sha256(path)
    assert file_sha256(path) == good
    assert sidecar(path).is_file()  # the cache was written, so the next call could use it
    corrupt_in_place(path)
    bad = sha256(path)
    assert bad != good
    assert file_sha256(path) == bad


def test_corrupted_published_name_is_refused(tiny, tmp_path: Path) -> None:
    made = save_checkpoint(tiny, tmp_path / "tiny.pt")
    digest = sha256(made)
    path = made.rename(tmp_path / f"tiny-{digest[:8]}.pt")  # torch hub's name-<hash>.pt
    first = load_model("croma-tiny", path, precision="fp32")
    assert first.weights_id == f"{path.name} sha256:{digest[:16]}"
    corrupt_in_place(path)
    with pytest.raises(WeightsError, match="corrupt or not the published file"):
        load_model("croma-tiny", path, precision="fp32")


def test_other_weights_written_in_place_get_their_own_id(tiny, tmp_path: Path) -> None:
    """The filer's case: embeddings changed, the recorded weights id did not."""
    path = save_checkpoint(tiny, tmp_path / "mine.pt")
    first = load_model("croma-tiny", path, precision="fp32")
    other = save_checkpoint(
        load_model("croma-tiny", "random", precision="fp32", seed=6), tmp_path / "b" / "mine.pt"
    )  # the same name: torch.save's archive names its records after the file
    st = path.stat()
    assert other.stat().st_size == st.st_size
    with path.open("r+b") as f:  # same inode, same size, then the old times put back
        f.write(other.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = load_model("croma-tiny", path, precision="fp32")
    assert second.weights_id == f"mine.pt sha256:{sha256(other)[:16]}"
    assert second.weights_id != first.weights_id


def test_cache_is_used_while_the_file_is_unchanged(tmp_path: Path) -> None:
    """The sidecar still saves the hash: a record with a planted digest is believed."""
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(1 << 12))
    good = file_sha256(path)
    side = sidecar(path)
    record = json.loads(side.read_text())
    side.write_text(json.dumps({**record, "sha256": "f" * 64}))
    st = path.stat()
    os.utime(side, ns=(st.st_ctime_ns + 10**9, st.st_ctime_ns + 10**9))  # written after
    assert file_sha256(path) == "f" * 64
    assert good == sha256(path)


def test_copy_with_preserved_times_is_hashed_again(tmp_path: Path) -> None:
    """A sidecar copied along with another file (cp -p) describes another inode."""
    a = tmp_path / "a" / "w.bin"
    a.parent.mkdir()
    a.write_bytes(os.urandom(1 << 12))
    file_sha256(a)
    b = tmp_path / "b" / "w.bin"
    b.parent.mkdir()
    b.write_bytes(os.urandom(1 << 12))  # other content, same size
    st = a.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    sidecar(b).write_bytes(sidecar(a).read_bytes())
    assert file_sha256(b) == sha256(b)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        b"\xff\xfe\x00 random bytes",
        b"0123abcd" * 8 + b"  weights.bin\n",  # sha256sum's own format: the user's file
        b'{"size": "x", "mtime_ns": [], "sha256": 5}',
    ],
)
def test_a_sidecar_geomm_did_not_write_is_ignored_and_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(1 << 12))
    side = sidecar(path)
    side.write_bytes(content)
    before = side.read_bytes()
    assert file_sha256(path) == sha256(path)
    assert file_sha256(path) == sha256(path)
    assert side.read_bytes() == before  # not geomm's file: not overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin", "weights.bin.sha256"]


def test_a_sidecar_that_is_a_folder_is_no_internal_error(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(1 << 12))
    sidecar(path).mkdir()
    assert file_sha256(path) == sha256(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin", "weights.bin.sha256"]


def test_sidecar_of_an_older_geomm_is_rehashed_and_replaced(tmp_path: Path) -> None:
    """geomm before issue 13 keyed the cache by size and mtime only: not trusted now."""
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(1 << 12))
    st = path.stat()
    old = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": "f" * 64}
    sidecar(path).write_text(json.dumps(old))
    assert file_sha256(path) == sha256(path)
    assert json.loads(sidecar(path).read_text())["sha256"] == sha256(path)
