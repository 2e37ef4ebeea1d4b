"""One writer per store: leases, and the targets geomm never replaces.

A *lease* is one small JSON object beside the store it guards
(``<store>.lock``): who writes (pid, host, what), since when, and a
heartbeat (the object's modification time, refreshed by a daemon thread
while the lease is held). It is created atomically: the JSON goes to a
private temporary file first, which is then hard-linked to the lease name,
and ``link`` fails if the name exists. That is a conditional put (S3's
``If-None-Match: *``), so the same design carries to object stores; no
check-then-write, no rename, no directory.

A lease is *stale* when its writer is gone: on the same host, its pid is
no longer running; from any host, its heartbeat is older than
``stale_after_s``. A stale lease is taken over only when the caller says so
(``takeover=True``, i.e. ``resume=True`` or ``overwrite=True``); the takeover
itself is guarded by a second short-lived object (``<store>.lock.break``),
so two resumers cannot both take over one dead writer's lease.

:func:`refuse_unsafe_target` names the folders no store may be: a
filesystem root, the home folder, the current folder or any folder above it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from geomm.errors import StoreInUseError, UnsafeTargetError

__all__ = ["LeaseInfo", "check_held", "lease_path", "refuse_unsafe_target", "write_lease"]

HEARTBEAT_S = 5.0
"""Seconds between two refreshes of a held lease's heartbeat."""
STALE_AFTER_S = 120.0
"""A lease whose heartbeat is older than this is from a writer that is gone."""
_BREAK_STALE_S = 30.0
"""A takeover guard older than this was left by a takeover that died (it takes ms)."""
_KIND = "geomm-lease"


@dataclass(frozen=True)
class LeaseInfo:
    """The content of a lease object: who writes the store, and since when."""

    kind: str
    """Always ``"geomm-lease"``: tells a geomm lease from a user's file of that name."""
    what: str
    """What is written ("cube store", "embedding table"), for messages."""
    pid: int
    """Process id of the writer."""
    host: str
    """Host name of the writer (a pid means something only on its own host)."""
    started: str
    """When the lease was taken, ISO 8601 UTC."""
    token: str
    """Random id of this lease: tells two leases of one pid apart."""


def lease_path(target: str | Path) -> Path:
    """Where the lease of ``target`` (a store folder or a file) lives: beside it."""
    target = Path(target)
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def write_lease(
    target: str | Path,
    *,
    what: str,
    takeover: bool = False,
    heartbeat_s: float = HEARTBEAT_S,
    stale_after_s: float = STALE_AFTER_S,
) -> Iterator[LeaseInfo]:
    """Hold the one lease to write ``target`` for the ``with`` block.

    Args:
        target: the store folder or file to be written (need not exist; its
            parent folder is created).
        what: what ``target`` is, for messages ("cube store").
        takeover: take over a stale lease (the caller resumes or replaces
            the dead writer's work); a live writer's lease is never taken.
        heartbeat_s: seconds between heartbeats.
        stale_after_s: heartbeat age after which a lease counts as abandoned.

    Raises:
        StoreInUseError: another writer holds the lease, or a stale lease is
            in the way and ``takeover`` is false, or the lease name is taken
            by a file that is not a geomm lease.
        OSError: the lease cannot be written (no folder, no permission).
    """
    target = Path(target)
    lock = lease_path(target)
    if not lock.parent.exists():  # a parent that is a file fails below, as "not a directory"
        lock.parent.mkdir(parents=True)
    info = LeaseInfo(
        kind=_KIND,
        what=what,
        pid=os.getpid(),
        host=socket.gethostname(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        token=uuid.uuid4().hex,
    )
    _acquire(lock, target, info, takeover=takeover, stale_after_s=stale_after_s)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(lock, info, stop, heartbeat_s), daemon=True, name="geomm-lease"
    )
    beat.start()
    try:
        yield info
    finally:
        stop.set()
        beat.join()
        if (held := _read(lock)) is not None and held.token == info.token:
            lock.unlink(missing_ok=True)


def check_held(target: str | Path, info: LeaseInfo) -> None:
    """Raise unless the lease of ``target`` is still the one ``info`` took.

    A writer that stalled past ``stale_after_s`` (a suspended laptop, a
    stopped process) looks dead, and a resume may take its lease over; when
    it wakes it must not finish the store as if it were still the only
    writer. Writers call this right before they mark their work complete.

    Raises:
        StoreInUseError: the lease was taken over (or removed) meanwhile.
    """
    held = _read(lease_path(target))
    if held is None or held.token != info.token:
        raise StoreInUseError(
            f"{str(target)!r}: this run's lease was taken over while it was stalled (no "
            f"heartbeat for over {STALE_AFTER_S:.0f} s made it look gone), so it stopped "
            "before marking its work complete; let the other run finish, or rerun with "
            "resume=True once it has"
        )


