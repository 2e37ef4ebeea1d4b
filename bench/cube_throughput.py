"""Throughput and peak RSS of ``geomm cube`` against odc-stac and stackstac, plus two floors.

A benchmark, not a test: never run in CI. Usage::

    python bench/cube_throughput.py                    # 1x AOI, every contender
    python bench/cube_throughput.py --scale 4          # geomm peak RSS: 1x AOI vs 4x AOI
    python bench/cube_throughput.py --only odc-stac    # one contender
    python bench/cube_throughput.py --profile          # where geomm's time goes

What is measured (all on the same generated local COGs, the same items and
the same GeoBox, in one invocation):

* ``geomm``: ``build_cube`` + ``write_cube`` (pairing, harmonization, clear
  mask, dB; threaded Dask scheduler), default configuration; ``geomm-odc``
  the same with ``LoadOptions(reader=OdcReader())`` (odc-stac per Zarr chunk).
* ``odc-stac``: ``odc.stac.load`` of S2 (12 bands + SCL, ``groupby="solar_day"``)
  and of S1 (vv, vh, ``like=`` the S2 load) onto the cube's GeoBox, 2048 px
  chunks, merged, ``to_zarr(zarr_format=3)`` with default settings: the
  obvious way (nearest resampling); ``odc-stac-bilinear`` the same with
  bilinear resampling (SCL nearest), which is what geomm does.
* ``stackstac``: ``stackstac.stack`` of S2 (mosaicked per date) and of S1 on
  the same bounds, float32 + NaN fill, ``to_zarr(zarr_format=3)`` defaults.
* floor ``raw-decode``: rasterio reads of exactly the COG windows that
  intersect the GeoBox, each asset in its own grid (no warping), on
  ``os.cpu_count()`` threads.
* floor ``zarr-write``: the finished geomm cube, loaded into memory, written
  to Zarr v3 with default settings and with tuned settings (codec, empty-chunk
  check, zarr's codec threads); the best tuned variant is the floor.
* bound ``decode-encode``: the two floors' work in one pipeline and nothing
  else: each COG window decoded as for ``raw-decode``, cut into the cube's
  chunk edge, encoded with the cube's codec and written to a file, on
  ``os.cpu_count()`` threads. No pipeline that decodes and stores these
  scenes can be faster; not one of the issue's floors.

Output Mpix = time steps x pixels x layers, with the geomm cube's time steps
(S2 dates) and 15 layers (12 S2 bands + SCL-or-clear + VV + VH) for every
contender; that is the work unit, whatever each contender writes on top.

Each contender runs in a fresh subprocess per repeat (repeats interleaved),
which reports its wall time and its own peak RSS (``VmHWM``). The region
(~0.8 GB of COGs, ~2.5 min to generate once), the floors' reference cube and
results-x{scale}.json/.md live in ``--workdir`` (default ~/.cache/geomm-bench).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REGION_BOUNDS = (11.74, 47.83, 12.26, 48.17)
"""Synthetic region (W, S, E, N) across 12 E: room for the 4x AOI (~34 km square)."""
AOI_CENTRE = (12.01, 48.0)
"""Lon/lat of the AOI centre: just east of 12 E, so the cube is in UTM 33 and both
S2 tiles (zones 32 and 33) and the zone-32 S1 scenes intersect it."""
AOI_CHIPS = 14
"""1x AOI edge in 120 px chips: 1680 px = 16.8 km (282 km^2, ~169 output Mpix)."""
DATES = ("2024-06-01", "2024-07-05")
COLLECTIONS = ("synthetic-s2-l2a", "synthetic-s1-rtc")
S2_ASSETS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S1_ASSETS = ("vv", "vh")
LAYERS = len(S2_ASSETS) + 1 + len(S1_ASSETS)
"""Layers per time step counted for every contender: 12 S2 bands, SCL or clear, VV, VH."""
PEER_CHUNK = 2048
"""Chunk edge of the 'obvious' odc-stac and stackstac runs."""

CONTENDERS = (
    "geomm",
    "geomm-odc",
    "odc-stac",
    "odc-stac-bilinear",
    "stackstac",
    "raw-decode",
    "zarr-write",
    "zarr-write-1thread",
    "decode-encode",
)


# --------------------------------------------------------------------------- the setting


@dataclass(frozen=True)
class Setting:
    """Items, AOI and grid of one run."""

    items: list
    s2_items: list
    s1_items: list
    aoi: object
    grid: object
    profile: object
    times: int
    """Time steps of the geomm cube (paired S2 dates)."""

    @property
    def pixels(self) -> int:
        ny, nx = self.grid.shape
        return ny * nx

    @property
    def output_mpix(self) -> float:
        return self.times * self.pixels * LAYERS / 1e6


def region_dir(workdir: Path) -> Path:
    """The synthetic region, generated once and cached in ``workdir``."""
    from geomm.sample import SyntheticConfig, generate_synthetic_region

    folder = workdir / ("region-" + "_".join(f"{v:g}" for v in REGION_BOUNDS))
    if not (folder / "catalog.json").is_file():
        print(f"generating the synthetic region {REGION_BOUNDS} in {folder} (once) ...", flush=True)
        began = time.perf_counter()
        generate_synthetic_region(folder, SyntheticConfig(bounds=REGION_BOUNDS))
        print(f"  done in {time.perf_counter() - began:.0f} s", flush=True)
    return folder


def aoi_for(scale: int):
    """A chip-aligned square AOI in UTM 33 (edges 1 m inside the chips): the cube grid
    is then exactly ``AOI_CHIPS * sqrt(scale)`` chips square."""
    import numpy as np
    import shapely
    from pyproj import Transformer
    from shapely.geometry import box, mapping

    from geomm.aoi import aoi_from_geojson
    from geomm.cube import CubeConfig

    config = CubeConfig()
    crs = "EPSG:32633"
    step = config.chip_size * config.resolution
    chips = round(AOI_CHIPS * math.sqrt(scale))
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
    cx, cy = to_utm(*AOI_CENTRE)
    x0 = (round(cx / step) - chips // 2) * step
    y0 = (round(cy / step) - chips // 2) * step
    utm = box(x0 + 1, y0 + 1, x0 + chips * step - 1, y0 + chips * step - 1).segmentize(50.0)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform
    lonlat = shapely.transform(utm, lambda xy: np.column_stack(to_ll(xy[:, 0], xy[:, 1])))
    aoi = aoi_from_geojson(mapping(lonlat), source=f"bench AOI x{scale}")
    grid = config.grid(aoi)
    if grid.crs != crs or grid.shape != (chips * config.chip_size,) * 2:
        raise RuntimeError(f"unexpected grid for the x{scale} AOI: {grid}")
    return aoi, grid


def setting(workdir: Path, scale: int) -> Setting:
    from geomm.cube import pair_items
    from geomm.stac import CatalogSource, load_profile, search

    profile = load_profile("sample")
    source = CatalogSource(profile=profile, path=region_dir(workdir) / "catalog.json")
    aoi, grid = aoi_for(scale)
    found = search(source, aoi=aoi, start=DATES[0], end=DATES[1], collections=list(COLLECTIONS))
    items = list(found.items)
    s2 = [i for i in items if i.collection_id == COLLECTIONS[0]]
    s1 = [i for i in items if i.collection_id == COLLECTIONS[1]]
    times = len(pair_items(s2, s1))
    return Setting(items, s2, s1, aoi, grid, profile, times)


# --------------------------------------------------------------------------- contenders


def run_geomm(st: Setting, store: Path, reader: str = "geomm") -> dict:
    from geomm.cube import CubeConfig, LoadOptions, OdcReader, build_cube, write_cube

    odc = reader == "odc"
    config = CubeConfig(load=LoadOptions(reader=OdcReader())) if odc else CubeConfig()
    # geomm.cube imports Dask, xarray and Zarr where first needed (inside build_cube and
    # write_cube); load them before the clock, as every peer's run does with its imports,
    # so that this row times the work (bench/startup.py times whole processes)
    import geomm.cube

    for name in geomm.cube.__all__:
        getattr(geomm.cube, name)
    began = time.perf_counter()
    ds = build_cube(st.items, aoi=st.aoi, profile=st.profile, config=config)
    write_cube(ds, store)
    return {"seconds": time.perf_counter() - began}


def run_odc(st: Setting, store: Path, resampling: str | None = None) -> dict:
    import odc.stac
    import xarray as xr

    chunks = {"x": PEER_CHUNK, "y": PEER_CHUNK}
    # None: odc-stac's default (nearest). "bilinear" is what geomm does for
    # reflectance and backscatter (SCL stays nearest), for a like-for-like row.
    s2_resampling = {"*": resampling, "SCL": "nearest"} if resampling else None
    began = time.perf_counter()
    s2 = odc.stac.load(
        st.s2_items,
        bands=[*S2_ASSETS, "SCL"],
        geobox=st.grid.geobox,
        chunks=chunks,
        groupby="solar_day",
        resampling=s2_resampling,
    )
    s1 = odc.stac.load(
        st.s1_items, bands=list(S1_ASSETS), like=s2, chunks=chunks, resampling=resampling
    )
    ds = xr.merge([s2, s1.rename(time="s1_time")])
    ds.to_zarr(store, zarr_format=3)
    return {"seconds": time.perf_counter() - began, "written": _written(ds)}


def run_stackstac(st: Setting, store: Path) -> dict:
    import numpy as np
    import stackstac
    import xarray as xr

    epsg = int(st.grid.crs.split(":")[1])
    bounds = tuple(st.grid.geobox.boundingbox)
    common = {
        "epsg": epsg,
        "resolution": st.grid.resolution,
        "bounds": bounds,
        "dtype": "float32",
        "rescale": False,
        "fill_value": np.float32(np.nan),
        "chunksize": PEER_CHUNK,
    }
    # stackstac reads asset hrefs as they are: make the catalog's relative ones absolute.
    s2_items = [i.clone().make_asset_hrefs_absolute() for i in st.s2_items]
    s1_items = [i.clone().make_asset_hrefs_absolute() for i in st.s1_items]
    began = time.perf_counter()
    s2 = stackstac.stack(s2_items, assets=[*S2_ASSETS, "SCL"], **common)
    # One plane per date: the tiles of a date share its datetime.
    s2 = s2.groupby("time").map(stackstac.mosaic)
    s1 = stackstac.stack(s1_items, assets=list(S1_ASSETS), **common)

    def plain(a: xr.DataArray, suffix: str) -> xr.DataArray:
        # Drop what Zarr cannot take: stackstac's per-item property coordinates
        # (object arrays) and its attrs (a RasterSpec, an Affine).
        a = a.drop_vars([c for c in a.coords if c not in a.dims])
        a.attrs = {}
        return a.rename(time=f"time_{suffix}", band=f"band_{suffix}")

    ds = xr.Dataset({"s2": plain(s2, "s2"), "s1": plain(s1, "s1")})
    ds.to_zarr(store, zarr_format=3)
    return {"seconds": time.perf_counter() - began, "written": _written(ds)}


def _window_reader(st: Setting):
    """Every COG a cube of ``st`` needs, and a function decoding its window.

    The window is the part of the COG that intersects the GeoBox, in the
    COG's own grid (no warping); ``read(href)`` returns it as an array, or
    ``None`` where the COG misses the GeoBox.
    """
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    gb_crs = st.grid.crs
    west, south, east, north = st.grid.bounds
    hrefs = [
        item.assets[key].get_absolute_href()
        for item in st.items
        for key in (
            [*S2_ASSETS, "SCL"] if item.collection_id == COLLECTIONS[0] else list(S1_ASSETS)
        )
    ]

    def read(href: str):
        with rasterio.open(href) as src:
            box = transform_bounds(gb_crs, src.crs, west, south, east, north, densify_pts=21)
            win = from_bounds(*box, transform=src.transform).round_offsets().round_lengths()
            try:
                win = win.intersection(Window(0, 0, src.width, src.height))
            except rasterio.errors.WindowError:
                return None
            return src.read(1, window=win)

    return hrefs, read


def run_raw_decode(st: Setting, store: Path) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    hrefs, read = _window_reader(st)

    def size(href: str) -> int:
        window = read(href)
        return 0 if window is None else int(window.size)

    began = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        decoded = sum(pool.map(size, hrefs))
    return {
        "seconds": time.perf_counter() - began,
        "decoded_mpix": decoded / 1e6,
        "files": len(hrefs),
    }


def run_decode_encode(st: Setting, store: Path) -> dict:
    """Decode every needed window, encode it with the cube's codec, write the bytes.

    The two floors' own work in one pipeline and nothing else: no pairing,
    resampling, mosaicking, harmonization, and none of Zarr's bookkeeping.
    Each window is cut into the cube's chunk edge, and each piece is encoded
    with Blosc LZ4 + byte shuffle (the codec of a cube's pixel variables;
    zarr calls the same numcodecs code) and written to its own file, right
    after the window is decoded, on ``os.cpu_count()`` threads. Windows hold
    fewer pixels than the cube (20 and 60 m bands at their own resolution),
    so no pipeline that must decode and store these scenes can be faster.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numcodecs
    import numpy as np

    from geomm.cube import CubeConfig

    config = CubeConfig()
    edge = config.chip_size * config.chunk_chips
    codec = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    hrefs, read = _window_reader(st)
    began = time.perf_counter()
    store.mkdir(parents=True)

    def decode_encode(index: int, href: str) -> tuple[int, int]:
        window = read(href)
        if window is None:
            return 0, 0
        written = 0
        for y in range(0, window.shape[0], edge):
            for x in range(0, window.shape[1], edge):
                piece = np.ascontiguousarray(window[y : y + edge, x : x + edge])
                written += (store / f"w{index:03d}.{y}.{x}").write_bytes(codec.encode(piece))
        return int(window.size), written

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        done = list(pool.map(decode_encode, range(len(hrefs)), hrefs))
    return {
        "seconds": time.perf_counter() - began,
        "decoded_mpix": sum(n for n, _ in done) / 1e6,
        "encoded_mb": sum(b for _, b in done) / 1e6,
        "files": len(hrefs),
    }


