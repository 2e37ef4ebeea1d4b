"""The truth behind a synthetic region, as exact functions of position.

:class:`GroundTruth` combines the records of :mod:`geomm.sample._synthetic_world`
(class table, parcel seeds, river, point targets, clouds) and answers what
is where, in any CRS. It is saved next to the generated catalog
(``ground_truth/params.json`` plus ``.npy`` arrays) and loaded back from it,
so later stages test against the very same truth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from geomm.errors import SampleDataError
from geomm.sample._synthetic_world import (
    S2_BANDS,
    WATER_ID,
    CloudField,
    LandCoverClass,
    PointTarget,
    River,
)

__all__ = ["GroundTruth"]

_SAVED_KEYS = frozenset(
    {
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
)
"""Top-level keys of ``params.json`` that :meth:`GroundTruth.save` writes itself;
the rest is :attr:`GroundTruth.meta`."""


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

    def to_ref(self, x: ArrayLike, y: ArrayLike, crs: Any) -> tuple[np.ndarray, np.ndarray]:
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
            "classes": [c.to_json() for c in self.classes],
            "parcels": {
                "file": "parcels.npy",
                "columns": ["x", "y", "class_id"],
                "count": len(self.seeds),
            },
            "river": None if self.river is None else self.river.to_json(),
            "targets": [t.to_json() for t in self.targets],
            "clouds": None,
            **self.meta,
        }
        if self.clouds is not None:
            np.save(folder / "clouds.npy", self.clouds.lattices, allow_pickle=False)
            doc["clouds"] = self.clouds.to_json("clouds.npy")
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
            if c := doc.get("clouds"):
                clouds = CloudField.from_json(c, np.load(folder / c["file"], allow_pickle=False))
            river = None if doc.get("river") is None else River.from_json(doc["river"])
            classes = tuple(LandCoverClass.from_json(k) for k in doc["classes"])
            targets = tuple(PointTarget.from_json(t) for t in doc["targets"])
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise SampleDataError(
                f"no readable synthetic ground truth in {folder} ({e}); regenerate the region "
                "with geomm.sample.generate_synthetic_region"
            ) from e
        return cls(
            ref_crs=doc["ref_crs"],
            classes=classes,
            seeds=parcels[:, :2],
            seed_class=parcels[:, 2].astype(np.uint8),
            river=river,
            targets=targets,
            clouds=clouds,
            meta={k: v for k, v in doc.items() if k not in _SAVED_KEYS},
        )
