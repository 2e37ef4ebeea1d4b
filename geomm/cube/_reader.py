"""The reader seam: what a cube asks of whatever reads its pixels.

A reader turns one block request (an acquisition's sources, a window of the
cube grid, the sensor's bands, a resampling method) into a :class:`Block`:
the bands as an array plus a validity mask. It knows nothing of Zarr or
Dask: :mod:`geomm.cube._graph` builds the lazy cube from any reader's
blocks, one task per acquisition and block, and a plain loop (a model fed
block by block, without a cube on disk) calls :meth:`Reader.read_block`
the same way. So a reader and its requests are plain, picklable values:
a task carries them to a Dask worker, and a reader keeps no open state
that could not be rebuilt there (file handles and plan caches are per
process and thread).

Two readers exist: :class:`geomm.cube._geomm_reader.GeommReader` (geomm's
own, the default) and :class:`geomm.cube._odc_reader.OdcReader` (odc-stac,
the independent reference). odc-loader's ``ReaderDriver`` protocol was the
model, but it is per band and per source (open a source, read one band into
a GeoBox); the cube's unit is a mosaicked, radiometrically finished block of
every band of an acquisition, which is what both readers here produce.

A reader is generic in its *source* type: it prepares an acquisition's
items once, when the cube is planned (:meth:`Reader.sources`: geomm reads
grids from STAC metadata and sorts the mosaic; odc-stac keeps the items),
and gets those sources back in every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from geomm.stac import S1_BANDS, S2_BANDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pystac
    from rasterio.windows import Window

    from geomm.cube._grid import CubeGrid
    from geomm.stac import ItemBands, Profile

__all__ = [
    "Block",
    "BlockRequest",
    "GridWindow",
    "Mosaic",
    "PixelWindow",
    "Reader",
    "Sensor",
    "empty_block",
]

SourceT = TypeVar("SourceT")


class Sensor(Enum):
    """Which sensor's bands a block holds (the values are the STAC profile's sensors)."""

    S2 = "sentinel-2"
    """12 reflectance bands in ``geomm.stac.S2_BANDS`` order, uint16, harmonized; 0 = nodata."""
    S1 = "sentinel-1"
    """VV, VH backscatter, float32 dB; NaN = nodata."""

    @property
    def bands(self) -> tuple[str, ...]:
        """The canonical bands of a block, in layer order."""
        return tuple(S2_BANDS) if self is Sensor.S2 else tuple(S1_BANDS)

    @property
    def dtype(self) -> np.dtype:
        """The type of a block's ``data``."""
        return np.dtype(np.uint16 if self is Sensor.S2 else np.float32)


@dataclass(frozen=True)
class PixelWindow:
    """Rows ``[row0, row1)`` and columns ``[col0, col1)`` of a pixel grid."""

    row0: int
    """First row."""
    row1: int
    """One past the last row."""
    col0: int
    """First column."""
    col1: int
    """One past the last column."""

    @property
    def height(self) -> int:
        """Rows in the window."""
        return self.row1 - self.row0

    @property
    def width(self) -> int:
        """Columns in the window."""
        return self.col1 - self.col0

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    @property
    def rows(self) -> slice:
        """The rows as a slice, for indexing."""
        return slice(self.row0, self.row1)

    @property
    def cols(self) -> slice:
        """The columns as a slice, for indexing."""
        return slice(self.col0, self.col1)

    @property
    def index(self) -> tuple[slice, slice]:
        """``(rows, cols)``: the window as a numpy index (``array[window.index]``)."""
        return self.rows, self.cols

    def inner(self, box: PixelWindow) -> PixelWindow:
        """``box``, given relative to this window, in this window's own grid."""
        return PixelWindow(
            self.row0 + box.row0, self.row0 + box.row1, self.col0 + box.col0, self.col0 + box.col1
        )

    def rasterio(self) -> Window:
        """The same window as rasterio reads it."""
        from rasterio.windows import Window

        return Window(self.col0, self.row0, self.width, self.height)


@dataclass(frozen=True)
class GridWindow:
    """A window of the cube grid: where a block lies."""

    grid: CubeGrid
    """The cube's grid (CRS, resolution, origin)."""
    pixels: PixelWindow
    """The block's rows and columns in ``grid``."""


@dataclass(frozen=True)
class Mosaic(Generic[SourceT]):
    """One acquisition to read, whatever the block: its sources and how to finish them."""

    sensor: Sensor
    """Which bands, types and radiometry."""
    sources: tuple[SourceT, ...]
    """The reader's sources (:meth:`Reader.sources`); none gives an empty block."""
    profile: Profile
    """The provider profile: how hrefs are signed right before reading."""
    resampling: str
    """Reflectance or backscatter resampling (``bilinear``, ``nearest``...); SCL is
    always nearest."""
    snow_is_clear: bool = False
    """S2: count SCL 11 (snow/ice) as clear."""


@dataclass(frozen=True)
class BlockRequest(Generic[SourceT]):
    """One acquisition over one window of the cube grid."""

    mosaic: Mosaic[SourceT]
    """What to read."""
    window: GridWindow
    """Where."""


@dataclass(frozen=True, eq=False)
class Block:
    """A finished block: what the cube stores for one acquisition and window."""

    data: np.ndarray
    """(bands, h, w) in :attr:`Sensor.bands` order: S2 uint16 reflectance x 10000
    (0 = nodata), S1 float32 dB (NaN = nodata)."""
    valid: np.ndarray
    """(h, w) bool, the pixels to use: S2 every band valid and clear sky (the
    cube's ``clear``), S1 both bands hold data."""


@runtime_checkable
class Reader(Protocol[SourceT]):
    """Reads mosaicked blocks of one acquisition onto the cube grid.

    Implementations are frozen dataclasses (values: equal when configured
    alike, picklable, hashable) so that a cube's options compare and travel.
    """

    @property
    def name(self) -> str:
        """Short name recorded in a cube's ``load_options`` (``geomm``, ``odc``)."""
        ...

    @property
    def resampling(self) -> tuple[str, ...] | None:
        """Resampling names it takes; None: any its backend knows (checked when read)."""
        ...

    def block_chunks(self, task_chunks: int) -> int:
        """Zarr chunks along a block's edge: ``task_chunks`` or the reader's own unit."""
        ...

    def sources(
        self, items: Sequence[pystac.Item], verdicts: Sequence[ItemBands], *, grid: CubeGrid
    ) -> tuple[SourceT, ...]:
        """One acquisition's items (and the profile's verdicts) as this reader's sources.

        Called once per acquisition when the cube is planned, not per block.
        """
        ...

    def read_block(self, request: BlockRequest[SourceT], *, out: np.ndarray | None = None) -> Block:
        """The request's block; its ``data`` written into ``out`` when given.

        ``out``: a (bands, h, w) array of the sensor's type (a view of a larger
        array is fine), so that a caller's buffer needs no copy.
        """
        ...


def empty_block(sensor: Sensor, shape: tuple[int, int], out: np.ndarray | None = None) -> Block:
    """A block no source covers: 0 (S2) or NaN (S1) everywhere, nothing valid."""
    if out is None:
        out = np.empty((len(sensor.bands), *shape), dtype=sensor.dtype)
    out.fill(0 if sensor is Sensor.S2 else np.nan)
    return Block(data=out, valid=np.zeros(shape, dtype=bool))