def zarr_variants() -> dict[str, dict]:
    """Tuned write settings to try (the default is always measured first)."""
    from zarr.codecs import BloscCodec, ZstdCodec

    return {
        "empty-chunks on, zstd 0": {"compressors": [ZstdCodec(level=0)]},
        "empty-chunks on, zstd 1": {"compressors": [ZstdCodec(level=1)]},
        "empty-chunks on, blosc lz4 shuffle": {
            "compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]
        },
        "empty-chunks on, blosc lz4 shuffle, numpy (no dask)": {
            "compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")],
            "numpy": True,
        },
    }


def run_zarr_write(st: Setting, store: Path, ref: Path) -> dict:
    """Write the finished cube (in memory) with default and tuned settings."""
    import xarray as xr

    from geomm.cube import open_cube

    cube = open_cube(ref).load()
    for var in cube.variables.values():
        var.encoding = {}
    edge = int(cube.attrs["chip_size"]) * int(cube.attrs["chunk_chips"])
    chunked = cube.chunk({"time": 1, "y": edge, "x": edge})
    pixel_vars = [n for n, v in cube.data_vars.items() if {"y", "x"} <= set(v.dims)]

    def timed(ds: xr.Dataset, **kw) -> float:
        shutil.rmtree(store, ignore_errors=True)
        began = time.perf_counter()
        ds.to_zarr(store, zarr_format=3, **kw)
        seconds = time.perf_counter() - began
        shutil.rmtree(store, ignore_errors=True)
        return seconds

    out = {"variants": {"default": timed(chunked)}}
    for name, spec in zarr_variants().items():
        ds = cube if spec.get("numpy") else chunked
        encoding = {n: {"compressors": spec["compressors"]} for n in pixel_vars}
        if spec.get("numpy"):
            for n in pixel_vars:
                encoding[n]["chunks"] = tuple(
                    {"time": 1, "y": edge, "x": edge}.get(d, cube[n].sizes[d]) for d in cube[n].dims
                )
        out["variants"][name] = timed(
            ds, encoding=encoding, write_empty_chunks=True, consolidated=False
        )
    out["seconds"] = min(out["variants"].values())
    return out


