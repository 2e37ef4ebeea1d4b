"""The area-integrating sensor model: truth -> Sentinel-2 L2A and Sentinel-1 RTC pixels.

Every pixel is the mean of the truth over its footprint, sampled on a 2.5 m
sub-grid (4 x 4 per 10 m pixel, 8 x 8 per 20 m, 24 x 24 per 60 m). The class
at each sub-sample is computed once per scene grid, as per-pixel class counts
at 10 m; coarser grids sum those counts (the grids nest), and a band is
``counts / n @ per-class value``. A pixel whose sub-samples all share one class
therefore holds exactly that class's value.

Finding the class of ~10^7 sub-samples is the cost, so it is done per pixel
first: when the two nearest parcel seeds of a pixel centre differ in distance
by more than the sub-samples' spread (and the river is far), all its
sub-samples provably share the centre's class; only the remaining border
pixels are evaluated sample by sample through :meth:`GroundTruth.classes_at`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer

from geomm.sample._synthetic_layout import S1_ENL, Grid, S1Scene, S2Tile
from geomm.sample._synthetic_truth import GroundTruth
from geomm.sample._synthetic_world import (
    CLOUD_REFLECTANCE,
    S2_BANDS,
    WATER_ID,
    CloudField,
    class_table,
)

__all__ = [
    "S2_RES",
    "S1Base",
    "S2Base",
    "class_counts",
    "render_s1",
    "render_s2",
    "s1_base",
    "s2_base",
]

SUB = 4
"""Sub-samples per 10 m pixel along each axis (2.5 m)."""
S2_RES: dict[str, int] = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B11": 20,
    "B12": 20,
    "SCL": 20,
}
"""Native resolution of each Sentinel-2 asset."""
BOA_ADD_OFFSET = 1000
"""Processing baseline >= 04.00 adds this to every L2A reflectance DN."""
_ROWS = 128  # pixel rows per block


def block_sum(a: np.ndarray, f: int, dtype: type | None = None) -> np.ndarray:
    """Sum ``f`` x ``f`` blocks over the first two axes."""
    h, w = a.shape[:2]
    return a.reshape(h // f, f, w // f, f, *a.shape[2:]).sum(axis=(1, 3), dtype=dtype)


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of ``f`` x ``f`` blocks over the first two axes."""
    return block_sum(a, f, np.float64) / (f * f)


def upsample(a: np.ndarray, f: int) -> np.ndarray:
    """Repeat every pixel ``f`` x ``f`` times."""
    return np.repeat(np.repeat(a, f, axis=0), f, axis=1)


def mix(counts: np.ndarray, n: int, table: np.ndarray) -> np.ndarray:
    """Area-weighted values: ``counts / n @ table`` for counts (H, W, K), table (K, B)."""
    out = np.empty((*counts.shape[:2], table.shape[1]), dtype=np.float64)
    for r0 in range(0, counts.shape[0], 256):
        out[r0 : r0 + 256] = (counts[r0 : r0 + 256].astype(np.float64) / n) @ table
    return out


def class_counts(world: GroundTruth, grid: Grid) -> np.ndarray:
    """Sub-samples of each class per pixel of a 10 m ``grid``: uint8 (H, W, K), rows sum to 16."""
    k = len(world.classes)
    step = grid.res / SUB
    offs = (np.arange(SUB) + 0.5) * step
    same = world.is_ref(grid.crs)
    # farthest sub-sample from the pixel centre; 1 % slack for the scale change
    # between two UTM zones when the grid is not in the reference CRS
    h = math.sqrt(2.0) * (SUB - 1) / 2 * step * (1.0 if same else 1.01) + 1e-6
    out = np.zeros((grid.height, grid.width, k), dtype=np.uint8)
    xc = grid.x_centers()
    for r0 in range(0, grid.height, _ROWS):
        r1 = min(grid.height, r0 + _ROWS)
        yc = grid.y_centers(r0, r1)
        xx, yy = np.meshgrid(xc, yc)
        xr, yr = world.to_ref(xx, yy, grid.crs)
        d, idx = world.nearest_seeds(xr, yr)
        cls = world.seed_class[idx[:, 0]].reshape(xx.shape)
        pure = (d[:, 1] - d[:, 0] > 2 * h).reshape(xx.shape)
        if world.river is not None:
            gap = world.river.signed_gap(xr, yr)
            m = h * (1.0 + world.river.slope_bound) + 1e-6
            wet = gap < -m
            pure &= gap > m
            pure |= wet
            cls[wet] = WATER_ID
        blk = out[r0:r1]
        rr, cc = np.nonzero(pure)
        blk[rr, cc, cls[rr, cc].astype(np.intp) - 1] = SUB * SUB
        rr, cc = np.nonzero(~pure)
        if rr.size:
            xs = grid.x0 + cc[:, None] * grid.res + offs[None, :]  # (n, SUB) columns
            ys = grid.y0 - (rr + r0)[:, None] * grid.res - offs[None, :]  # (n, SUB) rows
            sub = world.classes_at(xs[:, None, :], ys[:, :, None], grid.crs)  # (n, SUB, SUB)
            flat = np.arange(rr.size)[:, None] * k + sub.reshape(rr.size, -1).astype(np.intp) - 1
            blk[rr, cc] = np.bincount(flat.ravel(), minlength=rr.size * k).reshape(rr.size, k)
    return out


