"""Ground truth of the synthetic region: land cover, river, clouds and point targets.

Everything here is an exact function of position in one reference CRS (the
UTM zone of the region's west edge, extended east across the zone boundary):

* land cover: Voronoi parcels around seeded points (nearest seed decides the
  class), overlaid by a meandering river of fixed width (water);
* point targets: unit-peak Gaussian spots, truncated at ``radius_m``;
* clouds, per cloudy Sentinel-2 date: a cubic-spline interpolated random
  lattice, thresholded; shadows are the cloud field shifted by a fixed
  sun-geometry offset.

:class:`GroundTruth` holds these and is saved next to the catalog
(``ground_truth/``), so later stages test against the very same truth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from scipy.ndimage import map_coordinates
from scipy.spatial import cKDTree

from geomm.errors import SampleDataError
from geomm.stac._profiles import S2_BANDS  # the 12 canonical bands, CROMA order

__all__ = [
    "CLASSES",
    "CLOUD_REFLECTANCE",
    "S2_BANDS",
    "CloudField",
    "GroundTruth",
    "LandCoverClass",
    "PointTarget",
    "River",
]


@dataclass(frozen=True)
class LandCoverClass:
    """One land-cover class and its per-sensor truth."""

    id: int
    """Class id (1..); 0 means no class in the class map."""
    name: str
    """Short snake_case name."""
    scl: int
    """Sentinel-2 scene classification of a clear pixel (4 vegetation, 5 bare, 6 water)."""
    reflectance: tuple[float, ...]
    """L2A surface reflectance of the 12 bands in :data:`S2_BANDS` order."""
    gamma0_db: tuple[float, float]
    """C-band RTC gamma0 (VV, VH) in dB."""

    def __post_init__(self) -> None:
        if len(self.reflectance) != len(S2_BANDS):
            raise SampleDataError(
                f"class {self.name!r}: {len(self.reflectance)} reflectances, need "
                f"{len(S2_BANDS)} (one per band of {S2_BANDS})"
            )


# Surface reflectance in band order B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12
_WATER = (0.045, 0.040, 0.055, 0.035, 0.030, 0.022, 0.020, 0.018, 0.015, 0.010, 0.008, 0.006)
_GRASS = (0.040, 0.045, 0.075, 0.065, 0.120, 0.220, 0.260, 0.280, 0.295, 0.290, 0.270, 0.170)
_WET_MEADOW = (0.038, 0.042, 0.072, 0.060, 0.118, 0.225, 0.265, 0.285, 0.298, 0.285, 0.240, 0.140)
_FOREST = (0.020, 0.025, 0.045, 0.025, 0.070, 0.200, 0.250, 0.270, 0.285, 0.280, 0.140, 0.070)
_SOIL = (0.090, 0.100, 0.130, 0.160, 0.180, 0.200, 0.215, 0.225, 0.235, 0.240, 0.310, 0.260)
_CROP = (0.030, 0.035, 0.070, 0.040, 0.110, 0.330, 0.420, 0.450, 0.470, 0.460, 0.230, 0.110)
_URBAN = (0.090, 0.100, 0.115, 0.130, 0.145, 0.160, 0.170, 0.180, 0.185, 0.180, 0.210, 0.190)
_SAND = (0.200, 0.230, 0.290, 0.340, 0.370, 0.390, 0.410, 0.420, 0.430, 0.430, 0.480, 0.420)

CLASSES: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "water", 6, _WATER, (-22.0, -28.0)),
    LandCoverClass(2, "dry_grassland", 4, _GRASS, (-11.0, -18.0)),
    # Optically a wet meadow (a little darker in the SWIR than dry grass);
    # radar sees double bounce between water surface and stems: high VV.
    LandCoverClass(3, "flooded_vegetation", 4, _WET_MEADOW, (-4.0, -16.0)),
    LandCoverClass(4, "forest", 4, _FOREST, (-8.0, -14.0)),
    # Same soil seen by the optical sensor; radar tells smooth from rough (9 dB).
    LandCoverClass(5, "smooth_bare_soil", 5, _SOIL, (-18.0, -26.0)),
    LandCoverClass(6, "rough_bare_soil", 5, _SOIL, (-9.0, -17.0)),
    # Summer crop at peak: distinct high NIR, but radar close to grassland.
    LandCoverClass(7, "cropland", 4, _CROP, (-10.5, -17.5)),
    LandCoverClass(8, "urban", 5, _URBAN, (0.0, -10.0)),
    # Bright dry sand: optically unlike soil, radar as dark as smooth soil.
    LandCoverClass(9, "bright_sand", 5, _SAND, (-19.0, -27.0)),
)
"""The class table: ids are 1-based and contiguous."""

WATER_ID = 1

CLASS_WEIGHTS: tuple[float, ...] = (0.05, 0.18, 0.08, 0.16, 0.09, 0.09, 0.18, 0.08, 0.09)
"""Share of Voronoi parcels drawn for each class of :data:`CLASSES`."""

CLOUD_REFLECTANCE: tuple[float, ...] = (
    0.600,
    0.620,
    0.600,
    0.580,
    0.580,
    0.570,
    0.570,
    0.560,
    0.560,
    0.500,
    0.380,
    0.280,
)
"""Reflectance of an opaque cloud top (bright, flat, darker in the SWIR)."""

SCL_SHADOW, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH = 3, 8, 9


@dataclass(frozen=True)
class River:
    """A meandering river: water where ``|y - center(x)| < width / 2`` (reference CRS)."""

    y0: float
    """Mean northing of the centre line."""
    amplitudes: tuple[float, ...]
    """Amplitudes (m) of the sine terms of the centre line."""
    wavelengths: tuple[float, ...]
    """Wavelengths (m) of the sine terms."""
    phases: tuple[float, ...]
    """Phases (rad) of the sine terms."""
    width: float
    """Width (m), measured along y."""

    def center(self, x: np.ndarray) -> np.ndarray:
        """Northing of the centre line at eastings ``x``."""
        y = np.full(np.shape(x), self.y0, dtype=np.float64)
        for a, w, p in zip(self.amplitudes, self.wavelengths, self.phases, strict=True):
            y = y + a * np.sin(2.0 * np.pi * np.asarray(x) / w + p)
        return y

    def signed_gap(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``|y - center(x)| - width/2``: negative inside the river."""
        return np.abs(y - self.center(x)) - self.width / 2.0

    @property
    def slope_bound(self) -> float:
        """Upper bound of ``|d center / dx|``."""
        return float(
            sum(2.0 * np.pi * a / w for a, w in zip(self.amplitudes, self.wavelengths, strict=True))
        )


