"""What geomm's reader reads: each item's assets, where they are and on which grid.

Built once per item when a cube is planned, from the item's STAC projection
metadata (``proj:*``; the file header only where an asset lacks it), so the
reading tasks carry plain values (hrefs, grids, offsets) that pickle to Dask
workers, and sign hrefs only right before reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rasterio
from rasterio.errors import RasterioError

from geomm.cube._gdal import credentials_hint, reader_env, source_env
from geomm.errors import AssetReadError, ProfileError
from geomm.stac import S1_BANDS, S2_BANDS, ItemBands

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pystac

__all__ = ["BandSource", "ItemSource", "SourceGrid", "item_source"]

Transform = tuple[float, float, float, float, float, float]
"""An affine transform's six coefficients (a, b, c, d, e, f), as GDAL and STAC list them."""


@dataclass(frozen=True)
class SourceGrid:
    """The pixel grid of an asset: bands on one grid share one sampling plan."""

    crs: str
    """Its CRS, as STAC names it (``EPSG:32633``, or WKT)."""
    transform: Transform
    """Pixel to CRS coordinates."""
    shape: tuple[int, int]
    """(height, width) in pixels."""


@dataclass(frozen=True)
class BandSource:
    """One asset of one item: where it is and on which grid."""

    href: str
    """Where the asset is (unsigned)."""
    crs: str
    """The asset's CRS."""
    transform: Transform
    """Its affine transform."""
    shape: tuple[int, int]
    """Its (height, width)."""
    nodata: float | None
    """Its nodata value (None: none, NaN: NaN)."""
    item_id: str = ""
    """For error messages: which scene the asset belongs to."""
    band: str = ""
    """For error messages: the canonical band."""
    gdal: tuple[tuple[str, str], ...] = ()
    """GDAL settings its storage needs (S3 endpoint, signing), from the item."""

    @property
    def grid(self) -> SourceGrid:
        """The asset's pixel grid."""
        return SourceGrid(self.crs, self.transform, self.shape)


@dataclass(frozen=True)
class ItemSource:
    """One item's assets in output-layer order, with its radiometry."""

    item_id: str
    """The item's id."""
    bands: tuple[BandSource, ...]
    """S2: B01..B12 then SCL (if present); S1: VV, VH."""
    dn_offset: int = 0
    """S2 DN still to subtract (baseline 04.00)."""
    units: str | None = None
    """S1 units of the stored pixels: linear or db."""
    has_scl: bool = False
    """S2: the last band is the scene classification."""


def item_source(item: pystac.Item, verdict: ItemBands) -> ItemSource:
    """The reading plan of one item, from its STAC projection metadata.

    Falls back to the file header when an asset lacks ``proj:*`` fields.
    """
    if verdict.sensor == "sentinel-2":
        missing = [b for b in S2_BANDS if b not in verdict.bands]
        if missing:
            raise ProfileError(f"S2 item {item.id!r} lacks band(s) {missing}")
        names = list(S2_BANDS) + (["SCL"] if "SCL" in verdict.bands else [])
    else:
        verdict.require_geocoded()
        missing = [b for b in S1_BANDS if b not in verdict.bands]
        if missing:
            raise ProfileError(f"S1 item {item.id!r} lacks band(s) {missing}")
        if verdict.units not in ("linear", "db"):
            raise ProfileError(
                f"S1 item {item.id!r} holds {verdict.units!r} values; geomm needs calibrated "
                "backscatter (linear gamma0 or dB), e.g. sentinel-1-rtc"
            )
        names = list(S1_BANDS)
    bands = tuple(_band_source(item, verdict, name) for name in names)
    return ItemSource(
        item_id=item.id,
        bands=bands,
        dn_offset=verdict.dn_offset,
        units=verdict.units,
        has_scl="SCL" in names,
    )


def _band_source(item: pystac.Item, verdict: ItemBands, name: str) -> BandSource:
    band = verdict.bands[name]
    asset = item.assets[band.asset]
    fields = {**item.properties, **asset.extra_fields}
    crs = _proj_crs(fields)
    transform = fields.get("proj:transform")
    shape = fields.get("proj:shape")
    gdal = band.gdal  # the profile checked the endpoint the item names (geomm.stac._storage)
    if crs is None or transform is None or shape is None:
        try:
            with reader_env(), source_env(gdal), rasterio.open(band.href) as ds:  # header only
                crs = crs or ds.crs.to_string()
                transform = transform or list(ds.transform)[:6]
                shape = shape or [ds.height, ds.width]
        except RasterioError as e:
            hint = credentials_hint(band.href, gdal, str(e))
            raise AssetReadError(item.id, name, band.href, str(e), hint) from e
    coefficients = [float(v) for v in list(transform)[:6]]
    return BandSource(
        href=band.href,
        crs=crs,
        transform=_transform(coefficients),
        shape=(int(shape[0]), int(shape[1])),
        nodata=band.nodata,
        item_id=item.id,
        band=name,
        gdal=gdal,
    )


def _transform(values: list[float]) -> Transform:
    """Six affine coefficients as a :data:`Transform`."""
    a, b, c, d, e, f = values
    return (a, b, c, d, e, f)


def _proj_crs(fields: Mapping[str, Any]) -> str | None:
    if code := fields.get("proj:code"):
        return str(code)
    if epsg := fields.get("proj:epsg"):
        return f"EPSG:{epsg}"
    if wkt := fields.get("proj:wkt2"):
        return str(wkt)
    return None
