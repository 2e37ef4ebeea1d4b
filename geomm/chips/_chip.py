"""Chips on the global chip grid: ids, footprints, and the chips of a cube.

A chip is ``chip_size`` pixels square; its edges sit at multiples of
``chip_size * resolution`` metres in the cube CRS (:mod:`geomm.cube._grid`),
so a chip is named by its CRS, size, resolution and two global indices,
whatever cube it was cut from. That name (:func:`chip_id`) is what makes
embeddings of overlapping runs joinable and a resumed run skip done work.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon, box

from geomm.aoi import Aoi, split_antimeridian, transform_geometry
from geomm.errors import ChipError

if TYPE_CHECKING:
    import xarray as xr  # annotations only: chips cost no xarray import

__all__ = ["Chip", "ChipError", "CubeLayout", "chip_id", "cube_chips", "cube_layout"]

_EDGE_SEGMENTS = 4
"""Vertices added per chip edge in lon/lat footprints (UTM straight lines are curves there)."""
_SLIVER = 1e-6
"""Intersections smaller than this fraction of a chip (or of the AOI) count as touching only.

Reprojection round trips move vertices by nanometres, so an AOI drawn along
chip edges would otherwise pick up neighbours through slivers of ~1e-9 of
their area; 1e-6 of a 1.2 km chip is a strip ~1 mm wide.
"""
_AOI_DENSIFY_DEG = 0.001
"""Vertex spacing (degrees) of the AOI before projection, as in :func:`geomm.cube.cube_grid`."""
_GRID_ATTRS = ("crs", "chip_size", "resolution", "chip_grid_origin")


@dataclass(frozen=True)
class Chip:
    """One chip of a cube: global identity plus its pixel window in that cube."""

    chip_id: str
    """Stable name from CRS, chip size, resolution and global indices (:func:`chip_id`)."""
    col: int
    """Global chip column: the west edge is at ``col * chip_metres``."""
    row: int
    """Global chip row: the north edge is at ``row * chip_metres`` (rows grow northwards)."""
    crs: str
    """Cube CRS, e.g. ``EPSG:32633``."""
    y: slice
    """Pixel rows of the chip in the cube it was cut from."""
    x: slice
    """Pixel columns of the chip in the cube it was cut from."""
    chip_size: int
    """Chip edge in pixels."""
    resolution: float
    """Pixel size in CRS units (metres)."""

    def __hash__(self) -> int:
        # slices are unhashable before Python 3.12; hash their plain bounds.
        return hash((self.chip_id, self.y.start, self.y.stop, self.x.start, self.x.stop))

    def __dask_tokenize__(self) -> tuple[str | int, ...]:
        """Same Dask key for the same chip window on every run."""
        return (
            "geomm.chips.Chip",
            self.chip_id,
            self.y.start,
            self.y.stop,
            self.x.start,
            self.x.stop,
        )

    @property
    def chip_metres(self) -> float:
        """Chip edge in CRS units."""
        return self.chip_size * self.resolution

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in :attr:`crs`."""
        m = self.chip_metres
        return (self.col * m, (self.row - 1) * m, (self.col + 1) * m, self.row * m)

    def geometry_wgs84(self) -> Polygon | MultiPolygon:
        """Footprint in EPSG:4326 lon/lat, edges densified.

        Straight UTM edges are slightly curved in lon/lat, so each edge gets
        extra vertices; the four corners are exact transforms of
        :meth:`bounds`. A chip that straddles the antimeridian comes back as
        a MultiPolygon split at +-180 degrees (RFC 7946), like a split AOI.
        """
        return _footprint_wgs84(self.crs, self.bounds())


def chip_id(crs: str, chip_size: int, resolution: float, col: int, row: int) -> str:
    """Stable, readable chip name, e.g. ``"32633-120px10m-00345-04012"``.

    EPSG code, chip size in pixels, resolution, then global column and row
    zero-padded to 5 digits, so ids of one grid sort by column, then row.
    Negative indices (grids outside UTM's false easting/northing) keep
    their sign (``-0012``); ids stay unique.

    Raises:
        ChipError: a CRS without an EPSG code, or a non-positive size or resolution.
    """
    if int(chip_size) != chip_size or chip_size < 1:
        raise ChipError(f"chip_size must be a positive whole number of pixels, got {chip_size!r}")
    if not (resolution > 0 and math.isfinite(resolution)):
        raise ChipError(f"resolution must be a positive number of metres, got {resolution!r}")
    epsg = _epsg_code(crs)
    return f"{epsg}-{int(chip_size)}px{float(resolution):g}m-{int(col):05d}-{int(row):05d}"


