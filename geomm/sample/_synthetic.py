"""A deterministic, physically plausible synthetic Sentinel-1/Sentinel-2 region.

:func:`generate_synthetic_region` writes a self-contained STAC catalog of COGs
over a small lon/lat box that straddles a UTM zone boundary, rendered from a
ground truth that is known exactly (:class:`GroundTruth`), so every later
stage (search, co-registration, cloud masking, chips, embeddings) can be
tested against values, not shapes::

    <out_dir>/catalog.json
    <out_dir>/synthetic-s2-l2a/collection.json
    <out_dir>/synthetic-s2-l2a/<item_id>/<item_id>.json, B01.tif .. B12.tif, B8A.tif, SCL.tif
    <out_dir>/synthetic-s1-rtc/collection.json
    <out_dir>/synthetic-s1-rtc/<item_id>/<item_id>.json, vv.tif, vh.tif
    <out_dir>/ground_truth/params.json         config, class table, river, targets, grids
    <out_dir>/ground_truth/parcels.npy         parcel seeds (x, y, class id), reference CRS
    <out_dir>/ground_truth/clouds.npy          cloud lattices of the cloudy dates
    <out_dir>/ground_truth/classes_epsg<ref>.tif   majority class per 10 m pixel (uint8, 0 none)
    <out_dir>/ground_truth/targets.geojson     point targets (lon/lat)

The modules behind it: ``_synthetic_world`` (the truth's records), ``_synthetic_truth``
(:class:`GroundTruth`, saved and loaded), ``_synthetic_layout``
(zones, tiles, grids, drawing the world), ``_synthetic_render`` (the sensor
model) and ``_synthetic_io`` (COGs and STAC).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac

from geomm.errors import SampleDataError
from geomm.sample import _synthetic_io as _io
from geomm.sample._synthetic_layout import Layout, build_layout, build_world, utm_zone
from geomm.sample._synthetic_render import (
    S2_RES,
    class_counts,
    render_s1,
    render_s2,
    s1_base,
    s2_base,
)
from geomm.sample._synthetic_truth import GroundTruth
from geomm.sample._synthetic_world import CLASSES, S2_BANDS

__all__ = ["GroundTruth", "SyntheticConfig", "generate_synthetic_region"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Every field has a default that gives the bundled sample region."""

    bounds: tuple[float, float, float, float] = (11.95, 48.00, 12.05, 48.05)
    """Region (west, south, east, north) in degrees; must straddle one UTM zone boundary."""
    seed: int = 0
    """Seed of everything random (parcels, river, clouds, targets, speckle)."""
    s2_dates: tuple[str, ...] = (
        "2024-06-03T10:20:31Z",
        "2024-06-08T10:20:29Z",
        "2024-06-18T10:20:29Z",
        "2024-07-03T10:20:31Z",
    )
    """Sentinel-2 sensing times (ISO 8601, UTC). The platform follows from the date."""
    s1_dates: tuple[str, ...] = (
        "2024-06-05T05:35:12Z",
        "2024-06-10T17:12:40Z",
        "2024-06-17T05:35:13Z",
        "2024-06-22T17:12:41Z",
        "2024-06-29T05:35:13Z",
    )
    """Sentinel-1 start times (UTC), none on a Sentinel-2 day. Morning (local solar time)
    means a descending pass, evening ascending; the second scene has a swath edge."""
    cloudy_dates: tuple[int, ...] = (1, 3)
    """Indices into :attr:`s2_dates` of the dates with clouds and cloud shadows."""
    speckle: bool = True
    """Multiply Sentinel-1 by Gamma(4.4, 1/4.4) speckle; False gives noise-free gamma0."""
    clouds: bool = True
    """Render clouds on :attr:`cloudy_dates`; False makes every date clear."""
    parcel_size_m: float = 300.0
    """Mean parcel size: one Voronoi seed per ``parcel_size_m**2``."""
    n_point_targets: int = 4
    """Bright point targets, alternately west and east of the zone boundary."""

    def __post_init__(self) -> None:
        _check_bounds(self.bounds)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SampleDataError(f"seed must be an int >= 0, got {self.seed!r}")
        self._check_dates()
        if not 50.0 <= float(self.parcel_size_m) <= 5000.0:
            raise SampleDataError(f"parcel_size_m must be in [50, 5000], got {self.parcel_size_m}")
        if not isinstance(self.n_point_targets, int) or not 0 <= self.n_point_targets <= 50:
            raise SampleDataError(
                f"n_point_targets must be an int in [0, 50], got {self.n_point_targets}"
            )

    def _check_dates(self) -> None:
        s2 = [self._date("s2_dates", t) for t in self.s2_dates]
        s1 = [self._date("s1_dates", t) for t in self.s1_dates]
        if not s2 or not s1:
            raise SampleDataError("s2_dates and s1_dates must each hold at least one date")
        for name, ds in (("s2_dates", s2), ("s1_dates", s1)):
            if len(set(ds)) != len(ds):
                raise SampleDataError(f"{name} has duplicates: {getattr(self, name)}")
        clash = sorted({d.date() for d in s1} & {d.date() for d in s2})
        if clash:
            raise SampleDataError(
                f"Sentinel-1 and Sentinel-2 dates share days {[str(d) for d in clash]}; "
                "pairing needs a lag, move the S1 dates"
            )
        bad = [i for i in self.cloudy_dates if not (isinstance(i, int) and 0 <= i < len(s2))]
        if bad or len(set(self.cloudy_dates)) != len(self.cloudy_dates):
            raise SampleDataError(
                f"cloudy_dates must be distinct indices into s2_dates (0..{len(s2) - 1}), "
                f"got {self.cloudy_dates}"
            )

    @staticmethod
    def _date(name: str, ts: str) -> datetime:
        try:
            dt = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
        except ValueError as e:
            raise SampleDataError(
                f"{name}: {ts!r} is not ISO 8601, e.g. '2024-06-03T10:20:31Z'"
            ) from e
        offset = dt.utcoffset()
        if offset is None or offset.total_seconds() != 0:
            raise SampleDataError(f"{name}: {ts!r} must be UTC, ending in 'Z'")
        return dt


