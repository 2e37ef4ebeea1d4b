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
import re
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, cast

from pyproj import CRS
from pyproj.exceptions import CRSError

from geomm.aoi import Aoi, transform_geometry
from geomm.errors import CrsAreaWarning, GridError, OptionError, SizeLimitError
from geomm.stac import S1_BANDS, S2_BANDS

if TYPE_CHECKING:
    from odc.geo.geobox import GeoBox
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "CHIP_SIZE_RANGE",
    "COMPOSITE_PIXEL_BYTES",
    "DEFAULT_MAX_SIZE",
    "MAX_CHUNK_PX",
    "PIXEL_BYTES",
    "CubeGrid",
    "CubeSize",
    "GridError",
    "check_cube_size",
    "crs_problem",
    "cube_grid",
    "cube_size",
    "grid_option_problem",
    "max_size_problem",
    "parse_cube_crs",
    "parse_size",
    "utm_crs_for",
]


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
        from odc.geo.geobox import GeoBox

        return GeoBox.from_bbox(self.bounds, crs=self.crs, resolution=self.resolution)


PIXEL_BYTES = len(S2_BANDS) * 2 + len(S1_BANDS) * 4 + 1
"""Bytes of one pixel at one time, uncompressed: S2 bands uint16, S1 bands float32,
``clear`` bool (33 with 12 S2 and 2 S1 bands)."""
COMPOSITE_PIXEL_BYTES = PIXEL_BYTES + 2
"""A composite also stores ``n_clear`` (uint16) per pixel and period."""
DEFAULT_MAX_SIZE = 50 * 10**9
"""Default ``max_size`` of a cube: 50 GB uncompressed (a whole MGRS tile, 110 km
square, for about 40 dates); more is a job for a cluster and a deliberate limit."""


@dataclass(frozen=True)
class CubeSize:
    """The planned size of a cube, known from its grid and times before any pixel is read."""

    height: int
    """Rows, pixels."""
    width: int
    """Columns, pixels."""
    times: int
    """Time steps (acquisitions or composite periods)."""
    pixel_bytes: int
    """Bytes of every layer of one pixel at one time (:data:`PIXEL_BYTES`)."""
    lower_bound: bool = False
    """``times`` is the least the cube can have (dates not known yet), not its count."""

    @property
    def nbytes(self) -> int:
        """Uncompressed size of the cube's pixel variables."""
        return self.height * self.width * self.times * self.pixel_bytes

    def describe(self) -> str:
        """``the cube (3000 x 2000 px x 4 time(s) x 33 bytes)``, for messages."""
        times = f"{'at least ' if self.lower_bound else ''}{self.times} time(s)"
        return f"the cube ({self.height} x {self.width} px x {times} x {self.pixel_bytes} bytes)"


def cube_size(
    grid: CubeGrid, times: int, *, composite: bool = False, lower_bound: bool = False
) -> CubeSize:
    """The uncompressed size of a cube on ``grid`` with ``times`` time steps.

    ``lower_bound``: ``times`` is only the least possible count (one, before
    the search), so a grid too large for even one date is refused at once.
    """
    height, width = grid.shape
    pixel_bytes = COMPOSITE_PIXEL_BYTES if composite else PIXEL_BYTES
    return CubeSize(height, width, times, pixel_bytes, lower_bound)


def check_cube_size(size: CubeSize, max_size: int | None) -> None:
    """Refuse a cube above ``max_size`` bytes (``None``: no limit).

    Raises:
        SizeLimitError: the cube is larger; the message gives its size and the advice.
    """
    if max_size is not None and size.nbytes > max_size:
        raise SizeLimitError(size.describe(), size.nbytes, max_size)


def max_size_problem(max_size: object) -> str | None:
    """What is wrong with ``max_size`` (for the error message), or None."""
    if max_size is None:
        return None
    # a Real compares with numbers (typeshed's numbers.Real does not say so); no float():
    # an int too large for a float is still a size
    if (
        isinstance(max_size, bool)
        or not isinstance(max_size, Real)
        or not 0 < cast(float, max_size) < math.inf
    ):
        return f"max_size must be a positive number of bytes or None (no limit), got {max_size!r}"
    return None


_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d*)?(?:e[+-]?\d+)?)\s*([kmgtp]?)(i?)b?\s*", re.IGNORECASE)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_NO_LIMIT = ("none", "off", "unlimited")