def _written(ds) -> float:
    """Pixel values a peer actually wrote (its own time axes and layers), in millions."""
    return sum(v.size for v in ds.data_vars.values() if {"y", "x"} & set(v.dims)) / 1e6


# --------------------------------------------------------------------------- one contender


def child(args: argparse.Namespace) -> None:
    """Run one contender once, in this process; print its result as a JSON line."""
    import psutil

    workdir = Path(args.workdir)
    if args.only == "zarr-write-1thread":
        import zarr

        zarr.config.set({"threading.max_workers": 1})
    st = setting(workdir, args.scale)
    store = workdir / f"store-{args.only}-x{args.scale}.zarr"
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(store.with_name(store.name + ".progress"), ignore_errors=True)
    rss_before = psutil.Process().memory_info().rss
    if args.only == "geomm":
        result = run_geomm(st, store)
    elif args.only == "geomm-odc":
        result = run_geomm(st, store, reader="odc")
    elif args.only == "odc-stac":
        result = run_odc(st, store)
    elif args.only == "odc-stac-bilinear":
        result = run_odc(st, store, resampling="bilinear")
    elif args.only == "stackstac":
        result = run_stackstac(st, store)
    elif args.only == "raw-decode":
        result = run_raw_decode(st, store)
    elif args.only == "decode-encode":
        result = run_decode_encode(st, store)
    else:
        result = run_zarr_write(st, store, reference_cube(workdir, st, args.scale))
    shutil.rmtree(store, ignore_errors=True)
    result.update(
        name=args.only,
        scale=args.scale,
        output_mpix=st.output_mpix,
        times=st.times,
        shape=list(st.grid.shape),
        rss_before_mb=rss_before / 2**20,
        peak_rss_mb=peak_rss_mb(),
    )
    print("RESULT " + json.dumps(result), flush=True)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM), in MiB.

    Not ``ru_maxrss``: Linux keeps that across fork + exec, so a child would
    report at least the RSS its (large) parent had when it was spawned.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_cube(workdir: Path, st: Setting, scale: int) -> Path:
    """The geomm cube of this AOI, written once (the zarr-write floors load it)."""
    from geomm.cube import CubeConfig, build_cube, write_cube

    ref = workdir / f"reference-x{scale}-{revision()['commit']}.zarr"
    if not (ref / "zarr.json").is_file() or "complete" not in (ref / "zarr.json").read_text():
        for old in workdir.glob(f"reference-x{scale}-*.zarr"):
            shutil.rmtree(old, ignore_errors=True)
        ds = build_cube(st.items, aoi=st.aoi, profile=st.profile, config=CubeConfig())
        write_cube(ds, ref)
    return ref


