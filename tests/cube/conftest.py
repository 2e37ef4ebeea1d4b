"""Fixtures shared by the cube tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pystac
import pytest
from shapely.geometry import box, mapping

from geomm.aoi import Aoi, aoi_from_geojson
from geomm.sample import SyntheticConfig, generate_synthetic_region
from geomm.stac import CatalogSource, Profile, load_profile, search

SMALL_BOUNDS = (11.985, 48.010, 12.015, 48.030)
"""~2 x 2 km across 12 E: both UTM zones' S2 tiles and an off-lattice S1 scene."""


@dataclass(frozen=True)
class SmallRegion:
    """A generated region with one S2 date and one S1 pass, searched over its bounds."""

    folder: Path
    items: list[pystac.Item]
    aoi: Aoi
    profile: Profile


@pytest.fixture(scope="session")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> SmallRegion:
    folder = tmp_path_factory.mktemp("small-region") / "region"
    config = SyntheticConfig(
        bounds=SMALL_BOUNDS,
        s2_dates=("2024-06-03T10:20:31Z",),
        s1_dates=("2024-06-05T05:35:12Z",),
        cloudy_dates=(),
        clouds=False,
    )
    generate_synthetic_region(folder, config)
    source = CatalogSource(profile=load_profile("sample"), path=folder / "catalog.json")
    aoi = aoi_from_geojson(mapping(box(*SMALL_BOUNDS)))
    found = search(source, aoi=aoi, start="2024-06-01", end="2024-06-10")
    return SmallRegion(folder, list(found.items), aoi, found.source.profile)


def write_interrupted(ds, path: Path, *, blocks: int = 2) -> list:  # ds: a cube
    """Start ``write_cube(ds, path)``, stop it (KeyboardInterrupt) after ``blocks`` blocks.

    Returns the blocks written before the stop.
    """
    from geomm.cube import write_cube

    calls = []

    def stop(block) -> None:  # block: a Block
        calls.append(block)
        if len(calls) == blocks:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_cube(ds, path, progress=stop)
    return calls
