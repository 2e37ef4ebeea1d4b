"""Where things are in the synthetic region: zones, tiles, scene grids, swath edges, the truth.

The region is a lon/lat box across one UTM zone boundary. Sentinel-2 comes
as two tiles, one per zone, overlapping by about 1 km across the boundary
meridian, with origins at multiples of 60 m like real tiles. Sentinel-1 scenes
cover the whole region in the west zone's CRS on grids whose origins are off
the 10 m lattice (different per relative orbit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from affine import Affine
from numpy.typing import ArrayLike
from pyproj import Transformer

from geomm.errors import SampleDataError
from geomm.sample._synthetic_truth import GroundTruth
from geomm.sample._synthetic_world import CLASS_WEIGHTS, CLASSES, CloudField, PointTarget, River

if TYPE_CHECKING:
    from geomm.sample._synthetic import SyntheticConfig

__all__ = ["Grid", "Layout", "S1Scene", "S2Scene", "S2Tile", "build_layout", "build_world"]

OVERLAP_HALF_M = 500.0
"""Each S2 tile reaches this far across the zone boundary (overlap ~2x this)."""
S2_SWATH_CUT = 0.55
"""In the S2 tile with a swath edge, 60 m cells with ``u - v > S2_SWATH_CUT`` are nodata."""
S1_SWATH_TILT = math.tan(math.radians(12.0))
"""The S1 swath edge runs parallel to the ascending ground track, ~12 deg west of north."""
S1_ORBITS = {"descending": (168, (3.7, 6.2)), "ascending": (117, (8.1, 1.4))}
"""Relative orbit and grid origin offsets (x mod 10, 10 - y mod 10) per orbit state."""
S2_RELATIVE_ORBIT = 65
"""Nominal Sentinel-2 relative orbit (R065 passes over 12 deg E in Bavaria)."""
S1_ENL = 4.4
"""Equivalent number of looks of Sentinel-1 IW GRD high resolution."""


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid."""

    crs: str
    """CRS, ``"EPSG:326zz"``."""
    x0: float
    """West edge."""
    y0: float
    """North edge."""
    res: float
    """Pixel size (m)."""
    width: int
    """Columns."""
    height: int
    """Rows."""

    @property
    def transform(self) -> Affine:
        """Pixel to CRS affine transform."""
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the grid's CRS."""
        return (self.x0, self.y0 - self.height * self.res, self.x0 + self.width * self.res, self.y0)

    def x_centers(self) -> np.ndarray:
        """Easting of each column's centre."""
        return self.x0 + (np.arange(self.width) + 0.5) * self.res

    def y_centers(self, r0: int = 0, r1: int | None = None) -> np.ndarray:
        """Northing of the centres of rows ``r0:r1``."""
        return self.y0 - (np.arange(r0, self.height if r1 is None else r1) + 0.5) * self.res

    def coarsen(self, factor: int) -> Grid:
        """Return the grid of ``factor`` x ``factor`` blocks (dimensions must divide)."""
        if self.width % factor or self.height % factor:
            raise ValueError(f"{self.width}x{self.height} not divisible by {factor}")
        return Grid(
            self.crs,
            self.x0,
            self.y0,
            self.res * factor,
            self.width // factor,
            self.height // factor,
        )


@dataclass(frozen=True)
class S2Tile:
    """A (miniature) Sentinel-2 MGRS tile."""

    mgrs: str
    """MGRS tile name, e.g. ``"32UQU"``."""
    grid10: Grid
    """Its 10 m grid (origin at multiples of 60 m)."""
    swath_edge: bool
    """Whether the north-east corner lies outside the swath (nodata)."""

    @property
    def epsg(self) -> int:
        """EPSG code of the tile's UTM zone."""
        return int(self.grid10.crs.split(":")[1])

    def valid60(self) -> np.ndarray:
        """Return the valid 60 m cells; finer pixels inherit their 60 m cell's validity."""
        g = self.grid10.coarsen(6)
        if not self.swath_edge:
            return np.ones((g.height, g.width), dtype=bool)
        u = (np.arange(g.width) + 0.5) / g.width
        v = (np.arange(g.height) + 0.5) / g.height
        return (u[None, :] - v[:, None]) <= S2_SWATH_CUT

    def valid_at(self, x: float, y: float, margin_m: float = 0.0) -> bool:
        """Whether a point (tile CRS) lies inside the tile's valid area, ``margin_m`` inside."""
        x0, y0, x1, y1 = self.grid10.bounds
        if not (x0 + margin_m <= x <= x1 - margin_m and y0 + margin_m <= y <= y1 - margin_m):
            return False
        if not self.swath_edge:
            return True
        w, h = x1 - x0, y1 - y0
        return (x - x0) / w - (y1 - y) / h <= S2_SWATH_CUT - margin_m * (1 / w + 1 / h)