def parse_size(text: str) -> int | None:
    """``"200GB"`` -> 200e9 bytes, ``"1TiB"`` -> 2**40, ``"none"`` -> None (no limit).

    Decimal units (kB, MB, GB, TB, PB) as disks are sold, binary ones with
    ``i`` (GiB); a bare number is bytes.

    Raises:
        OptionError: not a size, or not positive.
    """
    if text.strip().lower() in _NO_LIMIT:
        return None
    m = _SIZE_RE.fullmatch(text)
    value = float(m.group(1)) if m else math.nan
    if not (m and 0 < value < math.inf):
        raise OptionError(
            f"cannot read size {text!r}; give a positive size such as 50GB, 200GB or 1TB, "
            "or none for no limit"
        )
    scale: int = (1024 if m.group(3) else 1000) ** _SIZE_POWERS[m.group(2).lower()]
    return round(value * scale)


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
        chip_size: chip edge in pixels (default 120). Whether a model takes
            chips of that size (a whole number of its patches) is the model's
            rule, checked where the cube is embedded, not here.
        chunk_chips: chunk edge in chips.

    Raises:
        GridError: a geographic CRS, a chip size that is not a positive whole
            number of pixels within :data:`CHIP_SIZE_RANGE`, a chunk edge
            under one chip or above :data:`MAX_CHUNK_PX`, or a resolution
            that is not > 0.
    """
    if problem := grid_option_problem(chip_size, chunk_chips, resolution):
        raise GridError(problem)
    if crs is None:
        crs = utm_crs_for(*aoi.centroid)
    parsed = parse_cube_crs(crs)
    _warn_if_far(parsed, crs, aoi)
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


CHIP_SIZE_RANGE = (1, 2048)
"""Smallest and largest chip edge, pixels: one pixel up to a chip whose S2
stack (12 bands, uint16) is 100 MB, already far beyond any model's input. A
model's own rule (a whole number of its patches) is the model's to check."""
MAX_CHUNK_PX = 4096
"""Largest Zarr chunk edge in pixels: a 4096 px S2 chunk is 400 MB in memory,
and a Dask task holds several; larger chunks end in MemoryError, not speed."""


def grid_option_problem(chip_size: object, chunk_chips: object, resolution: object) -> str | None:
    """What is wrong with these grid options (for the error message), or None.

    One rule for both callers: ``CubeConfig`` checks them as soon as they are
    given, :func:`cube_grid` when called on its own.
    """
    low, high = CHIP_SIZE_RANGE
    if not (
        isinstance(chip_size, Integral)
        and not isinstance(chip_size, bool)
        and low <= int(chip_size) <= high
    ):
        return (
            f"chip_size must be a positive whole number of pixels within {low}..{high}, "
            f"got {chip_size!r}; the default is 120"
        )
    if not (isinstance(chunk_chips, Integral) and int(chunk_chips) >= 1):
        return f"chunk_chips must be a whole number >= 1, got {chunk_chips!r}"
    chunk_px = int(chip_size) * int(chunk_chips)
    if chunk_px > MAX_CHUNK_PX:
        return (
            f"chunk_chips={chunk_chips} makes chunks of {chunk_px} px, above "
            f"{MAX_CHUNK_PX} px (a chunk is held in memory whole); use chunk_chips <= "
            f"{max(MAX_CHUNK_PX // int(chip_size), 1)}"
        )
    if not (isinstance(resolution, Real) and 0 < cast(float, resolution) < math.inf):
        return f"resolution must be a positive number of metres, got {resolution!r}"
    return None


def parse_cube_crs(crs: object) -> CRS:
    """``crs`` as a pyproj CRS, if it is one a cube can use (projected, in metres).

    Raises:
        GridError: pyproj cannot build it, or it is geographic (degrees).
    """
    parsed, problem = _checked_crs(crs)
    if parsed is None:
        raise GridError(problem)
    return parsed


def crs_problem(crs: object) -> str | None:
    """What is wrong with ``crs`` as a cube CRS (for the error message), or None.

    One rule for ``CubeConfig`` (checked when given) and :func:`cube_grid`.
    """
    return _checked_crs(crs)[1]


def _checked_crs(crs: object) -> tuple[CRS | None, str | None]:
    """``crs`` parsed once: (the CRS, None) if a cube can use it, else (None, the problem)."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as e:
        return None, (
            f"crs={crs!r} is not a coordinate reference system pyproj knows ({e}); "
            "give an EPSG code such as 'EPSG:32632' (a UTM zone), or None for the AOI's zone"
        )
    if not parsed.is_projected:
        return None, f"cube CRS must be projected (metres), got {crs!r}; e.g. a UTM zone"
    return parsed, None


FAR_DEGREES = 6.0
"""How far (degrees of longitude or latitude) the AOI centre may lie outside a
CRS's area of use before :class:`CrsAreaWarning` says so: one UTM zone's width,
so a cube across a zone boundary in either zone is quiet."""


def _warn_if_far(parsed: CRS, crs: object, aoi: Aoi) -> None:
    """Warn when the AOI lies far from where ``crs`` is meant to be used (distorted pixels)."""
    area = parsed.area_of_use
    if area is None:
        return
    lon, lat = aoi.centroid
    west, south, east, north = area.bounds
    if west > east:  # the area of use crosses the antimeridian
        east += 360.0
    # longitudes wrap: 180 E is next to zone 1 (180 W..174 W)
    off_lon = min(max(west - x, x - east, 0.0) for x in (lon - 360.0, lon, lon + 360.0))
    off_lat = max(south - lat, lat - north, 0.0)
    if max(off_lon, off_lat) > FAR_DEGREES:
        warnings.warn(
            f"cube CRS {crs!r} ({parsed.name}) is meant for lon {west:g}..{east:g}, "
            f"lat {south:g}..{north:g}, but the AOI centre is at ({lon:.3f}, {lat:.3f}); "
            "pixels will be distorted: leave crs=None for the AOI's UTM zone",
            CrsAreaWarning,
            stacklevel=3,
        )


def _densify(aoi: Aoi) -> BaseGeometry:
    """Add vertices every ~0.001 degrees so projected bounds are not underestimated."""
    return aoi.geometry.segmentize(0.001)
