"""Embedding throughput: torchgeo's CROMA the naive way, geomm's model, `geomm embed`.

All contenders run in this one process on the same chips (every chip-time of
the sample catalog's demo cube), interleaved over ``--repeat`` rounds, best
round counts:

1. ``naive``: torchgeo's ``croma_base`` in fp32, the reference README's
   normalization (each channel's mean +- 2 std of the batch), a plain loop
   over batches under ``torch.no_grad``;
2. ``geomm model``: ``load_model("croma-base")`` at ``--precision`` (``auto``
   = bf16 here) on the same arrays, fixed normalization;
3. ``geomm embed``: ``embed_cube`` end to end (read the cube from Zarr,
   normalize, infer, write GeoParquet), model already loaded, every
   chip-time kept (thresholds 0);
4. this machine's dense matmul rate (fp32 and bf16 ``torch.mm`` 4096^2),
   to express 1-3 as model FLOP utilization (MFU).

Plus ``int8`` (the same model dynamically quantized) against bf16, with the
cosine similarity of its embeddings to fp32.

Weights are seeded random: speed does not depend on their values, and the
benchmark stays offline. Results: ``<workdir>/embed-results.json`` / ``.md``.

    python bench/embed_throughput.py                 # ~5 min
    python bench/embed_throughput.py --chips 32 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

START, END = "2024-06-01", "2024-07-31"


def sample_cube(workdir: Path) -> Path:
    """The demo AOI's cube from the bundled sample catalog, built once."""
    from geomm.aoi import read_aoi
    from geomm.cube import make_cube
    from geomm.sample import sample_aoi_path, sample_catalog

    out = workdir / "sample-cube.zarr"
    if not (out / "zarr.json").is_file() or "complete" not in (out / "zarr.json").read_text():
        shutil.rmtree(out, ignore_errors=True)
        make_cube(
            str(sample_catalog()),
            aoi=read_aoi(sample_aoi_path()),
            start=START,
            end=END,
            out=out,
        )
    return out


def chip_arrays(cube: Path, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(s1, s2) of every chip-time of the cube, chip-major, at most ``limit``."""
    from geomm.chips import cube_chips
    from geomm.cube import open_cube

    ds = open_cube(cube).load()
    s1, s2 = [], []
    for chip in cube_chips(ds):
        for t in range(ds.sizes["time"]):
            s1.append(ds.s1.values[t, :, chip.y, chip.x])
            s2.append(ds.s2.values[t, :, chip.y, chip.x])
    n = len(s1) if limit is None else min(limit, len(s1))
    return np.stack(s1[:n]), np.stack(s2[:n])


def matmul_rate(dtype, size: int = 4096, seconds: float = 2.0) -> float:
    """Dense ``torch.mm`` rate in GFLOP/s."""
    import torch

    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        torch.mm(a, b)
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - began) / 1e9


def flops_per_chip(model, size: int = 120) -> float:
    """Forward FLOPs of one joint chip, counted by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 2, size, size), torch.rand(1, 12, size, size))
    return float(counter.get_total_flops())


