"""The cube grid's own rules: a chip is any whole number of pixels; no model's rule applies here."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box, mapping

from geomm.aoi import aoi_from_geojson
from geomm.cube import GridError, cube_grid
from geomm.cube._grid import CHIP_SIZE_RANGE, MAX_CHUNK_PX, grid_option_problem

AOI = aoi_from_geojson(mapping(box(11.985, 48.010, 12.015, 48.030)))


@pytest.mark.parametrize("chip_size", [1, 7, 100, 120, np.int64(100), 2048])
def test_a_chip_is_any_whole_number_of_pixels_in_range(chip_size: int) -> None:
    """Not a multiple of a model's patch size: that is the model's rule, checked when embedding."""
    assert grid_option_problem(chip_size, 1, 10.0) is None
    grid = cube_grid(AOI, chip_size=chip_size, chunk_chips=1)
    assert grid.chip_size == chip_size
    west, south, east, north = grid.bounds
    step = chip_size * 10.0
    assert west % step == 0 and north % step == 0  # edges on the global chip grid
    assert grid.shape == (grid.nrows * chip_size, grid.ncols * chip_size)


@pytest.mark.parametrize("chip_size", [0, -8, 2049, 100.0, True, "120", None])
def test_other_chip_sizes_are_refused_naming_the_argument(chip_size: object) -> None:
    problem = grid_option_problem(chip_size, 1, 10.0)
    assert problem is not None and problem.startswith("chip_size must be a positive whole number")
    assert f"{CHIP_SIZE_RANGE[0]}..{CHIP_SIZE_RANGE[1]}" in problem
    with pytest.raises(GridError, match="chip_size"):
        cube_grid(AOI, chip_size=chip_size)  # type: ignore[arg-type]


def test_the_grid_names_no_model() -> None:
    problem = grid_option_problem(0, 1, 10.0) or ""
    assert "croma" not in problem.lower() and "patch" not in problem.lower()


def test_chunks_stay_within_the_memory_cap_for_any_chip_size() -> None:
    assert grid_option_problem(100, MAX_CHUNK_PX // 100, 10.0) is None
    problem = grid_option_problem(100, MAX_CHUNK_PX // 100 + 1, 10.0)
    assert problem is not None and f"chunk_chips <= {MAX_CHUNK_PX // 100}" in problem
