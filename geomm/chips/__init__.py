"""Model-sized chips cut from a cube on the global chip grid.

``cube_chips`` lists a cube's chips (optionally those overlapping an AOI),
each with a stable ``chip_id`` and its lon/lat footprint; ``chip_blocks``
groups chips by the cube chunk they fall in and ``read_block`` loads one
chunk once and returns per-chip arrays and clear/S1 coverage fractions.
``read_block_from_store`` does the same from a Zarr path inside a Dask
worker.
"""

from geomm.chips._block import (
    BlockData,
    ChipBlock,
    chip_blocks,
    read_block,
    read_block_from_store,
)
from geomm.chips._chip import Chip, ChipError, CubeLayout, chip_id, cube_chips, cube_layout

__all__ = [
    "BlockData",
    "Chip",
    "ChipBlock",
    "ChipError",
    "CubeLayout",
    "chip_blocks",
    "chip_id",
    "cube_chips",
    "cube_layout",
    "read_block",
    "read_block_from_store",
]