def reference_normalize(x):
    """CROMA README: per channel, the batch's mean +- 2 std mapped to [0, 1]."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True)
    lo, hi = mean - 2 * std, mean + 2 * std
    return ((x - lo) / (hi - lo)).clamp(0, 1)


def run_naive(model, s1: np.ndarray, s2: np.ndarray, batch: int) -> float:
    import torch

    began = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(s1), batch):
            x1 = torch.from_numpy(np.nan_to_num(s1[i : i + batch], nan=0.0))
            x2 = torch.from_numpy(s2[i : i + batch].astype(np.float32))
            out = model(reference_normalize(x1), reference_normalize(x2))
            out["joint_GAP"].numpy()
    return time.perf_counter() - began


def run_model(model, s1: np.ndarray, s2: np.ndarray, batch: int) -> tuple[float, np.ndarray]:
    began = time.perf_counter()
    parts = [
        model.embed(s1[i : i + batch], s2[i : i + batch], outputs=["joint"])["joint"]
        for i in range(0, len(s1), batch)
    ]
    return time.perf_counter() - began, np.concatenate(parts)


def run_embed(cube: Path, spec, batch: int, out: Path) -> tuple[float, int]:
    from geomm.embed import EmbedConfig, embed_cube

    config = EmbedConfig(model=spec, min_clear=0.0, min_s1_coverage=0.0, batch_size=batch)
    shutil.rmtree(out.with_name(out.name + ".parts"), ignore_errors=True)
    out.unlink(missing_ok=True)
    began = time.perf_counter()
    report = embed_cube(cube, out, config=config)
    return time.perf_counter() - began, report.rows


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "geomm-bench"))
    parser.add_argument("--chips", type=int, default=None, help="at most this many chip-times")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    import torch
    from torchgeo.models import CROMA

    from geomm.embed import ModelSpec

    workdir = Path(args.workdir) / "embed"
    workdir.mkdir(parents=True, exist_ok=True)
    cube = sample_cube(workdir)
    s1, s2 = chip_arrays(cube, args.chips)
    n = len(s1)
    print(f"{n} chip-times of {cube}; torch {torch.__version__}, {torch.get_num_threads()} threads")

    rates = {"fp32": matmul_rate(torch.float32), "bf16": matmul_rate(torch.bfloat16)}
    print(f"matmul GFLOP/s: fp32 {rates['fp32']:.0f}, bf16 {rates['bf16']:.0f}")
    torch.manual_seed(0)
    naive = CROMA(modalities=["sar", "optical"]).eval()
    flops = flops_per_chip(naive)
    print(f"{flops / 1e9:.1f} GFLOP per joint chip at 120 px")

    spec = ModelSpec(name="croma-base", weights="random", precision=args.precision)
    best = spec.load()
    fp32 = ModelSpec(name="croma-base", weights="random", precision="fp32").load()
    int8 = ModelSpec(name="croma-base", weights="random", precision="int8").load()
    print(f"geomm model precision: {best.precision}")

    times: dict[str, list[float]] = {}
    outputs: dict[str, np.ndarray] = {}
    rows = 0
    for r in range(args.repeat):
        t = run_naive(naive, s1, s2, args.batch)
        times.setdefault("naive", []).append(t)
        for label, model in ((f"geomm model {best.precision}", best), ("geomm model int8", int8)):
            t, emb = run_model(model, s1, s2, args.batch)
            times.setdefault(label, []).append(t)
            outputs[label] = emb
        if r == 0:
            outputs["fp32"] = run_model(fp32, s1, s2, args.batch)[1]
        t, rows = run_embed(cube, spec, args.batch, workdir / "bench.parquet")
        times.setdefault("geomm embed (end to end)", []).append(t)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
    if rows != n and args.chips is None:
        raise RuntimeError(f"embed wrote {rows} rows for {n} chip-times")

    table = []
    model_best = min(times[f"geomm model {best.precision}"])
    for label, values in times.items():
        seconds = min(values)
        count = rows if label.startswith("geomm embed") else n
        rate = count / seconds
        precision = "fp32" if label == "naive" else ("int8" if "int8" in label else best.precision)
        mfu_rate = rates["bf16"] if precision in ("bf16", "int8") else rates["fp32"]
        table.append(
            {
                "contender": label,
                "seconds": seconds,
                "chips_per_s": rate,
                "x_naive": min(times["naive"]) / seconds * count / n,
                "of_model": model_best / seconds * count / n,
                "mfu": rate * flops / 1e9 / mfu_rate,
                "mfu_of": precision if precision != "int8" else "bf16 rate",
            }
        )
    similarity = {
        label: float(cosine(outputs[label], outputs["fp32"]).min())
        for label in outputs
        if label != "fp32"
    }
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/embed_throughput.py "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k != "workdir" and v),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "chips": n,
        "batch": args.batch,
        "gflop_per_chip": flops / 1e9,
        "matmul_gflops": rates,
        "results": table,
        "min_cosine_vs_fp32": similarity,
    }
    (workdir / "embed-results.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "| contender | seconds (best) | chips/s | x naive | x geomm model | MFU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append(
            f"| {row['contender']} | {row['seconds']:.2f} | {row['chips_per_s']:.2f} | "
            f"{row['x_naive']:.2f} | {row['of_model']:.2f} | "
            f"{100 * row['mfu']:.0f}% of {row['mfu_of']} |"
        )
    lines.append("")
    lines.append(
        "min cosine similarity to geomm fp32: "
        + ", ".join(f"{k} {v:.4f}" for k, v in similarity.items())
    )
    (workdir / "embed-results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
