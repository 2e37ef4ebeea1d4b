"""Provider profiles: one generic code path over per-provider data files.

A profile (``catalogs/<provider>.toml``) says, per collection, which asset
holds each canonical band, and how to turn the stored numbers into geomm's
canonical radiometry (ARCHITECTURE.md): Sentinel-2 surface reflectance x
10000 with the processing-baseline 04.00 offset removed exactly once, and
Sentinel-1 backscatter whose units (linear power, dB or raw DN) are known.
Adding a provider means adding a file; nothing here names a provider.
The files are read by :mod:`geomm.stac._profile_files`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pystac

from geomm.errors import CatalogError, NotGeocodedError, ProfileError
from geomm.stac._hrefs import asset_href
from geomm.stac._storage import s3_read_options, user_s3_endpoints

__all__ = [
    "S1_BANDS",
    "S2_BANDS",
    "BandAsset",
    "CollectionRule",
    "ItemBands",
    "Profile",
    "processing_baseline",
]

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
"""Canonical Sentinel-2 bands, in wavelength order (B10 cirrus dropped)."""

S1_BANDS = ("VV", "VH")
"""Canonical Sentinel-1 bands."""

S2_BOA_OFFSET_DN = 1000
"""BOA_ADD_OFFSET of processing baseline >= 04.00, in DN (reflectance -0.1)."""

Sensor = Literal["sentinel-1", "sentinel-2"]
_OFFSET_SOURCES = ("raster", "processing-baseline")
_S1_UNITS = ("linear", "db", "dn")


@dataclass(frozen=True)
class CollectionRule:
    """How one collection (or glob of collections) maps onto canonical bands."""

    pattern: str
    """Collection id, or a glob such as ``*sentinel-2*`` (generic profile)."""
    sensor: Sensor
    """Which satellite family the collection holds."""
    bands: Mapping[str, tuple[str, ...]]
    """Canonical band -> candidate asset keys; the first present in an item wins."""
    geocoded: bool = True
    """False for products in radar geometry (GRD): refused for cubes."""
    units: str | None = None
    """Sentinel-1 pixel units: ``linear`` power, ``db`` or raw ``dn``."""
    nodata: float | None = None
    """Nodata when the item does not declare one (``nan`` allowed)."""
    scale: float = 1.0
    """Scale when the item does not declare one (S2: 0.0001 per DN)."""
    offset_source: str | None = None
    """S2: where the baseline-04.00 offset is read: ``raster`` metadata (falling
    back to the processing baseline) or the ``processing-baseline`` alone."""
    offset_applied_flag: str | None = None
    """S2: item property that, when true, says the offset was already removed
    from the pixels (Earth Search), overriding any advertised offset."""

    def __post_init__(self) -> None:
        if self.sensor not in ("sentinel-1", "sentinel-2"):
            raise ProfileError(
                f"collection {self.pattern!r}: sensor must be 'sentinel-1' or 'sentinel-2', "
                f"got {self.sensor!r}"
            )
        canonical = S2_BANDS + ("SCL",) if self.sensor == "sentinel-2" else S1_BANDS
        unknown = sorted(set(self.bands) - set(canonical))
        if unknown:
            raise ProfileError(
                f"collection {self.pattern!r}: unknown canonical band(s) {unknown}; "
                f"allowed: {list(canonical)}"
            )
        if self.sensor == "sentinel-2" and self.offset_source not in _OFFSET_SOURCES:
            raise ProfileError(
                f"collection {self.pattern!r}: offset_source must be one of "
                f"{list(_OFFSET_SOURCES)}, got {self.offset_source!r}"
            )
        if self.sensor == "sentinel-1" and self.units not in _S1_UNITS:
            raise ProfileError(
                f"collection {self.pattern!r}: units must be one of {list(_S1_UNITS)}, "
                f"got {self.units!r}"
            )

    def matches(self, collection_id: str) -> bool:
        """Whether this rule applies to ``collection_id``."""
        return fnmatch.fnmatchcase(collection_id, self.pattern)


@dataclass(frozen=True)
class BandAsset:
    """Where one canonical band of one item lives and how to read its numbers."""

    band: str
    """Canonical band name (``B04``, ``SCL``, ``VV``)."""
    asset: str
    """The item's asset key."""
    href: str
    """Absolute href of the asset (unsigned)."""
    nodata: float | None
    """Value that marks missing pixels in the file (NaN allowed), or None."""
    scale: float
    """Physical value per stored unit (S2: 0.0001 reflectance per DN)."""
    offset: float
    """Physical offset that applies to the stored numbers: value = DN*scale + offset.
    For S2 this is ``-dn_offset * scale`` of :class:`ItemBands`, never the
    advertised offset when the provider says it was already applied."""
    gdal: tuple[tuple[str, str], ...] = ()
    """GDAL settings its storage needs (S3 endpoint, signing), from the item's storage
    metadata, the endpoint checked against the trusted ones (:mod:`geomm.stac._storage`)."""