def spot_image(world: GroundTruth, grid: Grid, amplitudes: np.ndarray) -> np.ndarray:
    """Footprint-mean of the point targets' spots on a 10 m grid, times per-target amplitudes.

    Args:
        world: the truth (targets and their spot profiles).
        grid: a 10 m grid.
        amplitudes: (n_targets, B) peak value of each target in each of B layers.

    Returns:
        (H, W, B) float64, exactly 0 away from the targets.

    """
    out = np.zeros((grid.height, grid.width, amplitudes.shape[1]), dtype=np.float64)
    if not world.targets:
        return out
    to_grid = Transformer.from_crs(world.ref_crs, grid.crs, always_xy=True)
    step = grid.res / SUB
    for t in world.targets:
        gx, gy = to_grid.transform(t.x, t.y)
        reach = t.radius_m * 1.01 + grid.res
        c0 = max(0, math.floor((gx - reach - grid.x0) / grid.res))
        c1 = min(grid.width, math.ceil((gx + reach - grid.x0) / grid.res))
        r0 = max(0, math.floor((grid.y0 - gy - reach) / grid.res))
        r1 = min(grid.height, math.ceil((grid.y0 - gy + reach) / grid.res))
        if c0 >= c1 or r0 >= r1:
            continue
        xs = grid.x0 + (np.arange(c0 * SUB, c1 * SUB) + 0.5) * step
        ys = grid.y0 - (np.arange(r0 * SUB, r1 * SUB) + 0.5) * step
        xr, yr = world.to_ref(xs[None, :], ys[:, None], grid.crs)
        prof = world.target_profiles_ref(xr, yr)  # (n_t, rows, cols)
        pix = block_mean(np.moveaxis(prof, 0, -1), SUB)  # (rows, cols, n_t)
        out[r0:r1, c0:c1] += pix @ amplitudes
    return out


@dataclass
class S2Base:
    """Cloud-free reflectance of one tile, band by band at native resolution."""

    tile: S2Tile
    """The tile."""
    bands: dict[str, np.ndarray]
    """Reflectance per band (float64) at the band's own resolution."""
    bands20: dict[str, np.ndarray]
    """B01 and B09 also at 20 m, to mix clouds at 20 m before averaging to 60 m."""
    scl: np.ndarray
    """SCL of clear pixels (majority class) at 20 m."""
    valid: dict[int, np.ndarray]
    """Valid pixels per resolution (10, 20, 60)."""


def s2_base(world: GroundTruth, tile: S2Tile) -> S2Base:
    """Render the cloud-free, noise-free reflectance of a Sentinel-2 tile."""
    tab = class_table(world.classes)
    refl = tab["reflectance"]
    c10 = class_counts(world, tile.grid10)
    peaks = np.array([[t.s2_peak_reflectance] for t in world.targets]).reshape(-1, 1)
    spot10 = spot_image(world, tile.grid10, peaks)[..., 0]
    c20 = block_sum(c10, 2, np.uint16)
    c60 = block_sum(c20, 3, np.uint16)
    spots = {10: spot10, 20: block_mean(spot10, 2), 60: block_mean(spot10, 6)}
    counts = {10: (c10, 16), 20: (c20, 64), 60: (c60, 576)}
    bands: dict[str, np.ndarray] = {}
    for res in (10, 20, 60):
        names = [b for b in S2_BANDS if S2_RES[b] == res]
        idx = [S2_BANDS.index(b) for b in names]
        vals = mix(*counts[res], refl[:, idx])
        for j, b in enumerate(names):
            bands[b] = vals[..., j] + spots[res]
    idx = [S2_BANDS.index("B01"), S2_BANDS.index("B09")]
    v20 = mix(c20, 64, refl[:, idx])
    bands20 = {"B01": v20[..., 0] + spots[20], "B09": v20[..., 1] + spots[20]}
    scl = tab["scl"][np.argmax(c20, axis=-1)]
    v60 = tile.valid60()
    valid = {60: v60, 20: upsample(v60, 3), 10: upsample(v60, 6)}
    return S2Base(tile, bands, bands20, scl, valid)


