"""Start-up of ``geomm cube`` as a whole process, against an odc-stac process doing the same job.

A benchmark, not a test: never run in CI. Usage::

    python bench/startup.py                      # 5 alternated repeats of each
    python bench/startup.py --repeats 9
    python bench/startup.py --tree /tmp/base     # the same, with the geomm of another checkout

What is measured, every process fresh, repeats interleaved, on the cube
benchmark's region and 1x AOI (``bench/cube_throughput.py``: ~0.8 GB of
generated COGs, 169 output Mpix; ``--scale 4``: the 4x AOI):

* ``first read``: seconds from just before the process is spawned to its
  first ``rasterio.open`` of a source (the moment a COG's header is read).
  A ``sitecustomize`` on ``PYTHONPATH`` wraps ``rasterio.open`` when rasterio
  is first imported and records the time of the first call; nothing else in
  the process changes.
* ``geomm cube``: the command a user types (``geomm cube --catalog
  <region>/catalog.json --aoi ... --out ...``), start to exit.
* ``odc-stac``: a process that does the same job the obvious way with the
  reference tools only: pystac reads the static catalog, the items of the
  AOI and dates are kept, ``odc.stac.load`` loads S2 (12 bands + SCL,
  ``groupby="solar_day"``) and S1 (``like=`` it) onto the geomm cube's GeoBox
  in 2048 px chunks, and ``xr.merge(...).to_zarr(zarr_format=3)`` writes it.
* ``geomm --help`` and ``python -c "import geomm.cube"`` as whole processes.

Reported: medians (and min..max), ``odc-stac / geomm cube`` whole-process
ratio, and the issue-14 targets (first read <= 0.5 s; ratio >= 2).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cube_throughput as ct  # noqa: E402 - the region, AOI and dates of the cube benchmark

PROBE = '''\
"""bench/startup.py's probe: the wall-clock time of the first rasterio.open."""
import importlib.abc
import importlib.machinery
import os
import sys
import time

_OUT = os.environ.get("GEOMM_BENCH_FIRST_READ")