@dataclass(frozen=True)
class ItemBands:
    """The profile's verdict on one item: assets, radiometry, usability."""

    item_id: str
    collection: str
    sensor: Sensor
    bands: Mapping[str, BandAsset]
    """Canonical band -> asset, in canonical order; only the bands found."""
    geocoded: bool
    """False for products in radar geometry; see :meth:`require_geocoded`."""
    dn_offset: int = 0
    """S2: DN to subtract so pixels become reflectance x 10000 (1000 or 0)."""
    offset_reason: str = ""
    """S2: human-readable reason for ``dn_offset`` (which metadata decided)."""
    processing_baseline: str | None = None
    """S2 processing baseline (``"05.10"``) when the item reveals it."""
    units: str | None = None
    """S1 units of the stored pixels: ``linear``, ``db`` or ``dn``."""
    missing: tuple[str, ...] = ()
    """Canonical bands the profile maps but the item lacks."""

    @property
    def harmonize(self) -> bool:
        """Whether the baseline-04.00 offset is still to be removed."""
        return self.dn_offset != 0

    def require_geocoded(self) -> ItemBands:
        """Return self, or raise :class:`NotGeocodedError` for radar-geometry items."""
        if not self.geocoded:
            raise NotGeocodedError(self.item_id, self.collection)
        return self