@dataclass(frozen=True)
class CubeLayout:
    """Where a cube sits on the global chip grid (read from its attributes and coordinates)."""

    crs: str
    """Cube CRS."""
    chip_size: int
    """Chip edge in pixels."""
    resolution: float
    """Pixel size in CRS units."""
    col0: int
    """Global chip column of the cube's west edge."""
    row0: int
    """Global chip row of the cube's north edge."""
    ncols: int
    """Width in chips."""
    nrows: int
    """Height in chips."""
    chunk_chips: int | None
    """Zarr/Dask chunk edge in chips, when the cube records it."""

    @property
    def chip_metres(self) -> float:
        """Chip edge in CRS units."""
        return self.chip_size * self.resolution

    def chip(self, i: int, j: int) -> Chip:
        """The chip ``i`` rows south and ``j`` columns east of the cube's north-west chip."""
        col, row = self.col0 + j, self.row0 - i
        cs = self.chip_size
        return Chip(
            chip_id=chip_id(self.crs, cs, self.resolution, col, row),
            col=col,
            row=row,
            crs=self.crs,
            y=slice(i * cs, (i + 1) * cs),
            x=slice(j * cs, (j + 1) * cs),
            chip_size=cs,
            resolution=self.resolution,
        )


def cube_layout(ds: xr.Dataset) -> CubeLayout:
    """The chip grid of a cube made by geomm (:func:`geomm.cube.build_cube`).

    The grid comes from the attributes ``crs``, ``chip_size``,
    ``resolution`` and ``chip_grid_origin``. When the cube has ``x``/``y``
    pixel-centre coordinates they fix its origin instead, so a cube sliced
    along chip edges (``ds.isel(x=slice(120, 480))``) still cuts the right
    chips; they must lie on the chip grid.

    Raises:
        ChipError: attributes missing, or coordinates off the chip grid or
            covering part of a chip.
    """
    missing = [k for k in _GRID_ATTRS if k not in ds.attrs]
    if missing:
        raise ChipError(
            f"the cube lacks the chip-grid attribute(s) {missing}: chips need 'crs', "
            "'chip_size', 'resolution' and 'chip_grid_origin' ({\"col0\", \"row0\"}), as "
            "written by geomm.cube.build_cube; build the cube with `geomm cube`, or set them"
        )
    crs = str(ds.attrs["crs"])
    chip_size = int(ds.attrs["chip_size"])
    resolution = float(ds.attrs["resolution"])
    if chip_size < 1 or not resolution > 0:
        raise ChipError(f"bad chip grid: chip_size={chip_size}, resolution={resolution}")
    origin = _origin(ds.attrs["chip_grid_origin"])
    chunk = ds.attrs.get("chunk_chips")
    height, width = int(ds.sizes.get("y", 0)), int(ds.sizes.get("x", 0))
    if height % chip_size or width % chip_size or not height or not width:
        raise ChipError(
            f"the cube is {height} x {width} pixels, not a whole number of {chip_size}-pixel "
            "chips; slice cubes along chip edges (multiples of chip_size pixels)"
        )
    col0, row0 = origin
    metres = chip_size * resolution
    if "x" in ds.coords and "y" in ds.coords:
        col0 = _on_grid(float(ds.x[0]) - resolution / 2, metres, "x (west edge)")
        row0 = _on_grid(float(ds.y[0]) + resolution / 2, metres, "y (north edge)")
        _check_spacing(ds, resolution)
    return CubeLayout(
        crs=crs,
        chip_size=chip_size,
        resolution=resolution,
        col0=col0,
        row0=row0,
        ncols=width // chip_size,
        nrows=height // chip_size,
        chunk_chips=int(chunk) if chunk is not None else None,
    )


def cube_chips(ds: xr.Dataset, aoi: Aoi | None = None) -> list[Chip]:
    """The chips of a cube, or those whose footprint overlaps ``aoi``.

    Args:
        ds: a cube made by geomm (lazy, loaded, or opened from Zarr).
        aoi: keep only chips whose intersection with the AOI has an area
            (touching along an edge is not enough); the AOI may be split at
            the antimeridian. ``None`` keeps every chip.

    Returns:
        Chips in row-major order: north to south, then west to east.

    Raises:
        ChipError: the cube carries no chip grid (see :func:`cube_layout`),
            or its CRS has no EPSG code.
    """
    layout = cube_layout(ds)
    cells = [(i, j) for i in range(layout.nrows) for j in range(layout.ncols)]
    if aoi is not None:
        keep = _overlapping(layout, aoi)
        cells = [c for c in cells if keep[c]]
    return [layout.chip(i, j) for i, j in cells]


