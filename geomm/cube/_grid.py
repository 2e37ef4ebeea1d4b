"""The cube's pixel grid: one UTM CRS, 10 m pixels, edges on the global chip grid.

Chips (model inputs) are ``chip_size`` pixels square and their edges sit at
multiples of ``chip_size * resolution`` metres in the cube CRS, whatever the
AOI, so two cubes of overlapping AOIs in the same zone cut identical chips,
and chip ids (zone + grid indices) are stable across runs. Cube extents and
Dask/Zarr chunks are whole numbers of chips, so chunks never straddle a chip
and region writes are independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from odc.geo.geobox import GeoBox
from pyproj import CRS

from geomm.aoi import Aoi, transform_geometry
from geomm.errors import GeommError

__all__ = ["CubeGrid", "GridError", "cube_grid", "grid_option_problem", "utm_crs_for"]


class GridError(GeommError, ValueError):
    """The requested grid cannot be built."""


@dataclass(frozen=True)
class CubeGrid:
    """A chip-aligned pixel grid."""

    crs: str
    """Projected CRS of the cube, e.g. ``EPSG:32632``."""
    resolution: float
    """Pixel size in CRS units (metres)."""
    chip_size: int
    """Chip edge in pixels; chip edges are at multiples of chip_size*resolution."""
    chunk_chips: int
    """Chunk edge in chips (Dask and Zarr chunks are chunk_chips x chunk_chips chips)."""
    col0: int
    """Global chip column of the grid's west edge (x0 / chip metres)."""
    row0: int
    """Global chip row of the grid's north edge (y0 / chip metres)."""
    ncols: int
    """Width in chips."""
    nrows: int
    """Height in chips."""

    def __post_init__(self) -> None:
        if self.chip_size < 1 or self.chunk_chips < 1 or self.ncols < 1 or self.nrows < 1:
            raise GridError(f"degenerate grid: {self}")

    @property
    def chip_metres(self) -> float:
        """Chip edge in CRS units."""
        return self.chip_size * self.resolution

    @property
    def chunk_px(self) -> int:
        """Chunk edge in pixels."""
        return self.chip_size * self.chunk_chips

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.nrows * self.chip_size, self.ncols * self.chip_size)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in CRS units."""
        west = self.col0 * self.chip_metres
        north = self.row0 * self.chip_metres
        return (
            west,
            north - self.nrows * self.chip_metres,
            west + self.ncols * self.chip_metres,
            north,
        )

    @property
    def geobox(self) -> GeoBox:
        """The odc-geo GeoBox of the grid (north-up, square pixels)."""
        return GeoBox.from_bbox(self.bounds, crs=self.crs, resolution=self.resolution)


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the standard UTM zone of a point (WGS 84, no Norway exceptions)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def cube_grid(
    aoi: Aoi,
    *,
    crs: str | None = None,
    resolution: float = 10.0,
    chip_size: int = 120,
    chunk_chips: int = 8,
) -> CubeGrid:
    """The chip-aligned grid covering ``aoi``.

    Args:
        aoi: area of interest.
        crs: cube CRS; default the UTM zone of the AOI centroid.
        resolution: pixel size in metres.
        chip_size: chip edge in pixels (CROMA: multiples of 8; default 120).
        chunk_chips: chunk edge in chips.

    Raises:
        GridError: a geographic CRS, a chip size that is not a positive multiple
            of 8, a chunk edge under one chip, or a resolution that is not > 0.
    """
    if problem := grid_option_problem(chip_size, chunk_chips, resolution):
        raise GridError(problem)
    if crs is None:
        crs = utm_crs_for(*aoi.centroid)
    parsed = CRS.from_user_input(crs)
    if not parsed.is_projected:
        raise GridError(f"cube CRS must be projected (metres), got {crs!r}; e.g. a UTM zone")
    epsg = parsed.to_epsg()
    crs_text = f"EPSG:{epsg}" if epsg else parsed.to_wkt()
    minx, miny, maxx, maxy = transform_geometry(_densify(aoi), "EPSG:4326", parsed).bounds
    step = chip_size * resolution
    col0 = math.floor(minx / step)
    col1 = math.ceil(maxx / step)
    row_south = math.floor(miny / step)
    row0 = math.ceil(maxy / step)
    return CubeGrid(
        crs=crs_text,
        resolution=float(resolution),
        chip_size=chip_size,
        chunk_chips=chunk_chips,
        col0=col0,
        row0=row0,
        ncols=max(col1 - col0, 1),
        nrows=max(row0 - row_south, 1),
    )


def grid_option_problem(chip_size: object, chunk_chips: object, resolution: object) -> str | None:
    """What is wrong with these grid options (for the error message), or None.

    One rule for both callers: ``CubeConfig`` checks them as soon as they are
    given, :func:`cube_grid` when called on its own.
    """
    if not (isinstance(chip_size, Integral) and chip_size > 0 and chip_size % 8 == 0):
        return (
            f"chip_size must be a positive multiple of 8 pixels (CROMA's patches), "
            f"got {chip_size!r}; the default is 120"
        )
    if not (isinstance(chunk_chips, Integral) and chunk_chips >= 1):
        return f"chunk_chips must be a whole number >= 1, got {chunk_chips!r}"
    if not (isinstance(resolution, Real) and 0 < resolution < math.inf):
        return f"resolution must be a positive number of metres, got {resolution!r}"
    return None


def _densify(aoi: Aoi):  # noqa: ANN202 - shapely geometry
    """Add vertices every ~0.001 degrees so projected bounds are not underestimated."""
    return aoi.geometry.segmentize(0.001)