@dataclass(frozen=True)
class Profile:
    """A STAC provider: where it is, how to sign, and its collection rules."""

    name: str
    title: str
    url: str | None = None
    """STAC API root, for API providers."""
    path: str | None = None
    """Static catalog location, relative to the profile file, for local providers.
    A catalog that a package builds instead (the bundled sample) is registered
    under the profile's name (:func:`geomm.stac.register_catalog`) and needs none."""
    aliases: tuple[str, ...] = ()
    signing: str = "none"
    """``none`` or ``planetary-computer`` (SAS tokens via the planetary-computer package)."""
    rules: tuple[CollectionRule, ...] = field(default=())
    """Collection rules, exact ids and globs, in file order."""
    source: str = ""
    """File the profile was read from."""
    s3_endpoints: tuple[str, ...] = ()
    """S3 endpoints (``host[:port]``, HTTPS) this provider's items may send signed
    requests to, besides AWS's; ``GEOMM_S3_ENDPOINTS`` adds the user's own."""

    @property
    def collections(self) -> tuple[str, ...]:
        """Collection ids (or globs) this profile knows."""
        return tuple(rule.pattern for rule in self.rules)

    def default_collections(self) -> tuple[str, ...]:
        """Concrete, geocoded collections: what a search naming no ``collections`` covers."""
        return tuple(
            r.pattern for r in self.rules if r.geocoded and not any(c in r.pattern for c in "*?[")
        )

    def rule_for(self, collection_id: str) -> CollectionRule:
        """The rule for ``collection_id``: exact id first, then the first glob in file order."""
        for rule in self.rules:
            if rule.pattern == collection_id:
                return rule
        for rule in self.rules:
            if rule.matches(collection_id):
                return rule
        raise ProfileError(
            f"profile {self.name!r} does not know collection {collection_id!r}; "
            f"known: {list(self.collections)}. Add it to {self.source or 'the profile file'}"
        )

    def sign(self, href: str) -> str:
        """Return ``href`` ready to read: signed for providers that need it.

        Call right before reading, not at search time: Planetary Computer SAS
        tokens expire after about 45 minutes, and ``planetary_computer.sign``
        caches a token and fetches a fresh one when it has expired, so long
        jobs keep working.
        """
        if self.signing == "none" or not href.startswith(("http://", "https://")):
            return href
        if self.signing == "planetary-computer":
            try:
                import planetary_computer
            except ImportError:
                raise CatalogError(
                    f"reading {self.name!r} assets needs SAS-signed URLs: "
                    "pip install 'geomm[planetary-computer]'"
                ) from None
            return str(planetary_computer.sign(href))
        raise CatalogError(f"profile {self.name!r}: unknown signing method {self.signing!r}")

    def describe(self, item: pystac.Item) -> ItemBands:
        """Map an item's assets onto canonical bands and decide its radiometry."""
        collection = item.collection_id or _collection_from_links(item)
        if not collection:
            raise ProfileError(f"item {item.id!r} names no collection; cannot pick a profile rule")
        rule = self.rule_for(collection)
        found: dict[str, str] = {}
        missing: list[str] = []
        for band, candidates in rule.bands.items():
            key = next((k for k in candidates if k in item.assets), None)
            if key is None:
                missing.append(band)
            else:
                found[band] = key
        if not found and not rule.geocoded:
            # Radar-geometry products are refused anyway; say that, not "no VV".
            return ItemBands(
                item_id=item.id,
                collection=collection,
                sensor=rule.sensor,
                bands={},
                geocoded=False,
                units=rule.units,
                missing=tuple(missing),
            )
        if not found:
            pols = item.properties.get("sar:polarizations")
            if rule.sensor == "sentinel-1" and pols:
                raise ProfileError(
                    f"S1 item {item.id!r} has polarizations {pols}; geomm needs VV and VH "
                    "(dual-pol IW over land); HH/HV products are not supported"
                )
            raise ProfileError(
                f"item {item.id!r} has none of the assets profile {self.name!r} maps for "
                f"{collection!r} (expected e.g. {[c[0] for c in rule.bands.values()][:4]}); "
                f"it has {sorted(item.assets)[:12]}"
            )
        geocoded = rule.geocoded and _has_projection(item, found.values())
        trusted = self.s3_endpoints + user_s3_endpoints()
        if rule.sensor == "sentinel-2":
            return _describe_s2(item, collection, rule, found, tuple(missing), geocoded, trusted)
        bands = {
            band: _band_asset(item, band, key, rule, offset_dn=0, trusted=trusted)
            for band, key in found.items()
        }
        return ItemBands(
            item_id=item.id,
            collection=collection,
            sensor="sentinel-1",
            bands=bands,
            geocoded=geocoded,
            units=rule.units,
            missing=tuple(missing),
        )


# --------------------------------------------------------------------------- radiometry


_BASELINE_IN_ID = re.compile(r"_N(\d{2})(\d{2})_")


def processing_baseline(item: pystac.Item) -> str | None:
    """The S2 processing baseline (``"05.10"``) from whatever the item offers.

    Planetary Computer and Earth Search say ``s2:processing_baseline``; CDSE
    says ``processing:version``; ESA product ids carry ``_N0510_``.
    """
    props = item.properties
    for key in ("s2:processing_baseline", "processing:version"):
        value = props.get(key)
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}\.\d{2}", value.strip()):
            major, minor = value.strip().split(".")
            return f"{int(major):02d}.{minor}"
    for text in (item.id, props.get("s2:product_uri", "")):
        if m := _BASELINE_IN_ID.search(str(text)):
            return f"{m.group(1)}.{m.group(2)}"
    return None


def _describe_s2(
    item: pystac.Item,
    collection: str,
    rule: CollectionRule,
    found: dict[str, str],
    missing: tuple[str, ...],
    geocoded: bool,
    trusted: tuple[str, ...],
) -> ItemBands:
    baseline = processing_baseline(item)
    dn_offset, reason = _s2_dn_offset(item, rule, found, baseline)
    bands = {
        band: _band_asset(
            item, band, key, rule, offset_dn=0 if band == "SCL" else dn_offset, trusted=trusted
        )
        for band, key in found.items()
    }
    return ItemBands(
        item_id=item.id,
        collection=collection,
        sensor="sentinel-2",
        bands=bands,
        geocoded=geocoded,
        dn_offset=dn_offset,
        offset_reason=reason,
        processing_baseline=baseline,
        missing=missing,
    )


