"""Fuzz the command line: bad values for every option of every command.

Hypothesis picks a command, takes a valid and cheap invocation of it (a tiny
AOI of the sample catalog, a 40-pair caption set, croma-tiny with random
weights), replaces one to three of its options with hostile values (paths
that are folders, garbage files, ``/``, ``.``, numbers that are NaN, zero,
negative or 1e308, Rich markup, credentials in URLs, malformed dates, CRSs
and periods) and runs ``geomm.cli.main`` in this process. Every invocation
must end as a user would want:

- exit 0 (the value was fine) or 1 (one ``error:`` line: what, where, the
  fix; click's usage errors too);
- never 70 ("internal error"), never a traceback (unless ``--verbose`` asked
  for one);
- credentials in a URL geomm connects to (``--catalog``, ``--scheduler``)
  never printed;
- nothing outside the invocation's own folder touched: the inputs, a folder
  of someone else's files and the current folder's other files keep their
  bytes and times (an ``--out`` that names them must be refused).

The options come from the CLI itself (click's parameter list), so an option
added later is fuzzed without editing this file. CI runs a reduced number of
examples; the full run is ``GEOMM_FUZZ_EXAMPLES=2000 pytest -m fuzz
tests/faults/test_fuzz_cli.py`` (docs/reliability.md has its figures).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geomm.cli import EXIT_INTERNAL_ERROR, app, main

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("GEOMM_FUZZ_EXAMPLES", "150"))
SEED = os.environ.get("GEOMM_FUZZ_SEED")
LOG = os.environ.get("GEOMM_FUZZ_LOG")
"""A file to append each run's exit code, arguments and last stderr line to."""
COLLECT = os.environ.get("GEOMM_FUZZ_COLLECT")
"""A file to write every failing run to, going on after each (to triage many at once)."""
SECONDS_PER_RUN = 10
"""A run still going after this is a valid input doing real work (say
``--epochs 100000``); it is stopped and counted, not failed."""

AOI = {
    "type": "Polygon",
    "coordinates": [
        [[11.975, 48.015], [11.99, 48.015], [11.99, 48.025], [11.975, 48.025], [11.975, 48.015]]
    ],
}
DATES = ["--start", "2024-06-01", "--end", "2024-06-20"]
SECRETS = ("PASSWORD", "SECRETSIG", "SECRETTOKEN")
CREDENTIAL_URLS = (
    "http://user:PASSWORD@127.0.0.1:9/api?sig=SECRETSIG",
    "https://127.0.0.1:9/stac?token=SECRETTOKEN&se=2030-01-01",
    "tcp://user:PASSWORD@127.0.0.1:9",
)


_URL_FLAGS = {"--catalog", "-c", "--scheduler"}
"""Options whose value is a URL geomm connects to."""


class _Overtime(BaseException):
    """Raised by the alarm in a run that took too long (not an ``Exception``:
    the CLI boundary must not turn it into an exit code)."""


@dataclass
class World:
    """Inputs every run may read and must leave as they are."""

    root: Path
    aoi: Path
    cube: Path
    tiny_csv: Path
    poisoned_csv: Path
    poison_json: Path
    classes: Path
    templates: Path
    pretrained: Path
    finetuned: Path
    bad_files: dict[str, Path] = field(default_factory=dict)
    original: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Size and mtime of every file the world started with: inputs, someone else's files."""
    runs: int = 0
    overtime: int = 0
    exits: dict[int, int] = field(default_factory=dict)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file under ``root`` except runs/ and the cache."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in ("runs", "cache")]
        for name in files:
            st_ = (here / name).lstat()
            seen[str((here / name).relative_to(root))] = (st_.st_size, st_.st_mtime_ns)
    return seen


