"""``ds.geomm``: the notebook face of a cube, on the same functions as the CLI.

``import geomm.embed`` (or :func:`geomm.open_cube`) registers the accessor
(xarray recommends accessors over subclassing ``Dataset``)::

    ds = geomm.open_cube("cube.zarr")
    ds.geomm.chips()                     # GeoDataFrame of the chip grid
    table = ds.geomm.embed()             # the default model (geomm models lists them)
    ds.geomm.quicklook()
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

from geomm.embed._config import EmbedConfig, ModelSpec
from geomm.models import DEFAULT_MODEL

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.figure import Figure

    from geomm.aoi import Aoi

__all__ = ["GeommAccessor"]


class GeommAccessor:
    """Chips, embeddings and quicklooks of a geomm cube."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def chips(self, aoi: Aoi | None = None) -> gpd.GeoDataFrame:
        """The cube's chips (inside ``aoi``) as a GeoDataFrame in EPSG:4326.

        Columns ``chip_id``, ``col``, ``row`` (global chip grid indices),
        ``geometry``; one row per chip, north to south, west to east.
        """
        import geopandas as gpd

        from geomm.chips import cube_chips

        chips = cube_chips(self._ds, aoi)
        return gpd.GeoDataFrame(
            {
                "chip_id": [c.chip_id for c in chips],
                "col": [c.col for c in chips],
                "row": [c.row for c in chips],
            },
            geometry=[c.geometry_wgs84() for c in chips],
            crs="EPSG:4326",
        )

    def embed(
        self,
        model: str = DEFAULT_MODEL,
        *,
        weights: str | None = None,
        precision: str = "auto",
        embeddings: Sequence[str] | None = None,
        aoi: Aoi | None = None,
        min_clear: float = 0.9,
        min_s1_coverage: float = 0.9,
        batch_size: int = 16,
        out: str | Path | None = None,
        scheduler: str | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> gpd.GeoDataFrame:
        """Embed the cube's chips and return the table (also written to ``out``).

        The same runner as ``geomm embed`` (:func:`geomm.embed.embed_cube`);
        without ``out`` the table goes through a temporary file. The table's
        metadata (model, weights, normalization) is in ``table.attrs["geomm"]``.
        """
        from geomm.embed._run import embed_cube
        from geomm.embed._table import read_table

        config = EmbedConfig(
            model=ModelSpec(name=model, weights=weights, precision=precision),
            embeddings=tuple(embeddings) if embeddings else None,
            min_clear=min_clear,
            min_s1_coverage=min_s1_coverage,
            batch_size=batch_size,
        )
        with contextlib.ExitStack() as stack:
            if out is None:  # through a temporary file, read back whole before it goes
                out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="geomm-embed-")))
                out = out / "embeddings.parquet"
            report = embed_cube(
                self._ds,
                out,
                aoi=aoi,
                config=config,
                scheduler=scheduler,
                resume=resume,
                overwrite=overwrite,
            )
            return read_table(report.path)

    def quicklook(
        self, time: int | str | None = None, out: str | Path | None = None, dpi: int = 120
    ) -> Figure:
        """S2 true colour beside S1 false colour for one time (see :func:`geomm.cube.quicklook`)."""
        from geomm.cube import quicklook

        return quicklook(self._ds, time=time, out=out, dpi=dpi)


def _register() -> None:
    """Register :class:`GeommAccessor` as ``ds.geomm``.

    A second import of this module (a test that forgets ``geomm.embed`` and
    imports it again) replaces its own earlier registration quietly; xarray
    still warns when the name belongs to someone else.
    """
    earlier = getattr(xr.Dataset.__dict__.get("geomm"), "_accessor", None)
    if getattr(earlier, "__module__", None) == __name__ and earlier is not GeommAccessor:
        delattr(xr.Dataset, "geomm")
    # xarray's decorator is unannotated; it returns the class unchanged.
    xr.register_dataset_accessor("geomm")(GeommAccessor)  # type: ignore[no-untyped-call]


_register()