def spawn(args: argparse.Namespace, name: str, scale: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--workdir",
        str(args.workdir),
        "--scale",
        str(scale),
        "--only",
        name,
        "--child",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(proc.stdout + proc.stderr)
    raise RuntimeError(f"{name} (x{scale}) failed with exit code {proc.returncode}")


# --------------------------------------------------------------------------- report


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Best and median seconds, Mpix/s and peak RSS per contender.

    The two zarr-write children are folded into two rows: default settings,
    and the best tuned variant over both zarr threading settings.
    """
    out: dict[str, dict] = {}
    variants: dict[str, list[float]] = {}
    for name, results in runs.items():
        if name.startswith("zarr-write"):
            threads = "zarr threads 1" if name.endswith("1thread") else "zarr threads default"
            for r in results:
                for k, secs in r["variants"].items():
                    if k == "default" and threads != "zarr threads default":
                        k = "zstd 0, empty-chunk check, dask"
                    label = "default" if k == "default" else f"{k}; {threads}"
                    variants.setdefault(label, []).append(secs)
            continue
        secs = [r["seconds"] for r in results]
        best = min(results, key=lambda r: r["seconds"])
        entry = {
            "seconds_best": best["seconds"],
            "seconds_median": statistics.median(secs),
            "runs": len(secs),
            "output_mpix": best["output_mpix"],
            "mpix_per_s": best["output_mpix"] / best["seconds"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in results),
            "rss_before_mb": min(r["rss_before_mb"] for r in results),
        }
        for key in ("written", "decoded_mpix", "encoded_mb", "files", "shape", "times", "scale"):
            if key in best:
                entry[key] = best[key]
        out[name] = entry
    if variants:
        results = [r for n, rs in runs.items() if n.startswith("zarr-write") for r in rs]
        mpix = results[0]["output_mpix"]
        rss = max(r["peak_rss_mb"] for r in results)
        rss_median = statistics.median(r["peak_rss_mb"] for r in results)
        tuned = {k: min(v) for k, v in variants.items() if k != "default"}
        pick = min(tuned, key=tuned.get) if tuned else None
        for key, label in (("zarr-write-default", "default"), ("zarr-write-tuned", pick)):
            if label in variants:
                out[key] = {
                    "seconds_best": min(variants[label]),
                    "seconds_median": statistics.median(variants[label]),
                    "runs": len(variants[label]),
                    "output_mpix": mpix,
                    "mpix_per_s": mpix / min(variants[label]),
                    "peak_rss_mb": rss,
                    "peak_rss_mb_median": rss_median,
                    "settings": label,
                }
        out["zarr-write-variants"] = {
            k: {"seconds_best": min(v), "mpix_per_s": mpix / min(v)} for k, v in variants.items()
        }
    return out


ROW_LABELS = {
    "raw-decode": "floor: raw decode (rasterio, COG windows)",
    "zarr-write-default": "floor: zarr write (default settings)",
    "zarr-write-tuned": "floor: zarr write (tuned)",
    "decode-encode": "bound: raw decode + encode + write of the windows",
    "geomm-odc": "geomm, reader=OdcReader()",
    "odc-stac": "odc-stac (obvious)",
    "odc-stac-bilinear": "odc-stac (obvious, but bilinear like geomm)",
    "stackstac": "stackstac (obvious)",
}


def slower_floor(summary: dict[str, dict]) -> tuple[str, float] | None:
    """The slower of the two floors (raw decode, tuned zarr write)."""
    floors = {
        k: summary[k]["mpix_per_s"] for k in ("raw-decode", "zarr-write-tuned") if k in summary
    }
    if not floors:
        return None
    name = min(floors, key=floors.get)
    return name, floors[name]


def table(summary: dict[str, dict]) -> str:
    odc = summary.get("odc-stac")
    sst = summary.get("stackstac")
    floor = slower_floor(summary)
    lines = [
        "| contender | seconds (best) | seconds (median) | Mpix/s | x odc-stac | x stackstac "
        "| x slower floor | peak RSS MB median (max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in summary.items():
        if "seconds_best" not in e or name == "zarr-write-variants":
            continue
        rate = e["mpix_per_s"]
        vs_odc = f"{rate / odc['mpix_per_s']:.2f}" if odc else "-"
        vs_sst = f"{rate / sst['mpix_per_s']:.2f}" if sst else "-"
        vs_floor = f"{rate / floor[1]:.2f}" if floor else "-"
        lines.append(
            f"| {ROW_LABELS.get(name, name)} | {e['seconds_best']:.2f} | "
            f"{e['seconds_median']:.2f} | {rate:.1f} | {vs_odc} | {vs_sst} | {vs_floor} "
            f"| {e['peak_rss_mb_median']:.0f} ({e['peak_rss_mb']:.0f}) |"
        )
    notes = []
    if "zarr-write-tuned" in summary:
        notes.append(f"tuned zarr write: {summary['zarr-write-tuned']['settings']}")
    if floor:
        notes.append(f"slower floor: {ROW_LABELS[floor[0]]}, {floor[1]:.1f} Mpix/s")
    if variants := summary.get("zarr-write-variants"):
        notes.append(
            "zarr write variants (best s, Mpix/s): "
            + "; ".join(
                f"[{k}] {v['seconds_best']:.2f} s {v['mpix_per_s']:.0f}"
                for k, v in variants.items()
            )
        )
    return "\n".join(lines) + "".join(f"\n\n{n}" for n in notes)


def revision() -> dict:
    """The geomm commit measured, and whether geomm/ had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*cmd: str) -> str:
        out = subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "geomm_dirty": bool(git("status", "--porcelain", "geomm")),
    }


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import dask
        import odc.stac
        import rasterio
        import stackstac
        import xarray
        import zarr

        info["versions"] = {
            "dask": dask.__version__,
            "odc-stac": odc.stac.__version__,
            "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__,
            "stackstac": stackstac.__version__,
            "xarray": xarray.__version__,
            "zarr": zarr.__version__,
        }
    except ImportError:
        pass
    return info