@dataclass(frozen=True)
class PointTarget:
    """A bright point target (e.g. a corner reflector on a white panel)."""

    id: str
    """Name, ``T1``, ``T2``, ..."""
    lon: float
    """Longitude (EPSG:4326)."""
    lat: float
    """Latitude (EPSG:4326)."""
    x: float
    """Easting in the reference CRS (transformed from lon/lat)."""
    y: float
    """Northing in the reference CRS."""
    class_id: int
    """Land-cover class around the target (>= ``border_distance_m`` from any border)."""
    s1_peak_linear: tuple[float, float]
    """Peak gamma0 (VV, VH), linear, added on top of the background."""
    s2_peak_reflectance: float = 0.4
    """Peak reflectance added in every Sentinel-2 band."""
    sigma_m: float = 6.0
    """Standard deviation of the Gaussian spot."""
    radius_m: float = 30.0
    """The spot is exactly zero farther than this from the target."""


@dataclass(frozen=True)
class CloudField:
    """Clouds of the cloudy Sentinel-2 dates, as functions of position (reference CRS)."""

    dates: tuple[int, ...]
    """Indices into ``SyntheticConfig.s2_dates`` of the cloudy dates."""
    lattices: np.ndarray
    """Random lattices, one per cloudy date, shape (n_dates, rows, cols); row 0 is south."""
    origin: tuple[float, float]
    """(x, y) of lattice node [0, 0]."""
    spacing: float
    """Lattice spacing in metres."""
    threshold: float = 1.0
    """Cloud where the interpolated lattice exceeds this."""
    scale: float = 0.6
    """Density = (value - threshold) / scale."""
    shadow_offset: tuple[float, float] = (-319.0, 553.0)
    """(dx, dy): a cloud over p casts its shadow on p + offset (sun SSE, 62 deg up, 1.2 km)."""
    shadow_factor: float = 0.3
    """Reflectance factor inside a shadow."""

    def density(self, date_index: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cloud density at reference-CRS points; > 0 is cloud, <= 0 clear."""
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        if date_index not in self.dates:
            return np.full(x.shape, -1.0)
        lat = self.lattices[self.dates.index(date_index)]
        coords = np.stack(
            [
                ((y - self.origin[1]) / self.spacing).ravel(),
                ((x - self.origin[0]) / self.spacing).ravel(),
            ]
        )
        v = map_coordinates(lat, coords, order=3, mode="nearest")
        return ((v - self.threshold) / self.scale).reshape(x.shape)

    def state(self, date_index: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Sentinel-2 SCL code of the cloud state: 0 clear, 3 shadow, 8/9 cloud medium/high."""
        d = self.density(date_index, x, y)
        ds = self.density(
            date_index, np.asarray(x) - self.shadow_offset[0], np.asarray(y) - self.shadow_offset[1]
        )
        out = np.zeros(d.shape, dtype=np.uint8)
        out[ds > 0] = SCL_SHADOW
        out[d > 0] = SCL_CLOUD_MEDIUM
        out[d >= 0.5] = SCL_CLOUD_HIGH
        return out

    @staticmethod
    def alpha(density: np.ndarray) -> np.ndarray:
        """Cloud opacity from density: 0 clear, 0.4 at a thin edge, 1 from density 0.5 on."""
        return np.where(density > 0, np.minimum(1.0, 0.4 + 1.2 * density), 0.0)

    @staticmethod
    def brightness(density: np.ndarray) -> np.ndarray:
        """Factor on :data:`CLOUD_REFLECTANCE`: thin cloud 0.85, thick cloud 1."""
        return 0.85 + 0.3 * np.clip(density, 0.0, 0.5)


@dataclass
class GroundTruth:
    """The truth behind a synthetic region, as exact functions of position.

    Build it with :meth:`load` from a generated catalog folder. Coordinates
    may be given in any CRS (anything :class:`pyproj.CRS` accepts); they are
    transformed to :attr:`ref_crs`, where the truth is defined.
    """

    ref_crs: str
    """The reference CRS, e.g. ``"EPSG:32632"`` (extended east of its zone)."""
    classes: tuple[LandCoverClass, ...]
    """The class table."""
    seeds: np.ndarray
    """Parcel seed points (n, 2) in the reference CRS."""
    seed_class: np.ndarray
    """Class id of each parcel seed (n,)."""
    river: River | None
    """The river, or None."""
    targets: tuple[PointTarget, ...]
    """Point targets."""
    clouds: CloudField | None
    """Cloud fields of the cloudy dates, or None when the region is cloud-free."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Everything else saved in ``params.json`` (config, grids, dates)."""
    _tree: cKDTree = field(init=False, repr=False)
    _transformers: dict[str, Transformer | None] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.seeds = np.ascontiguousarray(self.seeds, dtype=np.float64)
        self.seed_class = np.asarray(self.seed_class, dtype=np.uint8)
        if len(self.seeds) < 2:
            raise SampleDataError(f"ground truth needs >= 2 parcel seeds, got {len(self.seeds)}")
        self._tree = cKDTree(self.seeds)

    # --- land cover -------------------------------------------------------
    @property
    def class_ids(self) -> np.ndarray:
        """Class ids in table order."""
        return np.array([c.id for c in self.classes], dtype=np.uint8)

    def _class(self, class_id: int) -> LandCoverClass:
        for c in self.classes:
            if c.id == int(class_id):
                return c
        raise SampleDataError(f"no class with id {class_id}; ids are {list(self.class_ids)}")

    def reflectance(self, class_id: int) -> np.ndarray:
        """Surface reflectance of a class, 12 bands in :data:`S2_BANDS` order."""
        return np.array(self._class(class_id).reflectance, dtype=np.float64)

    def gamma0_db(self, class_id: int) -> np.ndarray:
        """gamma0 (VV, VH) of a class in dB."""
        return np.array(self._class(class_id).gamma0_db, dtype=np.float64)

    def gamma0_linear(self, class_id: int) -> np.ndarray:
        """gamma0 (VV, VH) of a class in linear power."""
        return 10.0 ** (self.gamma0_db(class_id) / 10.0)

    def _transformer(self, crs: Any) -> Transformer | None:
        key = crs if isinstance(crs, str) else CRS.from_user_input(crs).to_wkt()
        if key not in self._transformers:
            src = CRS.from_user_input(crs)
            same = src == CRS.from_user_input(self.ref_crs)
            self._transformers[key] = (
                None if same else Transformer.from_crs(src, self.ref_crs, always_xy=True)
            )
        return self._transformers[key]

    def is_ref(self, crs: Any) -> bool:
        """Whether ``crs`` is the reference CRS."""
        return self._transformer(crs) is None

    def to_ref(self, x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Transform points from ``crs`` to the reference CRS."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        tr = self._transformer(crs)
        if tr is None:
            return x, y
        x, y = (np.array(a, dtype=np.float64, order="C") for a in np.broadcast_arrays(x, y))
        xr, yr = tr.transform(x, y)
        return (
            np.asarray(xr, dtype=np.float64).reshape(x.shape),
            np.asarray(yr, dtype=np.float64).reshape(y.shape),
        )

    def classes_at_ref(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Class id at points given in the reference CRS."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        shape = np.broadcast(x, y).shape
        xb, yb = np.broadcast_to(x, shape).ravel(), np.broadcast_to(y, shape).ravel()
        if xb.size == 0:
            return np.zeros(shape, dtype=np.uint8)
        _, idx = self._tree.query(np.column_stack([xb, yb]), k=1, workers=-1)
        out = self.seed_class[idx]
        if self.river is not None:
            out[self.river.signed_gap(xb, yb) < 0] = WATER_ID
        return out.reshape(shape)

    def classes_at(self, x: np.ndarray, y: np.ndarray, crs: Any = None) -> np.ndarray:
        """Exact class id at arbitrary points given in ``crs`` (default: the reference CRS)."""
        xr, yr = self.to_ref(x, y, self.ref_crs if crs is None else crs)
        return self.classes_at_ref(xr, yr)

    def nearest_seeds(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances to and indices of the two nearest parcel seeds (reference CRS)."""
        return self._tree.query(np.column_stack([np.ravel(x), np.ravel(y)]), k=2, workers=-1)

    def border_distance_bound(self, x: float, y: float) -> float:
        """Bound from below the distance from a reference-CRS point to any class border."""
        p = np.array([x, y], dtype=np.float64)
        d, idx = self._tree.query(p, k=min(64, len(self.seeds)))
        si = self.seeds[idx[0]]
        best = math.inf
        for j in idx[1:]:
            sj = self.seeds[j]
            n = sj - si
            # distance from p to the bisector of si and sj (p is on si's side)
            best = min(best, float(np.dot(sj + si - 2 * p, n) / (2 * np.linalg.norm(n))))
        # seeds beyond the k nearest have bisectors at least (d_k - d_0) / 2 away
        best = min(best, float(d[-1] - d[0]) / 2.0)
        if self.river is not None:
            xs = np.arange(x - 2000.0, x + 2000.0, 0.5)
            ys = self.river.center(xs)
            # sampled every 0.5 m: the true distance is at most ~0.5 m smaller
            gap = float(np.min(np.hypot(xs - x, ys - y))) - self.river.width / 2.0
            best = min(best, abs(gap) - 0.5, 2000.0)
        return best

    # --- point targets ----------------------------------------------------
    @property
    def point_targets(self) -> list[tuple[float, float]]:
        """Point-target positions as (lon, lat)."""
        return [(t.lon, t.lat) for t in self.targets]

    @property
    def point_targets_ref(self) -> list[tuple[float, float]]:
        """Point-target positions as (x, y) in the reference CRS."""
        return [(t.x, t.y) for t in self.targets]

    def target_profiles_ref(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unit-peak spot of every target at reference-CRS points, shape (n_targets, *x.shape)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        shape = np.broadcast(x, y).shape
        out = np.zeros((len(self.targets), *shape), dtype=np.float64)
        for i, t in enumerate(self.targets):
            r2 = (x - t.x) ** 2 + (y - t.y) ** 2
            out[i] = np.where(r2 <= t.radius_m**2, np.exp(-r2 / (2.0 * t.sigma_m**2)), 0.0)
        return out

    # --- clouds -----------------------------------------------------------
    def cloud_density(self, date_index: int, x: np.ndarray, y: np.ndarray, crs: Any) -> np.ndarray:
        """Cloud density (> 0 cloud) of S2 date ``date_index`` at points in ``crs``."""
        xr, yr = self.to_ref(x, y, crs)
        if self.clouds is None:
            return np.full(xr.shape, -1.0)
        return self.clouds.density(date_index, xr, yr)

    def cloud_state(self, date_index: int, x: np.ndarray, y: np.ndarray, crs: Any) -> np.ndarray:
        """Give the true cloud state (0 clear, 3 shadow, 8/9 cloud) of S2 date ``date_index``.

        The generator evaluates it at the centre of every 20 m pixel; SCL and
        all bands of that pixel (and its four 10 m pixels) follow it.
        """
        xr, yr = self.to_ref(x, y, crs)
        if self.clouds is None:
            return np.zeros(xr.shape, dtype=np.uint8)
        return self.clouds.state(date_index, xr, yr)

    # --- persistence ------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write ``params.json``, ``parcels.npy`` and ``clouds.npy`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        parcels = np.column_stack([self.seeds, self.seed_class.astype(np.float64)])
        np.save(folder / "parcels.npy", parcels, allow_pickle=False)
        doc: dict[str, Any] = {
            "generator": "geomm.sample._synthetic",
            "format_version": 1,
            "ref_crs": self.ref_crs,
            "bands": list(S2_BANDS),
            "classes": [
                {
                    "id": c.id,
                    "name": c.name,
                    "scl": c.scl,
                    "reflectance": list(c.reflectance),
                    "gamma0_db": {"vv": c.gamma0_db[0], "vh": c.gamma0_db[1]},
                }
                for c in self.classes
            ],
            "parcels": {
                "file": "parcels.npy",
                "columns": ["x", "y", "class_id"],
                "count": len(self.seeds),
            },
            "river": None
            if self.river is None
            else {
                "y0": self.river.y0,
                "amplitudes": list(self.river.amplitudes),
                "wavelengths": list(self.river.wavelengths),
                "phases": list(self.river.phases),
                "width": self.river.width,
            },
            "targets": [
                {
                    "id": t.id,
                    "lon": t.lon,
                    "lat": t.lat,
                    "x": t.x,
                    "y": t.y,
                    "class_id": t.class_id,
                    "s1_peak_linear": list(t.s1_peak_linear),
                    "s2_peak_reflectance": t.s2_peak_reflectance,
                    "sigma_m": t.sigma_m,
                    "radius_m": t.radius_m,
                }
                for t in self.targets
            ],
            "clouds": None,
            **self.meta,
        }
        if self.clouds is not None:
            c = self.clouds
            np.save(folder / "clouds.npy", c.lattices, allow_pickle=False)
            doc["clouds"] = {
                "file": "clouds.npy",
                "dates": list(c.dates),
                "origin": list(c.origin),
                "spacing": c.spacing,
                "threshold": c.threshold,
                "scale": c.scale,
                "shadow_offset": list(c.shadow_offset),
                "shadow_factor": c.shadow_factor,
                "reflectance": list(CLOUD_REFLECTANCE),
            }
        (folder / "params.json").write_text(json.dumps(doc, indent=2) + "\n")

    @classmethod
    def load(cls, catalog_dir: str | Path) -> GroundTruth:
        """Load the truth saved by :func:`generate_synthetic_region`.

        Args:
            catalog_dir: the generated folder (or its ``catalog.json``).

        Raises:
            SampleDataError: the folder holds no readable ground truth.

        """
        catalog_dir = Path(catalog_dir)
        if catalog_dir.name == "catalog.json":
            catalog_dir = catalog_dir.parent
        folder = catalog_dir / "ground_truth"
        try:
            doc = json.loads((folder / "params.json").read_text())
            parcels = np.load(folder / doc["parcels"]["file"], allow_pickle=False)
            clouds = None
            if doc.get("clouds"):
                c = doc["clouds"]
                clouds = CloudField(
                    dates=tuple(c["dates"]),
                    lattices=np.load(folder / c["file"], allow_pickle=False),
                    origin=tuple(c["origin"]),
                    spacing=c["spacing"],
                    threshold=c["threshold"],
                    scale=c["scale"],
                    shadow_offset=tuple(c["shadow_offset"]),
                    shadow_factor=c["shadow_factor"],
                )
            r = doc.get("river")
            river = (
                None
                if r is None
                else River(
                    y0=r["y0"],
                    amplitudes=tuple(r["amplitudes"]),
                    wavelengths=tuple(r["wavelengths"]),
                    phases=tuple(r["phases"]),
                    width=r["width"],
                )
            )
            classes = tuple(
                LandCoverClass(
                    c["id"],
                    c["name"],
                    c["scl"],
                    tuple(c["reflectance"]),
                    (c["gamma0_db"]["vv"], c["gamma0_db"]["vh"]),
                )
                for c in doc["classes"]
            )
            targets = tuple(
                PointTarget(
                    t["id"],
                    t["lon"],
                    t["lat"],
                    t["x"],
                    t["y"],
                    t["class_id"],
                    tuple(t["s1_peak_linear"]),
                    t["s2_peak_reflectance"],
                    t["sigma_m"],
                    t["radius_m"],
                )
                for t in doc["targets"]
            )
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise SampleDataError(
                f"no readable synthetic ground truth in {folder} ({e}); regenerate the region "
                "with geomm.sample.generate_synthetic_region"
            ) from e
        known = {
            "generator",
            "format_version",
            "ref_crs",
            "bands",
            "classes",
            "parcels",
            "river",
            "targets",
            "clouds",
        }
        return cls(
            ref_crs=doc["ref_crs"],
            classes=classes,
            seeds=parcels[:, :2],
            seed_class=parcels[:, 2].astype(np.uint8),
            river=river,
            targets=targets,
            clouds=clouds,
            meta={k: v for k, v in doc.items() if k not in known},
        )


def class_table(classes: Sequence[LandCoverClass]) -> dict[str, np.ndarray]:
    """Per-class value tables, indexed by ``class_id - 1``.

    Returns ``reflectance`` (K, 12), ``gamma0_linear`` (K, 2) and ``scl`` (K,).
    """
    return {
        "reflectance": np.array([c.reflectance for c in classes], dtype=np.float64),
        "gamma0_linear": 10.0 ** (np.array([c.gamma0_db for c in classes], dtype=np.float64) / 10),
        "scl": np.array([c.scl for c in classes], dtype=np.uint8),
    }