class _RasterioOpenProbe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        # importlib.util.find_spec("rasterio") (an availability check) calls this
        # too without loading, so stay in sys.meta_path until rasterio is executed
        if name != "rasterio":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            run(module)
            real = module.open

            def open(*args, **kwargs):
                if not os.path.exists(_OUT):
                    with os.fdopen(os.open(_OUT, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "w") as f:
                        f.write(repr(time.time()))
                return real(*args, **kwargs)

            module.open = open

        spec.loader.exec_module = exec_module
        return spec


if _OUT:
    sys.meta_path.insert(0, _RasterioOpenProbe())
'''


def odc_child(args: argparse.Namespace) -> None:
    """The odc-stac process: read the catalog, keep the AOI's items, load, write."""
    import odc.stac
    import pystac
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from shapely.geometry import box, shape

    aoi = shape(json.loads(Path(args.aoi).read_text()))
    start, end = (f"{d}T00:00:00Z" for d in ct.DATES)
    catalog = pystac.Catalog.from_file(args.catalog)
    items = [
        i
        for i in catalog.get_items(recursive=True)
        if start <= i.properties["datetime"] <= end.replace("00:00:00", "23:59:59")
        and box(*i.bbox).intersects(aoi)
    ]
    s2_items = [i for i in items if i.collection_id == ct.COLLECTIONS[0]]
    s1_items = [i for i in items if i.collection_id == ct.COLLECTIONS[1]]
    geobox = GeoBox.from_bbox(json.loads(args.bbox), crs=args.crs, resolution=args.resolution)
    chunks = {"x": ct.PEER_CHUNK, "y": ct.PEER_CHUNK}
    s2 = odc.stac.load(
        s2_items, bands=[*ct.S2_ASSETS, "SCL"], geobox=geobox, chunks=chunks, groupby="solar_day"
    )
    s1 = odc.stac.load(s1_items, bands=list(ct.S1_ASSETS), like=s2, chunks=chunks)
    xr.merge([s2, s1.rename(time="s1_time")]).to_zarr(args.out, zarr_format=3, mode="w")


def timed(cmd: list[str], env: dict[str, str], probe_file: Path | None, cwd: Path) -> dict:
    """Run one fresh process; wall seconds, and seconds to its first source read.

    ``cwd`` is a scratch folder: ``python -c`` puts the current folder first on
    ``sys.path``, which would shadow ``--tree``'s geomm with this checkout's.
    """
    if probe_file is not None:
        probe_file.unlink(missing_ok=True)
        env = {**env, "GEOMM_BENCH_FIRST_READ": str(probe_file)}
    began = time.time()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.time() - began
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{cmd[:3]} failed with exit code {proc.returncode}")
    result = {"wall": wall}
    if probe_file is not None:
        result["first_read"] = float(probe_file.read_text()) - began
    return result


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}..{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=int, default=1, choices=(1, 4), help="AOI area factor")
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "geomm-bench"))
    parser.add_argument("--tree", help="a geomm checkout to measure instead of this one")
    parser.add_argument("--child", choices=["odc"], help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help=argparse.SUPPRESS)
    parser.add_argument("--aoi", help=argparse.SUPPRESS)
    parser.add_argument("--bbox", help=argparse.SUPPRESS)
    parser.add_argument("--crs", help=argparse.SUPPRESS)
    parser.add_argument("--resolution", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "odc":
        odc_child(args)
        return

    workdir = Path(args.workdir)
    region = ct.region_dir(workdir)
    catalog = region / "catalog.json"
    root = json.loads(catalog.read_text())
    if root.get("geomm:profile") != "sample":  # the region's collections are the sample profile's
        root["geomm:profile"] = "sample"
        catalog.write_text(json.dumps(root, indent=2))
    aoi, grid = ct.aoi_for(args.scale)
    scratch = Path(tempfile.mkdtemp(prefix="geomm-startup-"))
    aoi_file = scratch / "aoi.geojson"
    aoi_file.write_text(json.dumps(aoi.to_geojson()))
    (scratch / "probe").mkdir()
    (scratch / "probe" / "sitecustomize.py").write_text(PROBE)
    path = [str(scratch / "probe")] + ([str(Path(args.tree).resolve())] if args.tree else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "GEOMM_OFFLINE": "1"}
    geomm = str(Path(sys.executable).with_name("geomm"))
    probe = scratch / "first-read"
    bounds = grid.geobox.boundingbox
    commands = {
        "geomm cube": (
            [geomm, "cube", "--catalog", str(catalog), "--aoi", str(aoi_file),
             "--collections", ",".join(ct.COLLECTIONS), "--start", ct.DATES[0],
             "--end", ct.DATES[1], "--out", str(scratch / "geomm.zarr"), "--overwrite"],
            probe,
        ),
        "odc-stac": (
            [sys.executable, __file__, "--child", "odc", "--catalog", str(catalog),
             "--aoi", str(aoi_file), "--crs", grid.crs, "--resolution", str(grid.resolution),
             "--bbox", json.dumps([bounds.left, bounds.bottom, bounds.right, bounds.top]),
             "--out", str(scratch / "odc.zarr")],
            probe,
        ),
        "geomm --help": ([geomm, "--help"], None),
        "import geomm.cube": ([sys.executable, "-c", "import geomm.cube"], None),
    }  # fmt: skip
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    for repeat in range(args.repeats):
        for name, (cmd, probe_file) in commands.items():
            runs[name].append(timed(cmd, env, probe_file, scratch))
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)

    lines = [
        f"tree: {args.tree or ct.revision()}",
        f"machine: {ct.machine()}", f"repeats: {args.repeats}",
        "",
    ]
    for name, results in runs.items():
        line = f"{name:>18}: whole process {summary([r['wall'] for r in results])}"
        if "first_read" in results[0]:
            line += f"; first source read {summary([r['first_read'] for r in results])}"
        lines.append(line)
    geomm_wall = statistics.median(r["wall"] for r in runs["geomm cube"])
    odc_wall = statistics.median(r["wall"] for r in runs["odc-stac"])
    first = statistics.median(r["first_read"] for r in runs["geomm cube"])
    lines += [
        "",
        f"odc-stac / geomm cube, whole process (medians): {odc_wall / geomm_wall:.2f}x "
        "(target >= 2x)",
        f"geomm cube, process start to first source read (median): {first:.3f} s "
        "(target <= 0.5 s)",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