def _check_bounds(bounds: tuple[float, float, float, float]) -> None:
    """Refuse a region that is not a small lon/lat box across one regular UTM zone boundary."""
    b = tuple(bounds)
    if len(b) != 4 or not all(isinstance(v, int | float) and np.isfinite(v) for v in b):
        raise SampleDataError(f"bounds must be 4 finite numbers (W, S, E, N), got {bounds!r}")
    w, s, e, n = (float(v) for v in b)
    if not (-180 <= w < e <= 180 and -80 <= s < n <= 84):
        raise SampleDataError(
            f"bounds {b} must satisfy -180 <= W < E <= 180 and -80 <= S < N <= 84 (UTM)"
        )
    if e - w > 2.0 or n - s > 2.0:
        raise SampleDataError(f"bounds {b} span more than 2 degrees; use a smaller region")
    zw, ze = utm_zone(w), utm_zone(e - 1e-9)
    lon_b = -180.0 + 6.0 * zw
    if ze != zw + 1 or lon_b - w < 0.01 or e - lon_b < 0.01:
        raise SampleDataError(
            f"bounds {b} must straddle one UTM zone boundary (a multiple of 6 degrees, at "
            "least 0.01 degrees inside), e.g. (11.95, 48.00, 12.05, 48.05) across 12 E"
        )
    if (n > 56 and s < 64 and w < 12 and e > 3) or n > 72:
        raise SampleDataError(f"bounds {b} touch the irregular UTM zones of Norway/Svalbard")