# --------------------------------------------------------------------------- internals


@functools.lru_cache(maxsize=64)
def _epsg_code(crs: str) -> int:
    match = re.fullmatch(r"\s*EPSG:(\d+)\s*", str(crs), flags=re.IGNORECASE)
    if match:
        return int(match.group(1))
    try:
        epsg = CRS.from_user_input(crs).to_epsg()
    except CRSError as e:
        raise ChipError(f"cannot parse CRS {crs!r} for a chip id: {e}") from e
    if epsg is None:
        raise ChipError(
            f"CRS {str(crs)[:80]!r} has no EPSG code, so chips on it cannot get stable ids; "
            "build the cube in a UTM zone (e.g. EPSG:32633)"
        )
    return int(epsg)


def _origin(value: Any) -> tuple[int, int]:
    try:
        origin = json.loads(value) if isinstance(value, str) else dict(value)
        return int(origin["col0"]), int(origin["row0"])
    except (ValueError, TypeError, KeyError) as e:
        raise ChipError(
            f'chip_grid_origin must be JSON {{"col0": int, "row0": int}}, got {value!r}'
        ) from e


def _on_grid(edge: float, metres: float, what: str) -> int:
    index = edge / metres
    nearest = round(index)
    if abs(index - nearest) * metres > 1e-3:
        raise ChipError(
            f"cube {what} at {edge!r} is not on the chip grid (multiples of {metres:g}); "
            "slice cubes along chip edges"
        )
    return int(nearest)


def _check_spacing(ds: xr.Dataset, resolution: float) -> None:
    for name, sign in (("x", 1.0), ("y", -1.0)):
        coord = np.asarray(ds[name].values, dtype=float)
        if coord.size > 1 and not np.allclose(np.diff(coord), sign * resolution, atol=1e-6):
            raise ChipError(
                f"cube coordinate {name!r} is not a regular {resolution:g} m grid "
                f"({'ascending' if sign > 0 else 'descending, north-up'}); chips need the "
                "cube's own pixel grid"
            )


def _overlapping(layout: CubeLayout, aoi: Aoi) -> np.ndarray:
    """(nrows, ncols) bool: chips whose overlap with the AOI has an area."""
    keep = np.zeros((layout.nrows, layout.ncols), dtype=bool)
    shape = transform_geometry(aoi.geometry.segmentize(_AOI_DENSIFY_DEG), "EPSG:4326", layout.crs)
    # Parts split at the antimeridian meet again in the projected plane.
    shape = shapely.make_valid(shapely.union_all(list(getattr(shape, "geoms", [shape]))))
    if shape.is_empty or shape.area == 0:
        return keep
    m = layout.chip_metres
    minx, miny, maxx, maxy = shape.bounds
    j0 = max(math.floor(minx / m) - layout.col0, 0)
    j1 = min(math.ceil(maxx / m) - layout.col0, layout.ncols)
    i0 = max(layout.row0 - math.ceil(maxy / m), 0)
    i1 = min(layout.row0 - math.floor(miny / m), layout.nrows)
    if i0 >= i1 or j0 >= j1:
        return keep
    ii, jj = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), indexing="ij")
    cols, rows = layout.col0 + jj.ravel(), layout.row0 - ii.ravel()
    boxes = shapely.box(cols * m, (rows - 1) * m, (cols + 1) * m, rows * m)
    shapely.prepare(shape)
    area = shapely.area(shapely.intersection(boxes, shape))
    keep[ii.ravel(), jj.ravel()] = area > _SLIVER * min(m * m, shape.area)
    return keep


def _footprint_wgs84(crs: str, bounds: tuple[float, float, float, float]) -> Polygon | MultiPolygon:
    west, south, east, north = bounds
    outline = box(west, south, east, north).segmentize((east - west) / _EDGE_SEGMENTS)
    lonlat = transform_geometry(outline, crs, "EPSG:4326")
    lon = shapely.get_coordinates(lonlat)[:, 0]
    if lon.max() - lon.min() <= 180.0:
        return lonlat
    # Straddles +-180: bring the west side past 180, then split like an AOI.
    shifted = shapely.transform(lonlat, lambda xy: xy + [[360.0, 0.0]] * (xy[:, :1] < 0))
    return split_antimeridian(shifted)