def _quiet_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz-world")
    aoi = root / "aoi.geojson"
    aoi.write_text(json.dumps(AOI))
    made = tmp_path_factory.mktemp("fuzz-made")
    # inputs made by geomm itself, once, through the CLI
    cube = root / "inputs" / "cube.zarr"
    setup = [
        ["cube", "--catalog", "sample", "--aoi", str(aoi), *DATES, "--out", str(cube)],
        ["cleanclip", "make-digits", "--out", str(made / "digits")],
    ]
    for argv in setup:
        code, _, err = _quiet_main(argv)
        assert code == 0, err
    digits = root / "inputs" / "digits"
    lines = (made / "digits" / "train.csv").read_text().splitlines()[:41]
    for line in lines[1:]:
        image = line.split(",")[0]
        (digits / image).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(made / "digits" / image, digits / image)
    for name in ("classes.txt", "templates.txt"):
        shutil.copy(made / "digits" / name, digits / name)
    tiny = digits / "tiny.csv"
    tiny.write_text("\n".join(lines) + "\n")
    runs = root / "inputs" / "runs"
    for argv in (
        ["cleanclip", "poison", "--csv", str(tiny), "--out", str(runs / "bad"), "--target",
         "zero", "--attack", "badnet", "--count", "4"],
        ["cleanclip", "pretrain", "--csv", str(runs / "bad" / "poisoned.csv"), "--out",
         str(runs / "pre"), "--epochs", "1", "--batch-size", "8"],
        ["cleanclip", "finetune", "--csv", str(tiny), "--checkpoint", str(runs / "pre"),
         "--out", str(runs / "ft"), "--recipe", "cleanclip", "--epochs", "1", "--batch-size",
         "8"],
    ):  # fmt: skip
        code, _, err = _quiet_main(argv)
        assert code == 0, err
    w = World(
        root=root,
        aoi=aoi,
        cube=cube,
        tiny_csv=tiny,
        poisoned_csv=runs / "bad" / "poisoned.csv",
        poison_json=runs / "bad" / "poison.json",
        classes=digits / "classes.txt",
        templates=digits / "templates.txt",
        pretrained=runs / "pre",
        finetuned=runs / "ft",
    )
    # someone else's files: a plain folder, and one that looks like a store
    precious = root / "precious"
    (precious / "notes").mkdir(parents=True)
    (precious / "notes" / "thesis.txt").write_text("years of work\n")
    (precious / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    bad = root / "bad"
    bad.mkdir()
    files = {
        "empty": b"",
        "garbage": bytes(range(256)) * 4,
        "latin1": "caf\xe9,\xe9t\xe9\n".encode("latin-1"),
        "json-list": b"[1, 2, 3]",
        "geojson-point": json.dumps({"type": "Point", "coordinates": [12, 48]}).encode(),
        "geojson-nan": b'{"type": "Polygon", "coordinates": [[[NaN, 48], [12, 48], [12, 49], '
        b"[NaN, 48]]]}",
        "geojson-world": json.dumps(
            {
                "type": "Polygon",
                "coordinates": [[[-180, -80], [180, -80], [180, 80], [-180, 80], [-180, -80]]],
            }  # fmt: skip
        ).encode(),
        "[red]x[-red].geojson": json.dumps(AOI).encode(),
        "csv-no-columns.csv": b"a,b\n1,2\n",
        "csv-escape.csv": b"image,caption\n../../../../etc/passwd,a file\n",
    }
    for name, data in files.items():
        (bad / name).write_bytes(data)
        w.bad_files[name] = bad / name
    w.bad_files["folder"] = precious
    w.bad_files["missing"] = root / "no" / "such" / "file.geojson"
    w.bad_files["png"] = root / "no-such.png"
    w.original = _snapshot(root)
    yield w


@dataclass(frozen=True)
class Param:
    """One option or argument of a command, as the fuzzer needs it."""

    name: str
    opts: tuple[str, ...]
    """Its flags (empty for a positional argument)."""
    kind: str
    """``flag``, ``int``, ``float``, ``path``, ``writer`` (a path geomm writes) or ``text``."""


_WRITERS = {"out", "out_path", "docs"}
"""Parameters that name where geomm writes."""


def _kind(name: str, hint: object, is_flag: bool) -> str:
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    args = [a for a in typing.get_args(base) if a is not type(None)] or [base]
    base = args[0]
    if is_flag or base is bool:
        return "flag"
    if name in _WRITERS:
        return "writer"
    if base is Path:
        return "path"
    return {int: "int", float: "float"}.get(base, "text")


def _commands() -> dict[tuple[str, ...], list[Param]]:
    """Every command of the CLI with its parameters, from the CLI itself.

    Types come from the command functions' annotations (typer's own parameter
    objects are not a stable API).
    """
    found: dict[tuple[str, ...], list[Param]] = {}

    def walk(prefix: tuple[str, ...], cmd: object) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk((*prefix, name), sub)
            return
        hints = typing.get_type_hints(cmd.callback, include_extras=True)
        found[prefix] = [
            Param(
                p.name,
                tuple(p.opts) if p.param_type_name == "option" else (),
                _kind(p.name, hints.get(p.name), bool(getattr(p, "is_flag", False))),
            )
            for p in cmd.params
            if p.name != "help"
        ]

    walk((), typer.main.get_command(app))
    return found


COMMANDS = _commands()


BASES = {
    ("search",): "--catalog sample --aoi {aoi} {dates} --out {out}/i.geojson",
    ("cube",): "--catalog sample --aoi {aoi} {dates} --out {out}/c.zarr",
    ("embed",): "--aoi {aoi} --cube {cube} --model croma-tiny --weights random "
    "--out {out}/e.parquet",
    ("quicklook",): "{cube} --out {out}/q.png",
    ("verify",): "{cube}",
    ("models",): "",
    ("cleanclip", "make-digits"): "--out {out}/digits",
    ("cleanclip", "poison"): "--csv {tiny} --out {out}/bad --target zero --attack badnet --count 4",
    ("cleanclip", "pretrain"): "--csv {poisoned} --out {out}/pre --epochs 1 --batch-size 8",
    ("cleanclip", "finetune"): "--csv {tiny} --checkpoint {pre} --out {out}/ft "
    "--recipe cleanclip --epochs 1 --batch-size 8",
    ("cleanclip", "evaluate"): "--checkpoint {ft} --test {tiny} --classes {classes} "
    "--templates {templates} --poison-json {poison}",
    ("cleanclip", "reproduce"): "--report-only --out {out}/rep",
}
"""A valid, quick invocation of each command (tmp paths have no spaces)."""


def _base(path: tuple[str, ...], w: World, out: Path) -> list[str]:
    template = BASES.get(path, "")
    return template.format(
        aoi=w.aoi, dates=" ".join(DATES), out=out, cube=w.cube, tiny=w.tiny_csv,
        poisoned=w.poisoned_csv, pre=w.pretrained, ft=w.finetuned, classes=w.classes,
        templates=w.templates, poison=w.poison_json,
    ).split()  # fmt: skip


NUMBERS = ["0", "-1", "-0", "1", "7", "1e308", "-1e308", "nan", "inf", "-inf", "1e-320",
           "99999999999999999999999", "100000", "abc", "", " 5", "1,5", "0x10",
           "\u0661"]  # fmt: skip
WORDS = ["", " ", "abc", "[red]x[/red]", "[/", "[bold]", "EPSG:99999", "EPSG:4326",
         "EPSG:3857", "EPSG:32601", "+proj=bogus", "0D", "-1M", "1e308D", "2W", "2024-13-01",
         "2024-02-30", "0000-00-00", "9999-12-31", "1970-01-01", "2024-06-20", "2024-06-01",
         "file:///etc/passwd", "s3://bucket/key", "local", "croma-base", "croma-large",
         "joint,sar,nope", "bf16", "int8", "median", "nearest", "cleanclip", "ascending",
         "\u00e9\U0001f642", "a" * 3000, *CREDENTIAL_URLS]  # fmt: skip


def _inputs(w: World, out: Path) -> list[str]:
    """Values for options that name a file geomm reads."""
    return [
        *map(str, w.bad_files.values()),
        "/", ".", "..", "~", "/etc/passwd", "/dev/null",
        str(w.cube), str(w.tiny_csv), str(w.finetuned),  # right kind of file, maybe wrong option
        str(out / ("x" * 300)),  # name too long
    ]  # fmt: skip


def _outputs(w: World, out: Path) -> list[str]:
    """Values for options that name where geomm writes.

    Only places inside this test's folders: ``/``, ``~`` and ``/tmp`` as
    targets are refused by a rule with its own tests (tests/faults), and a
    fuzz run must not be able to harm the machine if that rule broke.
    """
    return [
        ".", "..",  # the run's folder (keep.txt must survive) and its parent
        str(w.root),  # the world itself: inputs and someone else's files
        *map(str, w.bad_files.values()),  # a file, a non-geomm folder, a missing parent
        str(out / ("x" * 300)),
        str(out / "[/odd].zarr"),
        str(out / "[red]x[/red].parquet"),
        str(out / "fine.out"),
    ]  # fmt: skip


@st.composite
def invocations(draw: st.DrawFn, w: World, out: Path) -> list[str]:
    path = draw(st.sampled_from(sorted(COMMANDS)))
    params = COMMANDS[path]
    argv = _base(path, w, out)
    if not params:
        return [*path, *argv]
    chosen = draw(st.lists(st.sampled_from(params), min_size=1, max_size=3, unique_by=id))
    for param in chosen:
        if not param.opts:  # a positional argument: replace the base one, if any
            value = draw(st.sampled_from(_inputs(w, out)))
            positional = [a for a in argv if not a.startswith("-")][:1]
            argv = [value if a in positional else a for a in argv] if positional else [value, *argv]
            continue
        argv = _without(argv, param)
        if param.kind == "flag":
            if draw(st.booleans()):
                argv.append(param.opts[0])
            continue
        pool = {
            "writer": st.sampled_from(_outputs(w, out)),
            "path": st.sampled_from(_inputs(w, out)),
            "int": _numbers(),
            "float": _numbers(),
        }.get(param.kind, st.one_of(st.sampled_from(WORDS), st.text(max_size=12)))
        flag = draw(st.sampled_from(param.opts))
        if draw(st.booleans()) or not argv:
            argv = [*argv, flag, draw(pool)]
        else:  # sometimes in front, before the other options
            argv = [flag, draw(pool), *argv]
    if draw(st.integers(0, 9)) == 0:  # --verbose anywhere
        argv.insert(draw(st.integers(0, len(argv))), "--verbose")
    return [*path, *argv]


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.integers(-(10**12), 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )


def _without(argv: list[str], param: Param) -> list[str]:
    """``argv`` less the option ``param`` (and its value) where the base gives it."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in param.opts:
            skip = param.kind != "flag"
        else:
            kept.append(a)
    return kept


def _close_clients() -> None:
    """Close a Dask client a run left behind, and Dask's setting that points at it.

    A run stopped by the alarm inside ``distributed.Client(...)`` (``--scheduler
    local`` starting) never reaches its ``with`` block's exit: the half-made
    client would stay the default and every later computation in this process
    would wait for its dead cluster.
    """
    if "distributed" not in sys.modules:
        return
    import dask
    import distributed

    while True:
        try:
            client = distributed.default_client()
        except ValueError:  # none left
            break
        client.close(timeout=5)
    if dask.config.get("scheduler", None) == "dask.distributed":
        dask.config.config.pop("scheduler", None)


def _alarm(_signum: int, _frame: object) -> None:
    raise _Overtime


def _check(argv: list[str], run_dir: Path, w: World) -> None:
    before = _snapshot(w.root)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_RUN)
    if LOG:  # before the run too: a run that crashes the process is still named
        with open(LOG, "a") as f:
            f.write(f"start\t{json.dumps(argv)[:300]}\n")
    cwd = Path.cwd()
    os.chdir(run_dir)
    try:
        code, out, err = _quiet_main(argv)
    except _Overtime:
        w.overtime += 1
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
        _close_clients()
    w.runs += 1
    w.exits[code] = w.exits.get(code, 0) + 1
    if LOG:  # one line per run, to see what was tried
        with open(LOG, "a") as f:
            last = (err.strip().splitlines() or [""])[-1][:160]
            f.write(f"{code}\t{json.dumps(argv)[:300]}\t{last}\n")
    shown = f"geomm {' '.join(argv)!r} -> {code}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert code != EXIT_INTERNAL_ERROR, shown
    assert code in (0, 1), shown
    verbose = any(a in ("--verbose", "-v") for a in argv)
    assert verbose or "Traceback" not in out + err, shown  # --verbose asks for the traceback
    assert "internal error" not in err, shown
    if code == 1:
        lines = [line for line in err.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], shown
    # a URL geomm connects to (a catalog, a scheduler) is never echoed with its
    # credentials; the same text given as a file name is a file name, shown as given
    urls = [v for f, v in zip(argv, argv[1:], strict=False) if f in _URL_FLAGS]
    for secret in SECRETS:
        if any(secret in v for v in urls):
            assert secret not in out + err, shown
    # the current folder's other file and every input are still there, untouched
    assert (run_dir / "keep.txt").read_text() == "not geomm's\n", shown
    changed = _changes(before, _snapshot(w.root), w.root, _written_to(argv), w.original)
    assert not changed, f"{shown}\nchanged outside the run's folder: {changed[:10]}"


def _written_to(argv: list[str]) -> list[str]:
    """The values given to options that name where geomm writes."""
    flags = {"--out", "-o", "--docs"}
    return [str(Path(v).absolute()) for f, v in zip(argv, argv[1:], strict=False) if f in flags]


def _changes(
    before: dict[str, tuple[int, int]],
    after: dict[str, tuple[int, int]],
    root: Path,
    targets: list[str],
    original: dict[str, tuple[int, int]],
) -> list[str]:
    """Files changed or removed, and files added where the run was not told to write.

    A new file at, under or beside a path the run was given to write (the
    same stem: ``x.parquet`` brings ``x.cube.zarr``) is what was asked for;
    an input file that changed or went away never is. A file an earlier run
    wrote (not in ``original``) is geomm's to replace.
    """
    prefixes = [str(Path(t).parent / Path(t).stem) for t in targets] + targets

    def asked(rel: str) -> bool:
        return any(str(root / rel).startswith(p) for p in prefixes)

    return sorted(
        k
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k) and (k in original or not asked(k))
    )


def test_cli_survives_hostile_options(world: World, monkeypatch: pytest.MonkeyPatch):
    # belt and braces: any HTTP that GDAL or a library might attempt goes to a
    # refused loopback port (the session's guard covers Python sockets only)
    for name in ("GDAL_HTTP_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("CPL_AWS_EC2_API_ROOT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    runs = world.root / "runs"
    runs.mkdir(exist_ok=True)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        run_dir = runs / f"{world.runs + world.overtime:05d}"
        if run_dir.exists():  # hypothesis replays an example while shrinking
            shutil.rmtree(run_dir)
        run_dir.mkdir()
        (run_dir / "keep.txt").write_text("not geomm's\n")
        out = run_dir / "out"
        argv = data.draw(invocations(world, out))
        try:
            _check(argv, run_dir, world)
        except AssertionError as e:
            if not COLLECT:
                raise
            with open(COLLECT, "a") as f:  # go on: one report of every finding
                f.write(f"{e}\n{'=' * 70}\n")
        shutil.rmtree(run_dir, ignore_errors=True)

    if SEED is not None:
        from hypothesis import seed

        one = seed(int(SEED))(one)
    one()
    assert world.runs + world.overtime >= EXAMPLES
    sys.stdout.write(
        f"\nfuzz: {world.runs} runs, exits {dict(sorted(world.exits.items()))}, "
        f"{world.overtime} overtime\n"
    )