def render_s2(
    world: GroundTruth, base: S2Base, date_index: int, cloudy: bool
) -> tuple[dict, float]:
    """One tile on one date: uint16 DN per band, uint8 SCL, and the true cloud+shadow %.

    Clouds are decided at 20 m pixel centres (:meth:`GroundTruth.cloud_state`);
    10 m pixels follow their 20 m pixel, 60 m pixels average their nine.
    """
    g20 = base.tile.grid10.coarsen(2)
    valid20 = base.valid[20]
    out: dict[str, np.ndarray] = {}
    if cloudy and world.clouds is not None:
        xx, yy = np.meshgrid(g20.x_centers(), g20.y_centers())
        state = world.cloud_state(date_index, xx, yy, g20.crs)
        dens = world.cloud_density(date_index, xx, yy, g20.crs)
        alpha = CloudField.alpha(dens)
        bright = CloudField.brightness(dens)
        shade = np.where(state == 3, world.clouds.shadow_factor, 1.0)
    else:
        state = np.zeros(valid20.shape, dtype=np.uint8)
    hit = state > 0

    def cloudy_value(v: np.ndarray, b: str, f: int) -> np.ndarray:
        a, br, sh = (
            (upsample(x, f) for x in (alpha, bright, shade)) if f > 1 else (alpha, bright, shade)
        )
        return (1.0 - a) * v * sh + a * CLOUD_REFLECTANCE[S2_BANDS.index(b)] * br

    for b in S2_BANDS:
        res = S2_RES[b]
        v = base.bands[b].copy()
        if hit.any():
            if res == 10:
                m = upsample(hit, 2)
                v[m] = cloudy_value(base.bands[b], b, 2)[m]
            elif res == 20:
                v[hit] = cloudy_value(base.bands[b], b, 1)[hit]
            else:
                m = block_sum(hit, 3, np.intp) > 0
                v[m] = block_mean(cloudy_value(base.bands20[b], b, 1), 3)[m]
        dn = np.clip(np.rint(v * 10000.0) + BOA_ADD_OFFSET, 1, 65535).astype(np.uint16)
        dn[~base.valid[res]] = 0
        out[b] = dn
    scl = np.where(hit, state, base.scl).astype(np.uint8)
    scl[~valid20] = 0
    out["SCL"] = scl
    n_valid = int(valid20.sum())
    cover = 100.0 * int((hit & valid20).sum()) / n_valid if n_valid else 0.0
    return out, cover


@dataclass
class S1Base:
    """Speckle-free gamma0 (linear) on one scene grid, distributed and point part apart."""

    grid: Grid
    """The grid."""
    distributed: np.ndarray
    """(H, W, 2) gamma0 VV, VH of the land cover, linear, float64."""
    points: np.ndarray
    """(H, W, 2) gamma0 of the point targets, linear, float64 (0 away from them)."""


def s1_base(world: GroundTruth, grid: Grid) -> S1Base:
    """Render speckle-free gamma0 on an S1 grid (shared by all scenes of a relative orbit)."""
    tab = class_table(world.classes)
    v = mix(class_counts(world, grid), 16, tab["gamma0_linear"])
    peaks = np.array([t.s1_peak_linear for t in world.targets]).reshape(-1, 2)
    return S1Base(grid, v, spot_image(world, grid, peaks))


def render_s1(base: S1Base, scene: S1Scene, speckle: bool, seed: int) -> dict[str, np.ndarray]:
    """One S1 scene: float32 linear gamma0 with -32768 nodata.

    Speckle is multiplicative Gamma(L, 1/L) noise on the distributed scatterers
    only: a point target is one dominant coherent scatterer, which does not
    speckle, so it is added after the noise.
    """
    out = {}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x51, scene.index]))
    valid = scene.valid()
    for j, name in enumerate(("vv", "vh")):
        v = base.distributed[..., j]
        if speckle:
            v = v * rng.gamma(S1_ENL, 1.0 / S1_ENL, size=v.shape)
        a = (v + base.points[..., j]).astype(np.float32)
        a[~valid] = np.float32(-32768.0)
        out[name] = a
    return out