def refuse_unsafe_target(path: str | Path, *, what: str, argument: str = "out") -> None:
    """Raise unless ``path`` may be a store geomm writes (and may one day replace).

    A store is never a filesystem root, the home folder, the current folder
    or a folder above it: replacing one of those would delete the user's
    files, whatever markers it holds.

    Raises:
        UnsafeTargetError: ``path`` is one of those folders.
    """
    resolved = Path(path).expanduser().resolve()
    cwd = Path.cwd().resolve()
    reason = None
    if resolved.parent == resolved or os.path.ismount(resolved):
        reason = "a filesystem root"
    elif resolved == Path.home().resolve():
        reason = "the home folder"
    elif cwd == resolved or cwd.is_relative_to(resolved):
        reason = "the current folder" if cwd == resolved else "a folder above the current one"
    if reason:
        raise UnsafeTargetError(
            f"{str(path)!r} is {reason}, which a {what} never replaces; pass {argument}= a new "
            "path inside it instead"
        )


# --------------------------------------------------------------------------- internals


def _acquire(
    lock: Path, target: Path, info: LeaseInfo, *, takeover: bool, stale_after_s: float
) -> None:
    for _attempt in range(3):  # a lease released or broken between two looks: look again
        if _create_exclusive(lock, info):
            return
        held = _read(lock)
        if held is None:
            if not lock.exists():
                continue
            raise StoreInUseError(
                f"{str(lock)!r} is in the way of the lease of {str(target)!r} and is not a "
                "geomm lease; move it away (geomm does not remove files it did not make)"
            )
        stale = _stale_reason(lock, held, stale_after_s)
        if stale is None:
            raise StoreInUseError(
                f"{str(target)!r} is being written by pid {held.pid} on host {held.host!r} "
                f"since {held.started}; wait for it or, if that process is gone, rerun with "
                "resume=True"
            )
        if not takeover:
            raise StoreInUseError(
                f"{str(target)!r} was being written by pid {held.pid} on host {held.host!r} "
                f"since {held.started}, which {stale}; rerun with resume=True to continue its "
                "work (or overwrite=True to start again)"
            )
        _break(lock, held)
    raise StoreInUseError(
        f"{str(target)!r}: its lease changed hands while this run tried to take it; "
        "another run is starting on it: wait for it"
    )


def _stale_reason(lock: Path, held: LeaseInfo, stale_after_s: float) -> str | None:
    """Why the writer of ``held`` is gone, or ``None`` while it may still be running."""
    if held.host == socket.gethostname() and not _pid_alive(held.pid):
        return "is no longer running"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return "has finished"
    if age > stale_after_s:
        return f"has sent no heartbeat for {age:.0f} s"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _break(lock: Path, seen: LeaseInfo) -> None:
    """Remove the stale lease ``seen``, unless someone else already replaced it."""
    guard = lock.with_name(lock.name + ".break")
    if not _create_exclusive(guard, seen):
        try:
            old = time.time() - guard.stat().st_mtime > _BREAK_STALE_S
        except FileNotFoundError:
            return  # that takeover just finished: look again
        if not old:
            return
        guard.unlink(missing_ok=True)
        return
    try:
        current = _read(lock)
        if current is not None and current.token == seen.token:
            lock.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


def _create_exclusive(path: Path, info: LeaseInfo) -> bool:
    """Create ``path`` holding ``info``, whole, if no such name exists (``link``)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "x") as f:
            json.dump(asdict(info), f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _read(lock: Path) -> LeaseInfo | None:
    """The lease at ``lock``, or ``None`` when there is none or it is not a geomm lease."""
    try:
        raw = json.loads(lock.read_text())
        if raw.get("kind") != _KIND:
            return None
        return LeaseInfo(**raw)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _heartbeat(lock: Path, info: LeaseInfo, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        held = _read(lock)
        if held is None or held.token != info.token:
            return  # taken over: never keep another writer's lease alive
        with contextlib.suppress(OSError):  # a missed beat is retried at the next one
            os.utime(lock)