def main_run(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    scales = [1] if args.scale == 1 else [1, args.scale]
    names = [args.only] if args.only else (list(CONTENDERS) if args.scale == 1 else ["geomm"])
    began = time.perf_counter()
    # Generate before timing anything, and read every COG once so that all
    # contenders find them in the page cache.
    for tif in region_dir(workdir).rglob("*.tif"):
        tif.read_bytes()
    report: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        **machine(),
        **revision(),
    }
    for scale in scales:
        if any(n.startswith("zarr-write") for n in names):
            # The floors' input, built here so its cost stays out of their RSS.
            reference_cube(workdir, setting(workdir, scale), scale)
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for rep in range(args.repeat):
            for name in names:
                r = spawn(args, name, scale)
                runs[name].append(r)
                print(
                    f"x{scale} run {rep + 1}/{args.repeat} {name:>20}: {r['seconds']:6.2f} s, "
                    f"{r['output_mpix'] / r['seconds']:6.1f} Mpix/s, "
                    f"peak RSS {r['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
        summary = summarize(runs)
        report[f"x{scale}"] = summary
        print(f"\nx{scale} AOI:\n" + table(summary) + "\n", flush=True)
    if args.scale != 1:
        for name in names:
            ratios = {}
            for stat in ("peak_rss_mb_median", "peak_rss_mb"):
                small = report["x1"][name][stat]
                large = report[f"x{args.scale}"][name][stat]
                ratios[stat] = large / small
                print(
                    f"{name}: {stat} x{args.scale} / x1 = {large:.0f} / {small:.0f} MB "
                    f"= {large / small:.2f}",
                    flush=True,
                )
            report.setdefault("rss_ratio", {})[name] = ratios
    report["wall_seconds"] = time.perf_counter() - began
    if revision() != {k: report[k] for k in ("commit", "geomm_dirty")}:
        report["warning"] = f"geomm changed during the run (now {revision()})"
        print("WARNING: " + report["warning"], flush=True)
    tag = f"x{args.scale}" + (f"-{args.only}" if args.only else "")
    (workdir / f"results-{tag}.json").write_text(json.dumps(report, indent=1) + "\n")
    md = "\n\n".join(f"x{s} AOI\n\n" + table(report[f"x{s}"]) for s in scales)
    (workdir / f"results-{tag}.md").write_text(md + "\n")
    print(f"wrote {workdir / f'results-{tag}.json'} and .md ({report['wall_seconds']:.0f} s)")


def profile_geomm(args: argparse.Namespace) -> None:
    """Where geomm's time goes.

    One threaded run for the wall time, then one run on the synchronous
    scheduler with the reader's stages wrapped in timers (exclusive seconds:
    a stage's time excludes the wrapped stages it calls). The wrapped names are
    geomm.cube reader internals; missing ones are skipped, so this
    keeps working (with less detail) as the reader changes. With
    ``LoadOptions(reader=OdcReader())`` only the total and the remainder show.
    """
    import collections
    import functools

    import dask
    import rasterio

    from geomm.cube import CubeConfig, build_cube, write_cube

    workdir = Path(args.workdir)
    st = setting(workdir, args.scale)
    store = workdir / "store-profile.zarr"

    def once() -> float:
        shutil.rmtree(store, ignore_errors=True)
        began = time.perf_counter()
        ds = build_cube(st.items, aoi=st.aoi, profile=st.profile, config=CubeConfig())
        write_cube(ds, store)
        seconds = time.perf_counter() - began
        shutil.rmtree(store, ignore_errors=True)
        return seconds

    threaded = once()
    acc: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    inner: list[float] = []

    def timed(label: str, func):
        @functools.wraps(func)
        def wrapper(*a, **k):
            began = time.perf_counter()
            inner.append(0.0)
            try:
                return func(*a, **k)
            finally:
                spent = time.perf_counter() - began
                acc[label] += spent - inner.pop()
                calls[label] += 1
                if inner:
                    inner[-1] += spent

        return wrapper

    class TimedRasterio:
        """``rasterio`` as the reader sees it, with open and read timed."""

        errors = rasterio.errors

        @staticmethod
        def open(*a, **k):
            ds = timed("rasterio.open", rasterio.open)(*a, **k)
            ds.read = timed("dataset.read (COG decode)", ds.read)
            return ds

    import importlib

    # (module, name looked up there, label): each wrapped where its caller finds it
    wrapped = [
        ("_geomm_reader", "read_s2_block", "S2 mosaic + harmonize + clear (numpy)"),
        ("_geomm_reader", "read_s1_block", "S1 mosaic + dB (numpy)"),
        ("_kernels", "read_window", "nodata masks"),
        ("_kernels", "sample_bands", "band grouping"),
        ("_kernels", "plan_read", "sampling plans (cached per source grid and task)"),
        ("_plan", "_coarse_positions", "sample positions across zones (pyproj)"),
        ("_resample", "bilinear", "resample: bilinear, nodata in the window (remap, weights)"),
        ("_remap", "_bilinear_valid", "resample: bilinear, all valid (remap, tile-edge fix-up)"),
        ("_resample", "_zoom2", "resample: exact 2x (OpenCV resize)"),
        ("_resample", "nearest", "resample: nearest (SCL)"),
        ("_resample", "_copy", "resample: window copy"),
        ("_blocks", "write_chunks", "Zarr chunk writes (contiguous copy, wait for encode)"),
    ]
    saved = []
    for module_name, name, label in wrapped:
        try:
            module = importlib.import_module(f"geomm.cube.{module_name}")
        except ImportError:
            continue  # the reader changed: less detail, same total
        if hasattr(module, name):
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, timed(label, getattr(module, name)))
    try:
        from geomm.cube import _handles, _plan

        _plan.PLANS.clear()  # plans computed in the timed run too
        saved.append((_handles, "rasterio", _handles.rasterio))
        _handles.rasterio = TimedRasterio
    except (ImportError, AttributeError):
        pass
    try:
        with dask.config.set(scheduler="synchronous"):
            total = once()
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
    print(
        f"geomm, x{args.scale} AOI ({st.output_mpix:.0f} output Mpix): threaded {threaded:.2f} s "
        f"({st.output_mpix / threaded:.1f} Mpix/s); synchronous {total:.2f} s "
        f"(= CPU seconds of one core)"
    )
    print("| stage (synchronous run, exclusive) | seconds | share | calls |")
    print("|---|---:|---:|---:|")
    for label, secs in acc.most_common():
        print(f"| {label} | {secs:.2f} | {100 * secs / total:.0f}% | {calls[label]} |")
    rest = total - sum(acc.values())
    print(
        f"| rest: graph, Dask, xarray/Zarr write + encode | {rest:.2f} "
        f"| {100 * rest / total:.0f}% | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir",
        default=str(Path.home() / ".cache" / "geomm-bench"),
        help="region cache and stores (default ~/.cache/geomm-bench)",
    )
    parser.add_argument("--scale", type=int, default=1, choices=(1, 4), help="AOI area factor")
    parser.add_argument("--only", choices=CONTENDERS, help="run one contender")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best counts)")
    parser.add_argument("--profile", action="store_true", help="profile geomm instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.profile:
        profile_geomm(args)
    else:
        main_run(args)


if __name__ == "__main__":
    main()
