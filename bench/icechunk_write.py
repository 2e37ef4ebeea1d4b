"""What Icechunk's transactions would cost geomm's cube writes, against plain Zarr v3.

A benchmark, not a test: never run in CI. It needs ``pip install icechunk``
(not a geomm dependency). Usage::

    python bench/icechunk_write.py                 # 5 interleaved repeats
    python bench/icechunk_write.py --repeats 9 --tiles 6

Issue 13 asked whether Icechunk's transactions (every write lands in a
session, a ``commit`` makes it visible at once, readers never see half a
cube) should replace geomm's own completion marker, chunk manifest and lease.
This measures the storage part of that choice on real cube values: the
bundled sample catalog's demo cube (S2 uint16 x 12 bands, S1 float32 x 2,
the clear mask) is built once, loaded into memory and tiled ``--tiles`` x
``--tiles`` times in y and x (so the chunks have real statistics, not
random bytes), then written with geomm's chunking and codec (Blosc LZ4, byte
shuffle, every chunk written) to

* ``zarr``: a Zarr v3 folder (what ``write_cube`` writes),
* ``icechunk``: an Icechunk repository on the local file system, one
  writable session, the same arrays, then ``commit``,

each in a fresh folder, alternating, best and median of the repeats. It
prints one table and a JSON line; docs/reliability.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

DEMO = Path(__file__).resolve().parents[1] / "catalogs" / "sample" / "aoi.geojson"


def demo_cube(workdir: Path, tiles: int) -> xr.Dataset:
    """The demo AOI's cube, in memory, tiled to a realistic size."""
    from geomm.aoi import read_aoi
    from geomm.cube import make_cube, open_cube

    store = workdir / "demo.zarr"
    make_cube("sample", aoi=read_aoi(DEMO), start="2024-06-01", end="2024-07-31", out=store)
    cube = open_cube(store).load()
    pixels = {n: v for n, v in cube.data_vars.items() if {"y", "x"} <= set(v.dims)}
    out = {}
    for name, var in pixels.items():
        reps = [tiles if d in ("y", "x") else 1 for d in var.dims]
        out[name] = (var.dims, np.tile(var.values, reps))
    return xr.Dataset(out)


def encoding(ds: xr.Dataset, edge: int) -> dict:
    codec = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    return {
        n: {
            "chunks": tuple(min(edge, v.sizes[d]) if d in ("y", "x") else 1 for d in v.dims),
            "compressors": (codec,),
        }
        for n, v in ds.data_vars.items()
    }


def write(ds: xr.Dataset, path: Path, edge: int, *, icechunk: bool, dask: bool) -> float:
    """Seconds to write ``ds`` to a Zarr folder or an Icechunk repository (then commit).

    With ``dask``, from Dask chunks of the Zarr chunk size on threads (as geomm
    writes; the threads share one Icechunk session: ``icechunk.xarray.to_icechunk``,
    for clusters, does not run with this xarray, whose ZarrStore lost
    ``synchronizer``); else from numpy, zarr's own loop.
    """
    source = ds.chunk({"time": 1, "y": edge, "x": edge}) if dask else ds
    began = time.perf_counter()
    session = None
    if icechunk:
        import icechunk as ic

        repo = ic.Repository.create(ic.local_filesystem_storage(str(path)))
        session = repo.writable_session("main")
    source.to_zarr(
        session.store if session else path, zarr_format=3, consolidated=False,
        encoding=encoding(ds, edge), write_empty_chunks=True,
    )  # fmt: skip
    if session:
        session.commit("cube")
    return time.perf_counter() - began


WRITERS = {
    "zarr": {"icechunk": False, "dask": False},
    "icechunk": {"icechunk": True, "dask": False},
    "zarr-dask": {"icechunk": False, "dask": True},
    "icechunk-dask": {"icechunk": True, "dask": True},
}
"""The four ways measured (arguments of :func:`write`)."""


def check_same(ds: xr.Dataset, zarr_path: Path, ice_path: Path) -> None:
    import icechunk

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(ice_path)))
    a = xr.open_zarr(zarr_path, consolidated=False, zarr_format=3).load()
    b = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, zarr_format=3).load()
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(a, ds)


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiles", type=int, default=4, help="demo cube copies in y and in x")
    parser.add_argument("--edge", type=int, default=960, help="chunk edge, px (geomm: 8 x 120)")
    args = parser.parse_args()
    import icechunk

    with tempfile.TemporaryDirectory(prefix="geomm-icechunk-") as tmp:
        work = Path(tmp)
        ds = demo_cube(work, args.tiles)
        mpix = sum(v.size for v in ds.data_vars.values()) / 1e6
        times: dict[str, list[float]] = {name: [] for name in WRITERS}
        sizes = {}
        for i in range(args.repeats):
            order = list(WRITERS) if i % 2 == 0 else list(reversed(WRITERS))
            for name in order:
                path = work / f"{name}-{i}"
                times[name].append(write(ds, path, args.edge, **WRITERS[name]))
                sizes[name] = size_of(path)
            if i == 0:
                check_same(ds, work / "zarr-0", work / "icechunk-0")
                check_same(ds, work / "zarr-dask-0", work / "icechunk-dask-0")
            for name in order:
                shutil.rmtree(work / f"{name}-{i}")
        summary = {
            name: {"best_s": min(t), "median_s": statistics.median(t), "bytes": sizes[name]}
            for name, t in times.items()
        }
        ratios = {
            kind: {
                "best": summary[f"icechunk{kind}"]["best_s"] / summary[f"zarr{kind}"]["best_s"],
                "median": summary[f"icechunk{kind}"]["median_s"]
                / summary[f"zarr{kind}"]["median_s"],
            }
            for kind in ("", "-dask")
        }
        print(f"{mpix:.0f} Mpix ({dict(ds.sizes)}), chunk edge {args.edge}, {args.repeats} repeats")
        print(f"{'store':14s} {'best s':>8s} {'median s':>9s} {'MB':>8s}")
        for name, s in summary.items():
            print(f"{name:14s} {s['best_s']:8.3f} {s['median_s']:9.3f} {s['bytes'] / 1e6:8.1f}")
        for kind, r in ratios.items():
            print(
                f"icechunk{kind} / zarr{kind}: {r['best']:.2f} (best), {r['median']:.2f} (median)"
            )
        print(json.dumps({"icechunk": icechunk.__version__, "zarr": zarr.__version__,
                          "mpix": mpix, "summary": summary, "ratios": ratios}))  # fmt: skip


if __name__ == "__main__":
    main()