def _s2_dn_offset(
    item: pystac.Item, rule: CollectionRule, found: dict[str, str], baseline: str | None
) -> tuple[int, str]:
    """Decide, in one place, how many DN of offset the pixels still carry."""
    flag = rule.offset_applied_flag
    if flag and item.properties.get(flag) is True:
        return 0, f"{flag} is true: offset already removed from the pixels"
    if rule.offset_source == "raster":
        reflectance = [k for b, k in found.items() if b != "SCL"]
        declared = {_declared(item.assets[k].extra_fields, "offset") for k in reflectance} - {None}
        scales = {_declared(item.assets[k].extra_fields, "scale") for k in reflectance} - {None}
        if len(declared) > 1:
            raise ProfileError(
                f"item {item.id!r} declares different offsets across reflectance bands "
                f"({sorted(declared)}); geomm expects one BOA offset per item"
            )
        if declared:
            offset = declared.pop()
            scale = scales.pop() if len(scales) == 1 else rule.scale
            dn = round(-offset / scale)
            return dn, f"raster metadata declares offset {offset} at scale {scale}"
    if baseline is None:
        raise ProfileError(
            f"item {item.id!r}: cannot tell whether the baseline-04.00 offset applies "
            "(no raster offset, no s2:processing_baseline/processing:version, no _N####_ in id)"
        )
    major, minor = (int(p) for p in baseline.split("."))
    if (major, minor) >= (4, 0):
        return S2_BOA_OFFSET_DN, f"processing baseline {baseline} >= 04.00"
    return 0, f"processing baseline {baseline} < 04.00"


def _declared(fields: Mapping[str, Any], what: str) -> Any:
    """A raster value (``offset``, ``scale``, ``nodata``) as the asset declares it.

    STAC 1.0 nests it in ``raster:bands[0]``; STAC 1.1 (CDSE) puts ``raster:scale``,
    ``raster:offset`` and ``nodata`` flat on the asset.
    """
    bands = fields.get("raster:bands")
    if isinstance(bands, list) and bands and isinstance(bands[0], dict) and what in bands[0]:
        return bands[0][what]
    flat = fields.get("nodata") if what == "nodata" else fields.get(f"raster:{what}")
    if flat is None and what == "nodata":
        stac11 = fields.get("bands")
        if isinstance(stac11, list) and stac11 and isinstance(stac11[0], dict):
            flat = stac11[0].get("nodata")
    return flat


def _band_asset(
    item: pystac.Item,
    band: str,
    key: str,
    rule: CollectionRule,
    *,
    offset_dn: int,
    trusted: tuple[str, ...],
) -> BandAsset:
    fields = item.assets[key].extra_fields
    nodata = _declared(fields, "nodata")
    if nodata is None:
        nodata = rule.nodata
    elif isinstance(nodata, str):  # STAC allows "nan", "inf", "-inf"
        nodata = float(nodata)
    scale = 1.0 if band == "SCL" else (_declared(fields, "scale") or rule.scale)
    return BandAsset(
        band=band,
        asset=key,
        href=asset_href(item.assets[key]),
        nodata=None if nodata is None else float(nodata),
        scale=float(scale),
        offset=-offset_dn * float(scale),
        gdal=tuple(sorted(s3_read_options(item, key, trusted_endpoints=trusted).items())),
    )


def _has_projection(item: pystac.Item, keys: Any) -> bool:
    """False when the item says outright that it has no map projection.

    CDSE GRD assets carry ``proj:code: null``; Earth Search GRD says EPSG:4326
    for a footprint of a radar-geometry image. Rules mark such collections
    ``geocoded = false``; this catches the explicit nulls of unknown ones.
    """
    for key in keys:
        fields = item.assets[key].extra_fields
        if "proj:code" in fields and fields["proj:code"] is None:
            return False
    return not ("proj:code" in item.properties and item.properties["proj:code"] is None)


def _collection_from_links(item: pystac.Item) -> str | None:
    link = item.get_single_link("collection")
    if link is None:
        return None
    href = link.href.rstrip("/")
    if href.endswith(".json"):  # a static catalog: read the collection's own id
        try:
            collection = item.get_collection()
        except Exception:
            return None
        return collection.id if collection else None
    return href.rsplit("/", 1)[-1] or None