@dataclass(frozen=True)
class S2Scene:
    """One Sentinel-2 acquisition (all tiles of one datatake)."""

    index: int
    """Index in ``SyntheticConfig.s2_dates``."""
    datetime: datetime
    """Sensing time (UTC)."""
    platform: str
    """``sentinel-2a`` or ``sentinel-2b``."""
    cloudy: bool
    """Whether clouds and shadows are rendered."""


@dataclass(frozen=True)
class S1Scene:
    """One Sentinel-1 RTC scene."""

    index: int
    """Index in ``SyntheticConfig.s1_dates``."""
    datetime: datetime
    """Start of the acquisition (UTC)."""
    orbit_state: str
    """``ascending`` or ``descending`` (from local solar time)."""
    relative_orbit: int
    """Relative orbit number."""
    absolute_orbit: int
    """Absolute orbit number, consistent with the relative one (S1A rule)."""
    grid: Grid
    """Its 10 m grid in the reference CRS."""
    swath_edge: tuple[float, float] | None
    """(x, y) of a point on the swath edge; pixels west of the edge are nodata."""

    def valid_at(self, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Tell whether reference-CRS points are inside the swath."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.swath_edge is None:
            return np.ones(np.broadcast(x, y).shape, dtype=bool)
        ex, ey = self.swath_edge
        return x >= ex - (y - ey) * S1_SWATH_TILT

    def valid(self) -> np.ndarray:
        """Return the valid pixels of :attr:`grid` (judged at pixel centres)."""
        g = self.grid
        return self.valid_at(g.x_centers()[None, :], g.y_centers()[:, None])


@dataclass(frozen=True)
class Layout:
    """Zones, region, tiles, scenes and grids of a synthetic region."""

    ref_crs: str
    """The west zone's CRS, where the truth lives."""
    east_crs: str
    """The east zone's CRS."""
    boundary_lon: float
    """The zone boundary meridian."""
    region_ref: tuple[float, float, float, float]
    """Bounding box of the lon/lat region in the reference CRS."""
    tiles: tuple[S2Tile, S2Tile]
    """West and east Sentinel-2 tiles."""
    s2_scenes: tuple[S2Scene, ...]
    """Sentinel-2 acquisitions."""
    s1_scenes: tuple[S1Scene, ...]
    """Sentinel-1 scenes."""
    truth_grid: Grid
    """10 m grid (multiples of 10 m) of the saved class map."""


def utm_zone(lon: float) -> int:
    """UTM zone number of a longitude (no Norway/Svalbard exceptions)."""
    return int(math.floor((lon + 180.0) / 6.0)) % 60 + 1


def utm_crs(zone: int, south: bool) -> str:
    """``EPSG:326zz`` (north) or ``EPSG:327zz`` (south)."""
    return f"EPSG:{(32700 if south else 32600) + zone}"


def mgrs_name(zone: int, x: float, y: float, lat: float) -> str:
    """MGRS 100 km square name (``"32UQU"``) of a UTM point (standard lettering, AA scheme)."""
    bands = "CDEFGHJKLMNPQRSTUVWX"
    band = bands[min(int((lat + 80) // 8), len(bands) - 1)]
    cols = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")[zone % 3]
    col = cols[int(x // 100000) - 1]
    rows = "ABCDEFGHJKLMNPQRSTUV"
    row = rows[(int(y // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"{zone:02d}{band}{col}{row}"


def _floor(v: float, step: float) -> float:
    return math.floor(v / step) * step


def _ceil(v: float, step: float) -> float:
    return math.ceil(v / step) * step


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def build_layout(config: SyntheticConfig) -> Layout:
    """Derive zones, tiles and scene grids from a (validated) config."""
    w, s, e, n = config.bounds
    zone_w = utm_zone(w)
    south = (s + n) / 2 < 0
    ref, east = utm_crs(zone_w, south), utm_crs(zone_w + 1, south)
    lon_b = -180.0 + 6.0 * zone_w
    rw = _region_box(config.bounds, ref)
    tiles = _s2_tiles(config.bounds, zone=zone_w, ref=ref, east=east, boundary_lon=lon_b)
    s2 = tuple(_s2_scene(i, ts, config) for i, ts in enumerate(config.s2_dates))
    s1 = tuple(_s1_scene(i, ts, config, ref=ref, region=rw) for i, ts in enumerate(config.s1_dates))
    tx0, ty1 = _floor(rw[0], 10.0), _ceil(rw[3], 10.0)
    truth = Grid(ref, tx0, ty1, 10.0, math.ceil((rw[2] - tx0) / 10), math.ceil((ty1 - rw[1]) / 10))
    return Layout(ref, east, lon_b, rw, tiles, s2, s1, truth)


def _region_box(
    bounds: tuple[float, float, float, float], crs: str
) -> tuple[float, float, float, float]:
    """Bounding box in ``crs`` of the lon/lat region, from 41 points along each edge."""
    w, s, e, n = bounds
    lats = np.linspace(s, n, 41)
    lons = np.linspace(w, e, 41)
    ring_lon = np.concatenate([lons, np.full(41, e), lons[::-1], np.full(41, w)])
    ring_lat = np.concatenate([np.full(41, s), lats, np.full(41, n), lats[::-1]])
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(ring_lon, ring_lat)
    return float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y))


def _s2_tiles(
    bounds: tuple[float, float, float, float],
    *,
    zone: int,
    ref: str,
    east: str,
    boundary_lon: float,
) -> tuple[S2Tile, S2Tile]:
    """The west tile (zone ``zone``) and the east tile with the swath edge, overlapping."""
    w, s, e, n = bounds
    lats = np.linspace(s, n, 41)
    to_w = Transformer.from_crs("EPSG:4326", ref, always_xy=True)
    to_e = Transformer.from_crs("EPSG:4326", east, always_xy=True)
    mx_w, _ = to_w.transform(np.full(41, boundary_lon), lats)
    mx_e, _ = to_e.transform(np.full(41, boundary_lon), lats)
    rw, re_ = _region_box(bounds, ref), _region_box(bounds, east)

    def tile(crs: str, utm: int, x0: float, x1: float, b: tuple, swath: bool) -> S2Tile:
        gx0, gx1 = _floor(x0, 60.0), _ceil(x1, 60.0)
        gy0, gy1 = _floor(b[1], 60.0), _ceil(b[3], 60.0)
        g = Grid(crs, gx0, gy1, 10.0, round((gx1 - gx0) / 10), round((gy1 - gy0) / 10))
        return S2Tile(mgrs_name(utm, (gx0 + gx1) / 2, (gy0 + gy1) / 2, (s + n) / 2), g, swath)

    tw = tile(ref, zone, rw[0], float(np.max(mx_w)) + OVERLAP_HALF_M, rw, False)
    te = tile(east, zone + 1, float(np.min(mx_e)) - OVERLAP_HALF_M, re_[2], re_, True)
    return tw, te


def _s2_scene(index: int, ts: str, config: SyntheticConfig) -> S2Scene:
    dt = _parse(ts)
    # S2A and S2B fly 180 deg apart on a 10-day cycle: the rule below makes
    # 2024-06-03 an S2A day, and days 5 apart alternate platforms.
    days = (dt.date() - datetime(2024, 6, 3).date()).days
    platform = "sentinel-2a" if (days // 5) % 2 == 0 else "sentinel-2b"
    return S2Scene(index, dt, platform, config.clouds and index in config.cloudy_dates)


def _s1_scene(
    index: int,
    ts: str,
    config: SyntheticConfig,
    *,
    ref: str,
    region: tuple[float, float, float, float],
) -> S1Scene:
    """One Sentinel-1 scene over ``region`` (reference CRS); the second has a swath edge."""
    w, _, e, _ = config.bounds
    rw = region
    lon_c = (w + e) / 2
    dt = _parse(ts)
    solar = (dt.hour + dt.minute / 60 + lon_c / 15.0) % 24
    state = "descending" if solar < 12 else "ascending"
    rel, (ox, oy) = S1_ORBITS[state]
    gx0 = _floor(rw[0], 10.0) - 20.0 + ox
    gy0 = _ceil(rw[3], 10.0) + 20.0 - oy
    wdt = math.ceil((rw[2] + 20.0 - gx0) / 10.0)
    hgt = math.ceil((gy0 - (rw[1] - 20.0)) / 10.0)
    grid = Grid(ref, gx0, gy0, 10.0, wdt, hgt)
    # S1A: relative = (absolute - 73) % 175 + 1; ~175 orbits per 12 days
    t_days = (dt - _parse("2024-06-01T00:00:00Z")).total_seconds() / 86400.0
    est = 54000 + round(t_days * 175 / 12)
    absolute = min(
        (a for a in range(est - 200, est + 200) if (a - 73) % 175 + 1 == rel),
        key=lambda a: abs(a - est),
    )
    edge = None
    if index == 1 % len(config.s1_dates):
        edge = (rw[0] + 0.18 * (rw[2] - rw[0]), (rw[1] + rw[3]) / 2)
    return S1Scene(index, dt, state, rel, absolute, grid, edge)


def build_world(config: SyntheticConfig, layout: Layout) -> GroundTruth:
    """Draw parcels, river, clouds and point targets from ``config.seed``."""
    root = np.random.SeedSequence([config.seed, 0x6E0])
    r_parcels, r_river, r_clouds, r_targets = (np.random.default_rng(s) for s in root.spawn(4))
    x0, y0, x1, y1 = layout.region_ref
    m = 3000.0
    wx0, wy0, wx1, wy1 = x0 - m, y0 - m, x1 + m, y1 + m
    n = max(2, round((wx1 - wx0) * (wy1 - wy0) / config.parcel_size_m**2))
    seeds = np.column_stack([r_parcels.uniform(wx0, wx1, n), r_parcels.uniform(wy0, wy1, n)])
    ids = np.array([c.id for c in CLASSES])
    p = np.array(CLASS_WEIGHTS) / np.sum(CLASS_WEIGHTS)
    seed_class = r_parcels.choice(ids, size=n, p=p).astype(np.uint8)

    river = River(
        y0=float(y0 + (y1 - y0) * r_river.uniform(0.3, 0.7)),
        amplitudes=(250.0, 80.0),
        wavelengths=(3000.0, 900.0),
        phases=(float(r_river.uniform(0, 2 * np.pi)), float(r_river.uniform(0, 2 * np.pi))),
        width=40.0,
    )

    clouds = None
    cloudy = tuple(sc.index for sc in layout.s2_scenes if sc.cloudy)
    if cloudy:
        from scipy.ndimage import gaussian_filter

        spacing = 250.0
        rows = math.ceil((wy1 - wy0) / spacing) + 1
        cols = math.ceil((wx1 - wx0) / spacing) + 1
        lat = []
        for _ in cloudy:
            g = gaussian_filter(r_clouds.standard_normal((rows, cols)), 1.5, mode="wrap")
            lat.append((g - g.mean()) / g.std())
        clouds = CloudField(cloudy, np.stack(lat), (wx0, wy0), spacing)

    world = GroundTruth(layout.ref_crs, CLASSES, seeds, seed_class, river, (), clouds)
    world.targets = _place_targets(world, config, layout, r_targets)
    return world


def _place_targets(
    world: GroundTruth, config: SyntheticConfig, layout: Layout, rng: np.random.Generator
) -> tuple[PointTarget, ...]:
    x0, y0, x1, y1 = layout.region_ref
    from_ll = {
        t.grid10.crs: Transformer.from_crs("EPSG:4326", t.grid10.crs, always_xy=True)
        for t in layout.tiles
    }
    w, s, e, n = config.bounds
    margin = 150.0
    targets: list[PointTarget] = []
    for k in range(config.n_point_targets):
        west = k % 2 == 0
        for _ in range(20000):
            lon = (
                rng.uniform(w, layout.boundary_lon) if west else rng.uniform(layout.boundary_lon, e)
            )
            lat = rng.uniform(s, n)
            lon, lat = round(lon, 7), round(lat, 7)
            x, y = (float(v) for v in world.to_ref(lon, lat, "EPSG:4326"))
            if not (x0 + margin < x < x1 - margin and y0 + margin < y < y1 - margin):
                continue
            if any(math.hypot(x - t.x, y - t.y) < 200.0 for t in targets):
                continue
            pts = [from_ll[t.grid10.crs].transform(lon, lat) for t in layout.tiles]
            covering = [(t, p) for t, p in zip(layout.tiles, pts, strict=True) if t.valid_at(*p)]
            if not covering or not all(t.valid_at(*p, margin) for t, p in covering):
                continue
            if not all(bool(sc.valid_at(x - margin, y)) for sc in layout.s1_scenes):
                continue
            if world.border_distance_bound(x, y) < 60.0:
                continue
            cid = int(world.classes_at_ref(np.array([x]), np.array([y]))[0])
            bg = world.gamma0_linear(cid)
            # +15 dB over the background in both polarisations, at the spot's peak
            peak = (float(bg[0] * (10**1.5 - 1)), float(bg[1] * (10**1.5 - 1)))
            targets.append(PointTarget(f"T{k + 1}", lon, lat, x, y, cid, peak))
            break
        else:
            raise SampleDataError(
                f"could not place point target {k + 1} of {config.n_point_targets} >= 60 m from "
                f"every parcel border inside bounds {config.bounds}; use fewer targets, larger "
                "bounds or a larger parcel_size_m"
            )
    return tuple(targets)