def generate_synthetic_region(
    out_dir: str | Path, config: SyntheticConfig = SyntheticConfig()
) -> Path:
    """Write the synthetic region as a static STAC catalog into ``out_dir``.

    Everything is built in a temporary folder next to ``out_dir`` and moved
    into place at the end, so an interrupted run leaves no ``out_dir``.

    Args:
        out_dir: folder to create; must not exist.
        config: what to generate.

    Returns:
        Path of ``out_dir/catalog.json``.

    Raises:
        SampleDataError: ``out_dir`` exists already, or the config cannot be realised
            (e.g. no room for the point targets).

    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise SampleDataError(
            f"{out_dir} exists already; generate_synthetic_region never overwrites: "
            "delete it or choose a new folder"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        _generate(tmp, config)
        tmp.chmod(0o755)
        if out_dir.exists():
            raise SampleDataError(f"{out_dir} appeared while generating; not overwriting it")
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "catalog.json"


@dataclass(frozen=True)
class _Written:
    """The items of one collection, written to disk, and what the truth records of them."""

    items: list[pystac.Item]
    """The STAC items, in writing order."""
    index: dict[str, dict[str, Any]]
    """Item id -> the facts ``params.json`` lists under ``s2_items`` / ``s1_items``."""


def _generate(folder: Path, config: SyntheticConfig) -> None:
    layout = build_layout(config)
    world = build_world(config, layout)
    log.info("synthetic region: %d parcels, %d targets", len(world.seeds), len(world.targets))
    s2 = _write_s2(folder, world, layout)
    s1 = _write_s1(folder, world, layout, config)
    _write_truth(folder / "ground_truth", world, layout, config, s2.index, s1.index)
    _io.build_catalog(folder, s2.items, s1.items)


def _write_s2(folder: Path, world: GroundTruth, layout: Layout) -> _Written:
    items, index = [], {}
    for tile in layout.tiles:
        base = s2_base(world, tile)
        geom, bbox = _io.footprint(base.valid[60], tile.grid10.coarsen(6))
        for scene in layout.s2_scenes:
            arrays, cover = render_s2(world, base, scene.index, scene.cloudy)
            item_id = _io.s2_item_id(scene, tile)
            d = folder / _io.S2_COLLECTION / item_id
            d.mkdir(parents=True)
            for key in _io.S2_ASSET_ORDER:
                res = S2_RES[key] // 10
                _io.write_cog(
                    d / f"{key}.tif",
                    arrays[key],
                    grid=tile.grid10.coarsen(res),
                    nodata=0,
                    categorical=key == "SCL",
                    description=key,
                )
            items.append(_io.s2_item(scene, tile, cloud_cover=cover, geometry=geom, bbox=bbox))
            index[item_id] = {
                "date_index": scene.index,
                "mgrs": tile.mgrs,
                "crs": tile.grid10.crs,
                "cloudy": scene.cloudy,
            }
        del base
    return _Written(items=items, index=index)


def _write_s1(
    folder: Path, world: GroundTruth, layout: Layout, config: SyntheticConfig
) -> _Written:
    items, index, bases = [], {}, {}
    for scene in layout.s1_scenes:
        if scene.grid not in bases:  # scenes of one orbit share a grid and its truth
            bases[scene.grid] = s1_base(world, scene.grid)
        arrays = render_s1(bases[scene.grid], scene, config.speckle, config.seed)
        item_id = _io.s1_item_id(scene)
        d = folder / _io.S1_COLLECTION / item_id
        d.mkdir(parents=True)
        for key in ("vv", "vh"):
            _io.write_cog(
                d / f"{key}.tif",
                arrays[key],
                grid=scene.grid,
                nodata=-32768.0,
                description=key.upper(),
            )
        geom, bbox = _io.footprint(scene.valid(), scene.grid)
        items.append(_io.s1_item(scene, geometry=geom, bbox=bbox))
        index[item_id] = {
            "date_index": scene.index,
            "orbit_state": scene.orbit_state,
            "relative_orbit": scene.relative_orbit,
        }
    return _Written(items=items, index=index)


def _write_truth(
    folder: Path,
    world: GroundTruth,
    layout: Layout,
    config: SyntheticConfig,
    s2_index: dict,
    s1_index: dict,
) -> None:
    folder.mkdir(parents=True)
    g = layout.truth_grid
    counts = class_counts(world, g)
    cmap = (np.argmax(counts, axis=-1) + 1).astype(np.uint8)
    epsg = g.crs.split(":")[1]
    name = f"classes_epsg{epsg}.tif"
    _io.write_cog(folder / name, cmap, grid=g, nodata=0, categorical=True, description="class")
    world.meta = {
        "config": asdict(config),
        "region_ref_bbox": list(layout.region_ref),
        "east_crs": layout.east_crs,
        "boundary_lon": layout.boundary_lon,
        "class_map": {
            "file": name,
            "crs": g.crs,
            "transform": list(g.transform)[:6],
            "shape": [g.height, g.width],
            "rule": "majority of 4x4 sub-samples, ties to the lowest id",
        },
        "s2_tiles": [
            {
                "mgrs": t.mgrs,
                "crs": t.grid10.crs,
                "transform10": list(t.grid10.transform)[:6],
                "shape10": [t.grid10.height, t.grid10.width],
                "swath_edge": t.swath_edge,
            }
            for t in layout.tiles
        ],
        "s2_items": s2_index,
        "s1_items": s1_index,
        "s2_dn": {"scale": 0.0001, "boa_add_offset": 1000, "nodata": 0, "bands": list(S2_BANDS)},
        "s1": {"units": "linear", "nodata": -32768, "enl": 4.4, "speckle": config.speckle},
    }
    world.save(folder)
    (folder / "targets.geojson").write_text(json.dumps(_targets_geojson(world), indent=2) + "\n")


def _targets_geojson(world: GroundTruth) -> dict:
    """The point targets as a GeoJSON FeatureCollection in lon/lat, with their truth."""
    features = [
        {
            "type": "Feature",
            "id": t.id,
            "geometry": {"type": "Point", "coordinates": [t.lon, t.lat]},
            "properties": {
                "id": t.id,
                "ref_crs": world.ref_crs,
                "x": t.x,
                "y": t.y,
                "class_id": t.class_id,
                "class": CLASSES[t.class_id - 1].name,
                "s2_peak_reflectance": t.s2_peak_reflectance,
                "s1_peak_linear_vv": t.s1_peak_linear[0],
                "s1_peak_linear_vh": t.s1_peak_linear[1],
                "sigma_m": t.sigma_m,
            },
        }
        for t in world.targets
    ]
    return {"type": "FeatureCollection", "features": features}
