"""Paired A/B of the cube benchmark between two geomm checkouts (a refactor must cost nothing).

A benchmark, not a test: never run in CI. Usage::

    git worktree add /tmp/base <old-commit>
    python bench/ab_cube.py --old /tmp/base --new . --pairs 10

Each pair runs ``bench/cube_throughput.py``'s ``geomm`` contender once per
checkout, each in a fresh process with that checkout first on ``PYTHONPATH``
(its own bench script, so each side uses its own API), the order of the two
alternating from pair to pair. Reported: the median wall of each side, the
median of the per-pair ratios new/old and how many pairs new won.

Then both checkouts write the benchmark cube to a store of their own and every
file of the two stores is compared byte for byte. Only attributes that differ
by design are allowed to differ (none is expected: the check lists them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WRITE = """
import sys
sys.path.insert(0, {bench!r})
from pathlib import Path
import cube_throughput as ct
from geomm.cube import CubeConfig, build_cube, write_cube
st = ct.setting(Path({workdir!r}), 1)
write_cube(build_cube(st.items, aoi=st.aoi, profile=st.profile, config=CubeConfig()), {store!r})
"""


PRELOAD = """
import runpy, sys
import geomm.cube as cube
for name in cube.__all__:  # a lazy package (issue 14) loads each module here, as an eager one did
    getattr(cube, name)
import dask.array, pandas, rioxarray, xarray, zarr
sys.argv = [{script!r}, *{argv!r}]
runpy.run_path({script!r}, run_name="__main__")
"""
"""The child: every module of ``geomm.cube`` and the stack loaded before the contender's clock
starts. Since issue 14 ``geomm.cube`` imports Dask, xarray and Zarr where they are first
needed, which is inside ``build_cube``/``write_cube``; without this the new side would be
timed with ~0.5-0.7 s of imports the old side paid before its clock. Import placement is
what bench/startup.py measures (whole processes)."""


def run_side(tree: Path, workdir: str, scratch: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "GEOMM_OFFLINE": "1"}
    script = str(tree / "bench" / "cube_throughput.py")
    argv = ["--workdir", workdir, "--scale", "1", "--only", "geomm", "--child"]
    cmd = [sys.executable, "-c", PRELOAD.format(script=script, argv=argv)]
    proc = subprocess.run(cmd, env=env, cwd=scratch, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(json.loads(line[len("RESULT ") :])["seconds"])
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    raise RuntimeError(f"{tree}: the geomm contender failed ({proc.returncode})")


def write_store(tree: Path, workdir: str, store: Path, scratch: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "GEOMM_OFFLINE": "1"}
    code = WRITE.format(bench=str(tree / "bench"), workdir=workdir, store=str(store))
    subprocess.run([sys.executable, "-c", code], env=env, cwd=scratch, check=True)


def differences(a: Path, b: Path) -> list[str]:
    """Files present on one side only, or with other bytes (zarr.json: the differing keys)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    found = [f"only in old: {p}" for p in sorted(files_a - files_b)]
    found += [f"only in new: {p}" for p in sorted(files_b - files_a)]
    for rel in sorted(files_a & files_b):
        x, y = (a / rel).read_bytes(), (b / rel).read_bytes()
        if x == y:
            continue
        if rel.name.endswith(".json"):
            jx, jy = json.loads(x), json.loads(y)
            keys = _differing_keys(jx, jy)
            found.append(f"{rel}: {', '.join(keys) or 'formatting only'}")
        else:
            found.append(f"{rel}: bytes differ")
    return found


def _differing_keys(x: object, y: object, prefix: str = "") -> list[str]:
    if isinstance(x, dict) and isinstance(y, dict):
        out = []
        for k in sorted(set(x) | set(y)):
            out += _differing_keys(x.get(k), y.get(k), f"{prefix}{k}.")
        return out
    return [] if x == y else [prefix.rstrip(".")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, type=Path)
    parser.add_argument("--new", default=".", type=Path)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "geomm-bench"))
    args = parser.parse_args()
    old, new = args.old.resolve(), args.new.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="geomm-ab-"))
    run_side(new, args.workdir, scratch)  # the region exists, caches are warm
    walls: dict[str, list[float]] = {"old": [], "new": []}
    for pair in range(args.pairs):
        order = [("old", old), ("new", new)] if pair % 2 == 0 else [("new", new), ("old", old)]
        for name, tree in order:
            walls[name].append(run_side(tree, args.workdir, scratch))
        print(f"pair {pair + 1}: old {walls['old'][-1]:.3f} s, new {walls['new'][-1]:.3f} s")
    ratios = [n / o for n, o in zip(walls["new"], walls["old"], strict=True)]
    print(f"old: median {statistics.median(walls['old']):.3f} s")
    print(f"new: median {statistics.median(walls['new']):.3f} s")
    print(
        f"new/old per pair: median {statistics.median(ratios):.3f} "
        f"({min(ratios):.3f}..{max(ratios):.3f}); new faster in "
        f"{sum(r < 1 for r in ratios)} of {len(ratios)} pairs"
    )
    stores = {name: scratch / f"{name}.zarr" for name in ("old", "new")}
    write_store(old, args.workdir, stores["old"], scratch)
    write_store(new, args.workdir, stores["new"], scratch)
    diff = differences(stores["old"], stores["new"])
    files = sum(1 for p in stores["new"].rglob("*") if p.is_file())
    print(f"bench cube, {files} files: " + ("bitwise identical" if not diff else "DIFFERENT"))
    for line in diff:
        print("  " + line)


if __name__ == "__main__":
    main()
