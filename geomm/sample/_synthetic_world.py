"""Ground truth of the synthetic region: land cover, river, clouds and point targets.

Everything here is an exact function of position in one reference CRS (the
UTM zone of the region's west edge, extended east across the zone boundary):

* land cover: Voronoi parcels around seeded points (nearest seed decides the
  class), overlaid by a meandering river of fixed width (water);
* point targets: unit-peak Gaussian spots, truncated at ``radius_m``;
* clouds, per cloudy Sentinel-2 date: a cubic-spline interpolated random
  lattice, thresholded; shadows are the cloud field shifted by a fixed
  sun-geometry offset.

:class:`~geomm.sample._synthetic_truth.GroundTruth` holds these and is saved
next to the catalog (``ground_truth/``), so later stages test against the
very same truth; each record here says how it is written to and read from
``params.json`` (``to_json`` / ``from_json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates

from geomm.errors import SampleDataError
from geomm.stac import S2_BANDS  # the 12 canonical bands, CROMA order

__all__ = [
    "CLASSES",
    "CLOUD_REFLECTANCE",
    "S2_BANDS",
    "CloudField",
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

    def to_json(self) -> dict[str, Any]:
        """The class as ``params.json`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "scl": self.scl,
            "reflectance": list(self.reflectance),
            "gamma0_db": {"vv": self.gamma0_db[0], "vh": self.gamma0_db[1]},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LandCoverClass:
        """Inverse of :meth:`to_json`."""
        return cls(
            doc["id"],
            doc["name"],
            doc["scl"],
            tuple(doc["reflectance"]),
            (doc["gamma0_db"]["vv"], doc["gamma0_db"]["vh"]),
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

    def to_json(self) -> dict[str, Any]:
        """The river as ``params.json`` holds it."""
        return {
            "y0": self.y0,
            "amplitudes": list(self.amplitudes),
            "wavelengths": list(self.wavelengths),
            "phases": list(self.phases),
            "width": self.width,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> River:
        """Inverse of :meth:`to_json`."""
        return cls(
            y0=doc["y0"],
            amplitudes=tuple(doc["amplitudes"]),
            wavelengths=tuple(doc["wavelengths"]),
            phases=tuple(doc["phases"]),
            width=doc["width"],
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

    def to_json(self) -> dict[str, Any]:
        """The target as ``params.json`` lists it."""
        return {
            "id": self.id,
            "lon": self.lon,
            "lat": self.lat,
            "x": self.x,
            "y": self.y,
            "class_id": self.class_id,
            "s1_peak_linear": list(self.s1_peak_linear),
            "s2_peak_reflectance": self.s2_peak_reflectance,
            "sigma_m": self.sigma_m,
            "radius_m": self.radius_m,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PointTarget:
        """Inverse of :meth:`to_json`."""
        return cls(
            doc["id"],
            doc["lon"],
            doc["lat"],
            doc["x"],
            doc["y"],
            doc["class_id"],
            tuple(doc["s1_peak_linear"]),
            doc["s2_peak_reflectance"],
            doc["sigma_m"],
            doc["radius_m"],
        )


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

    def to_json(self, file: str) -> dict[str, Any]:
        """The fields as ``params.json`` holds them; the lattices go to ``file`` (``.npy``)."""
        return {
            "file": file,
            "dates": list(self.dates),
            "origin": list(self.origin),
            "spacing": self.spacing,
            "threshold": self.threshold,
            "scale": self.scale,
            "shadow_offset": list(self.shadow_offset),
            "shadow_factor": self.shadow_factor,
            "reflectance": list(CLOUD_REFLECTANCE),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], lattices: np.ndarray) -> CloudField:
        """Inverse of :meth:`to_json`, given the lattices read from ``doc["file"]``."""
        return cls(
            dates=tuple(doc["dates"]),
            lattices=lattices,
            origin=tuple(doc["origin"]),
            spacing=doc["spacing"],
            threshold=doc["threshold"],
            scale=doc["scale"],
            shadow_offset=tuple(doc["shadow_offset"]),
            shadow_factor=doc["shadow_factor"],
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
