"""Shared fixtures: a private geomm cache, the sample catalog, a local STAC API.

Tests never touch the internet: the only server they talk to is
``rustac serve`` bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point geomm's cache at a fresh folder, so tests neither read nor pollute ~/.cache;
    and keep geomm offline (``GEOMM_OFFLINE=1``: no weight downloads)."""
    cache = tmp_path_factory.mktemp("geomm-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEOMM_CACHE_DIR", str(cache))
    # never download model weights, in this process or any it starts
    mp.setenv("GEOMM_OFFLINE", "1")
    yield cache
    mp.undo()


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(scope="session", autouse=True)
def _no_network() -> Iterator[None]:
    """Refuse every connection and name lookup that is not loopback, in this process.

    Tests may name remote URLs (profiles, schema ids, a weights URL on
    ``example.invalid``) but must never contact them; this turns a slip into
    a failing test instead of a silent download. Processes the tests start
    are kept offline by ``GEOMM_OFFLINE=1`` and by talking only to 127.0.0.1.
    """
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(address: object) -> bool:
        return not isinstance(address, tuple) or str(address[0]) in _LOOPBACK

    def connect(self, address):
        if not allowed(address):
            raise OSError(f"tests are offline: refused a connection to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not allowed(address):
            raise OSError(f"tests are offline: refused a connection to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and str(host) not in _LOOPBACK:
            raise socket.gaierror(f"tests are offline: refused to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", connect)
    mp.setattr(socket.socket, "connect_ex", connect_ex)
    mp.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    mp.undo()


@pytest.fixture(scope="session", autouse=True)
def _deletes_stay_in_temp() -> Iterator[None]:
    """Make ``shutil.rmtree`` refuse any folder outside the temporary folders.

    Some tests check that geomm refuses to replace ``/``, the home folder or
    the current folder; they run as root in CI. Should that guard ever break,
    this turns what would be ``rm -rf /`` into a failing test.
    """
    import shutil
    import tempfile

    real_rmtree = shutil.rmtree
    temp = Path(tempfile.gettempdir()).resolve()

    def rmtree(path, *args, **kwargs):
        where = Path(path).expanduser().resolve()
        if where == temp or not where.is_relative_to(temp):
            raise AssertionError(f"tests may only delete inside {temp}; refused {str(path)!r}")
        return real_rmtree(path, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(shutil, "rmtree", rmtree)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def sample_catalog(_private_cache: Path) -> Path:
    """Root catalog.json of the bundled sample catalog (synthetic part generated once)."""
    from geomm.sample import sample_catalog as build

    return build()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rustac() -> str:
    exe = Path(sys.executable).parent / "rustac"
    found = str(exe) if exe.exists() else shutil.which("rustac")
    if not found:
        pytest.fail("rustac is not installed; `pip install -e '.[test]'` brings it")
    return found


@pytest.fixture
def stac_api(tmp_path: Path) -> Iterator[Callable[[list[dict], list[dict]], str]]:
    """Start ``rustac serve`` on 127.0.0.1 with given collections and items; return its URL."""
    procs: list[subprocess.Popen] = []

    def start(collections: list[dict], items: list[dict]) -> str:
        folder = tmp_path / f"api{len(procs)}"
        folder.mkdir()
        hrefs = []
        for c in collections:
            path = folder / f"collection-{c['id']}.json"
            doc = {**c, "links": []}
            path.write_text(json.dumps(doc))
            hrefs.append(str(path))
        items_path = folder / "items.ndjson"
        items_path.write_text("".join(json.dumps(i) + "\n" for i in items))
        hrefs.append(str(items_path))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [_rustac(), "serve", "--addr", f"127.0.0.1:{port}", *hrefs],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"rustac serve exited early: {out}")
            try:
                with urllib.request.urlopen(url + "/", timeout=1) as r:
                    if r.status == 200:
                        return url
            except OSError:
                time.sleep(0.1)
        pytest.fail("rustac serve did not answer within 20 s")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class DaskCluster:
    """A `dask scheduler` and `dask worker` processes started on 127.0.0.1."""

    def __init__(self, address: str, scheduler: subprocess.Popen, workers: list) -> None:
        self.address = address
        self.scheduler = scheduler
        self.workers = workers
        """The worker processes, in start order (a test may kill one)."""


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[Callable[..., DaskCluster]]:
    """Start a Dask scheduler and worker processes, each a separate OS process.

    Call with ``workers`` = a list of per-worker extra environments (one
    worker each; ``nanny=False`` in it keeps a killed worker dead instead of
    restarted), returns a :class:`DaskCluster` once every worker has joined.
    """
    import os

    bindir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []

    def start(workers: list[dict] | None = None, threads: int = 1) -> DaskCluster:
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        log = tmp_path / "dask-logs"
        log.mkdir(exist_ok=True)
        scheduler = subprocess.Popen(
            [
                str(bindir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(log / "scheduler.log").open("w"),
            cwd=tmp_path,
        )
        procs.append(scheduler)
        started = []
        for i, extra in enumerate(workers or [{}]):
            extra = dict(extra)
            nanny = extra.pop("nanny", True)
            cmd = [
                str(bindir / "dask"),
                "worker",
                address,
                "--nthreads",
                str(threads),
                "--nworkers",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"worker-{i}",
            ]
            if not nanny:
                cmd.append("--no-nanny")
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,
                stderr=(log / f"worker-{i}.log").open("w"),
                cwd=tmp_path,
                env={**os.environ, **{k: str(v) for k, v in extra.items()}},
            )
            procs.append(proc)
            started.append(proc)
        from distributed import Client

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with Client(address, timeout=2) as client:
                    if len(client.scheduler_info()["workers"]) >= len(started):
                        return DaskCluster(address, scheduler, started)
            except OSError:
                pass
            time.sleep(0.5)
        pytest.fail("the Dask cluster did not come up within 90 s")

    yield start
    for proc in reversed(procs):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
