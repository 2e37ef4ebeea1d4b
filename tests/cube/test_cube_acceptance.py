"""Acceptance of ``geomm.cube``: cube values against an independent truth.

The truth is the synthetic region's :class:`~geomm.sample.GroundTruth` (exact
land cover, class spectra and gamma0, point targets), evaluated here at the
cube's own pixel centres in the cube CRS, and, for the Earth Search offset
rule, COGs whose every DN this file wrote itself. Nothing is compared with
another output of ``build_cube``.

The default region (11.95-12.05 E) straddles the 12 E boundary of UTM zones
32 and 33; its centroid lies on 12 E, so the default cube is in EPSG:32633 and
the zone-32 Sentinel-2 tile (and every Sentinel-1 scene, gridded in
EPSG:32632 with origins off the 10 m lattice) is reprojected into it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from pyproj import CRS, Transformer
from scipy import ndimage
from shapely.geometry import box, mapping

from geomm.aoi import Aoi, aoi_from_geojson, read_aoi, transform_geometry
from geomm.cube import CubeConfig, PairingRule, build_cube, open_cube, write_cube
from geomm.sample import GroundTruth, SyntheticConfig, generate_synthetic_region
from geomm.sample._synthetic_layout import build_layout
from geomm.stac import S2_BANDS, CatalogSource, load_profile, search

REGION = (11.95, 48.00, 12.05, 48.05)
DATES = ("2024-06-01", "2024-07-31")
CLEAN = SyntheticConfig(speckle=False, clouds=False)
DATA = Path(__file__).resolve().parents[1] / "data" / "stac" / "earth-search"
SAMPLE_AOI = Path(__file__).resolve().parents[2] / "catalogs" / "sample" / "aoi.geojson"

# Class table (docs/sample-catalog.md): ids 1 water, 2 dry grassland, 3 flooded
# vegetation, 4 forest, 5 smooth bare soil, 6 rough bare soil, 7 cropland,
# 8 urban, 9 bright sand.
#
# SAR-separable groups, (VV, VH) dB: grassland (-11, -18), cropland
# (-10.5, -17.5) and rough soil (-9, -17) lie within 2.3 dB of each other, and
# smooth soil (-18, -26) and sand (-19, -27) within 1.4 dB: C-band alone does
# not tell those apart once speckled. Every other pair is >= 3 dB apart.
SAR_GROUPS = {1: 0, 2: 1, 7: 1, 6: 1, 3: 2, 4: 3, 5: 4, 9: 4, 8: 5}
# Optically separable groups: smooth and rough soil share one spectrum;
# flooded vegetation is a wet meadow, within 0.03 reflectance of grassland in
# every band.
OPTICAL_GROUPS = {1: 0, 2: 1, 3: 1, 4: 2, 5: 3, 6: 3, 7: 4, 8: 5, 9: 6}
S2_10M = ("B02", "B03", "B04", "B08")


# --------------------------------------------------------------------------- helpers


def lonlat_box(west: float, south: float, east: float, north: float) -> Aoi:
    return aoi_from_geojson(mapping(box(west, south, east, north)))


def utm_box_aoi(bounds: tuple[float, float, float, float], crs: str) -> Aoi:
    """A lon/lat AOI from a box in a projected CRS (densified, so its edges stay inside)."""
    return aoi_from_geojson(
        mapping(transform_geometry(box(*bounds).segmentize(50.0), crs, "EPSG:4326"))
    )


@dataclass
class Geo:
    """Truth evaluated at the pixel centres of a cube."""

    crs: str
    x: np.ndarray  # (y, x) easting of pixel centres, cube CRS
    y: np.ndarray  # (y, x) northing
    lon: np.ndarray
    lat: np.ndarray
    cls: np.ndarray  # truth class at the centre
    border_px: np.ndarray  # distance (pixels) to the nearest pixel on a class border
    near_target: np.ndarray  # within 50 m of a point target (its spot reaches 30 m)

    def pure(self, truth: GroundTruth, half: float) -> np.ndarray:
        """Pixels whose (2*half)-metre square around the centre lies in one parcel.

        Parcels are Voronoi cells, convex: the square lies in the centre's cell
        when its four corners have the same nearest seed as the centre (same
        *seed*, not just same class: a thin cell of another class may cross
        between two cells of one class). The river is not convex (a 40 m band,
        measured along y, around a sum of sines; under 30 m across where it is
        steep), so pixels are also kept away from it by the render code's bound,
        vertical gap > radius x (1 + slope), with 2 % slack for the cube CRS
        being another UTM zone.
        """
        xr_, yr_ = truth.to_ref(self.x, self.y, self.crs)
        seed = truth.nearest_seeds(xr_, yr_)[1][:, 0]
        same = np.ones(self.cls.size, dtype=bool)
        for dx in (-half, half):
            for dy in (-half, half):
                xc, yc = truth.to_ref(self.x + dx, self.y + dy, self.crs)
                same &= truth.nearest_seeds(xc, yc)[1][:, 0] == seed
        same = same.reshape(self.cls.shape)
        if truth.river is not None:
            reach = half * math.sqrt(2.0) * 1.02 * (1.0 + truth.river.slope_bound)
            gap = truth.river.signed_gap(xr_, yr_)
            same &= (gap > reach) | (gap < -reach)
        return same


def geo_of(ds: xr.Dataset, truth: GroundTruth) -> Geo:
    crs = ds.attrs["crs"]
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    cls = truth.classes_at(x, y, crs)
    edge = np.zeros(cls.shape, dtype=bool)
    dx = cls[:, 1:] != cls[:, :-1]
    dy = cls[1:, :] != cls[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    to_cube = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    near = np.zeros(cls.shape, dtype=bool)
    for lon_t, lat_t in truth.point_targets:
        tx, ty = to_cube.transform(lon_t, lat_t)
        near |= np.hypot(x - tx, y - ty) < 50.0
    return Geo(crs, x, y, lon, lat, cls, ndimage.distance_transform_edt(~edge), near)


def nearest_class(values: np.ndarray, table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Class id whose table row is nearest (Euclidean) to each pixel: values (B, H, W)."""
    d = ((np.moveaxis(values, 0, -1)[..., None, :] - table) ** 2).sum(-1)
    return ids[np.argmin(d, axis=-1)]


def group_lut(groups: dict[int, int]) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    for cid, g in groups.items():
        lut[cid] = g
    return lut


def _upsampled_dft(data: np.ndarray, region: int, factor: int, offsets: np.ndarray) -> np.ndarray:
    """Inverse DFT of ``data`` on a ``region``-square grid ``factor`` x finer, near ``offsets``."""
    out = data
    for ax in (1, 0):
        n = data.shape[ax]
        freqs = np.fft.ifftshift(np.arange(n)) - n // 2
        kernel = np.exp(
            -2j * np.pi / (n * factor) * (np.arange(region)[:, None] - offsets[ax]) * freqs[None, :]
        )
        out = np.moveaxis(np.tensordot(kernel, out, axes=(1, ax)), 0, ax)
    return out


def xcorr_shift(ref: np.ndarray, mov: np.ndarray, factor: int = 100) -> np.ndarray:
    """(dy, dx) in pixels that registers ``mov`` onto ``ref`` (Guizar-Sicairos 2008).

    Cross-correlation peak from the FFT, refined by a matrix-multiply DFT
    upsampled ``factor`` times in a 1.5-pixel neighbourhood. The cross-power
    spectrum is *not* whitened: whitening (pure phase correlation) lets the
    high-frequency noise of resampling and speckle bias the sub-pixel peak.
    """
    cross = np.fft.fft2(ref) * np.conj(np.fft.fft2(mov))
    cc = np.fft.ifft2(cross)
    peak = np.array(np.unravel_index(np.argmax(np.abs(cc)), cc.shape), dtype=float)
    shape = np.array(cc.shape)
    peak[peak > shape // 2] -= shape[peak > shape // 2]
    region = math.ceil(1.5 * factor)
    centre = region // 2
    shift = np.round(peak * factor) / factor
    up = _upsampled_dft(np.conj(cross), region, factor, centre - shift * factor).conj()
    fine = np.array(np.unravel_index(np.argmax(np.abs(up)), up.shape), dtype=float)
    return shift + (fine - centre) / factor


def fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``image`` moved by (dy, dx) pixels (content moves down/right for positive values)."""
    ky = np.fft.fftfreq(image.shape[0])[:, None]
    kx = np.fft.fftfreq(image.shape[1])[None, :]
    phase = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    return np.fft.ifft2(np.fft.fft2(image) * phase).real


def centroid_offset(
    image: np.ndarray, xs: np.ndarray, ys: np.ndarray, row: int, col: int, tx: float, ty: float
) -> tuple[float, float]:
    """Intensity-weighted centroid minus (tx, ty), in pixels, around (row, col).

    Background: median of the ring 5-6 px out (the spot is exactly zero beyond
    30 m); weights: background-subtracted values, clipped at 0, within 3 px.
    """
    r = 6
    win = image[row - r : row + r + 1, col - r : col + r + 1].astype(np.float64)
    jj, ii = np.mgrid[-r : r + 1, -r : r + 1]
    cheb = np.maximum(np.abs(jj), np.abs(ii))
    weights = np.clip(win - np.median(win[cheb >= 5]), 0.0, None) * (cheb <= 3)
    assert weights.sum() > 0, "no spot found"
    cx = (weights * xs[None, col - r : col + r + 1]).sum() / weights.sum()
    cy = (weights * ys[row - r : row + r + 1, None]).sum() / weights.sum()
    return (cx - tx) / 10.0, (cy - ty) / 10.0


def truth_dn(truth: GroundTruth, cls: np.ndarray, band: str) -> np.ndarray:
    """Expected cube DN of a pure pixel: reflectance x 10000, offset removed."""
    j = S2_BANDS.index(band)
    lut = np.zeros(256)
    for cid in truth.class_ids:
        lut[cid] = np.rint(10000.0 * truth.reflectance(cid)[j])
    return lut[cls]


def truth_db(truth: GroundTruth, cls: np.ndarray, pol: int) -> np.ndarray:
    lut = np.full(256, np.nan)
    for cid in truth.class_ids:
        lut[cid] = 10.0 * np.log10(truth.gamma0_linear(cid)[pol])
    return lut[cls]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cube-acceptance") / "clean"
    generate_synthetic_region(folder, CLEAN)
    return folder


@pytest.fixture(scope="module")
def clean_source(clean_dir: Path) -> CatalogSource:
    # The generated root catalog names no profile: say it is the sample one.
    return CatalogSource(profile=load_profile("sample"), path=clean_dir / "catalog.json")


@pytest.fixture(scope="module")
def clean_truth(clean_dir: Path) -> GroundTruth:
    return GroundTruth.load(clean_dir)


@pytest.fixture(scope="module")
def clean_cube(clean_source: CatalogSource) -> xr.Dataset:
    """Noise-free, cloud-free region, whole default bounds, default config; computed once."""
    aoi = lonlat_box(*REGION)
    found = search(clean_source, aoi=aoi, start=DATES[0], end=DATES[1])
    return build_cube(found.items, aoi=aoi, profile=found.source.profile).load()


@pytest.fixture(scope="module")
def clean_geo(clean_cube: xr.Dataset, clean_truth: GroundTruth) -> Geo:
    return geo_of(clean_cube, clean_truth)


@pytest.fixture(scope="module")
def speckle_truth(sample_catalog: Path) -> GroundTruth:
    return GroundTruth.load(sample_catalog.parent / "synthetic")


@pytest.fixture(scope="module")
def speckle_cube(sample_catalog: Path) -> xr.Dataset:
    """The bundled sample (speckle and clouds on), whole region; computed once."""
    aoi = lonlat_box(*REGION)
    found = search(
        str(sample_catalog),
        aoi=aoi,
        start=DATES[0],
        end=DATES[1],
        collections=["synthetic-s2-l2a", "synthetic-s1-rtc"],
    )
    return build_cube(found.items, aoi=aoi, profile=found.source.profile).load()


@pytest.fixture(scope="module")
def seam_cubes(clean_source: CatalogSource) -> dict[str, tuple[xr.Dataset, xr.Dataset]]:
    """The demo AOI (11.97-12.03 E, across 12 E) in its default CRS and in EPSG:32632.

    Returns {requested CRS: (lazy cube, computed cube)}.
    """
    aoi = read_aoi(SAMPLE_AOI)
    found = search(clean_source, aoi=aoi, start=DATES[0], end=DATES[1])
    out = {}
    for crs in ("default", "EPSG:32632"):
        config = CubeConfig(crs=None if crs == "default" else crs)
        lazy = build_cube(found.items, aoi=aoi, profile=found.source.profile, config=config)
        out[crs] = (lazy, lazy.load())
    return out


# --------------------------------------------------------------------------- 1. alignment


def test_class_maps_from_s1_and_s2_match_truth_in_both_zones(
    clean_cube: xr.Dataset, clean_geo: Geo, clean_truth: GroundTruth
) -> None:
    ds, geo, truth = clean_cube, clean_geo, clean_truth
    assert ds.attrs["crs"] == "EPSG:32633"  # centroid on 12 E: the zone-32 tile is reprojected
    ids = truth.class_ids
    gamma_db = np.array([truth.gamma0_db(c) for c in ids])
    spectra = np.array([truth.reflectance(c) for c in ids])
    sar, opt = group_lut(SAR_GROUPS), group_lut(OPTICAL_GROUPS)
    interior = (geo.border_px > 2) & ~geo.near_target
    west = geo.lon < 12.0
    report = {}
    for t in range(ds.sizes["time"]):
        s1 = ds.s1.isel(time=t).values
        s2 = ds.s2.isel(time=t).values
        valid1 = np.isfinite(s1).all(0)
        valid2 = (s2 > 0).all(0)
        # clouds off: every valid S2 pixel is clear
        assert (ds.clear.isel(time=t).values == valid2).all()
        from_s1 = nearest_class(s1, gamma_db, ids)
        from_s2 = nearest_class(s2 / 10000.0, spectra, ids)
        for zone, in_zone in (("zone32", west), ("zone33", ~west)):
            for name, pred, valid, groups in (
                ("S1", from_s1, valid1, sar),
                ("S2", from_s2, valid2, opt),
            ):
                m = interior & valid & in_zone
                assert m.sum() > 50_000, (t, zone, name, int(m.sum()))
                agree = float((groups[pred[m]] == groups[geo.cls[m]]).mean())
                report[(t, zone, name)] = agree
    print("class agreement at pixels > 2 px from a border:", report)
    bad = {k: v for k, v in report.items() if v < 0.98}
    assert not bad, bad


# --------------------------------------------------------------------------- 2. sub-pixel shift


def test_s1_and_s2_are_coregistered_to_a_fifth_of_a_pixel(
    speckle_cube: xr.Dataset, speckle_truth: GroundTruth
) -> None:
    """Cross-correlate S1 VV dB with a VV image predicted from the S2 class map.

    S2 -> nearest class spectrum -> that optical group's mean VV dB is a picture
    of the class boundaries in S1's units; the speckled S1 VV dB is correlated
    with it. The same prediction from the truth class map checks the method
    (S2 vs truth ~ 0), and a known shift injected into S1 must be recovered.
    """
    ds, truth = speckle_cube, speckle_truth
    ids = truth.class_ids
    spectra = np.array([truth.reflectance(c) for c in ids])
    groups = group_lut(OPTICAL_GROUPS)
    vv = {c: truth.gamma0_db(c)[0] for c in ids}
    group_vv = {
        g: np.mean([vv[c] for c in ids if OPTICAL_GROUPS[c] == g])
        for g in set(OPTICAL_GROUPS.values())
    }
    pred_vv = np.zeros(256)
    for c in ids:
        pred_vv[c] = group_vv[groups[c]]
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    truth_cls = truth.classes_at(x, y, ds.attrs["crs"])
    inject = np.array([0.3, -0.25])
    shifts = {}
    for t in range(ds.sizes["time"]):
        s2 = ds.s2.isel(time=t).values
        s1_vv = ds.s1.sel(s1_band="VV").isel(time=t).values
        ok = (s2 > 0).all(0) & np.isfinite(s1_vv) & ds.clear.isel(time=t).values
        rows, cols = np.flatnonzero(ok.any(1)), np.flatnonzero(ok.any(0))
        win = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        m = ok[win]
        assert m.sum() > 200_000
        taper = np.outer(np.hanning(m.shape[0]), np.hanning(m.shape[1]))

        def prep(image: np.ndarray, m: np.ndarray = m, taper: np.ndarray = taper) -> np.ndarray:
            centred = image - image[m].mean()
            return np.where(m, centred, 0.0) * taper

        from_s2 = prep(pred_vv[nearest_class(s2 / 10000.0, spectra, ids)][win])
        from_truth = prep(pred_vv[truth_cls][win])
        s1_img = np.where(m, s1_vv[win], s1_vv[win][m].mean())
        s1_vs_s2 = xcorr_shift(from_s2, prep(s1_img))
        s2_vs_truth = xcorr_shift(from_truth, from_s2)
        injected = xcorr_shift(from_s2, prep(fourier_shift(s1_img, *inject)))
        shifts[t] = (s1_vs_s2, s2_vs_truth)
        # the method sees a known 0.3 / 0.25 px shift (mask edges do not pin it to 0)
        np.testing.assert_allclose(injected, s1_vs_s2 - inject, atol=0.05)
        assert np.abs(s2_vs_truth).max() < 0.1, (t, s2_vs_truth)
        assert np.abs(s1_vs_s2).max() < 0.2, (t, s1_vs_s2)
    print("(dy, dx) px, S1 vs S2 and S2 vs truth:", shifts)


# --------------------------------------------------------------------------- 3. point targets


@pytest.mark.parametrize("which", ["clean", "speckle"])
def test_point_targets_within_half_a_pixel(which: str, request: pytest.FixtureRequest) -> None:
    ds: xr.Dataset = request.getfixturevalue(f"{which}_cube")
    truth: GroundTruth = request.getfixturevalue(f"{which}_truth")
    xs, ys = ds.x.values, ds.y.values
    to_cube = Transformer.from_crs("EPSG:4326", ds.attrs["crs"], always_xy=True)
    inside = []
    for lon, lat in truth.point_targets:
        tx, ty = to_cube.transform(lon, lat)
        if xs[0] - 5 <= tx <= xs[-1] + 5 and ys[-1] - 5 <= ty <= ys[0] + 5:
            inside.append((tx, ty))
    assert len(inside) == len(truth.targets) == 4
    errors = []
    for t in range(ds.sizes["time"]):
        b08 = ds.s2.sel(s2_band="B08").isel(time=t).values
        vv = 10.0 ** (ds.s1.sel(s1_band="VV").isel(time=t).values.astype(np.float64) / 10.0)
        clear = ds.clear.isel(time=t).values
        for tx, ty in inside:
            col = int(np.floor((tx - (xs[0] - 5.0)) / 10.0))
            row = int(np.floor(((ys[0] + 5.0) - ty) / 10.0))
            assert np.isfinite(vv[row - 6 : row + 7, col - 6 : col + 7]).all()
            images = [("S1", vv)]
            if clear[row - 6 : row + 7, col - 6 : col + 7].all():  # clouds: S2 when clear
                images.append(("S2", b08))
            else:
                assert which == "speckle"
            for name, image in images:
                ex, ey = centroid_offset(image, xs, ys, row, col, tx, ty)
                errors.append((t, name, round(float(ex), 3), round(float(ey), 3)))
    print(which, "target centroid - truth (px):", errors)
    assert sum(name == "S2" for _, name, _, _ in errors) >= 12
    worst = max(math.hypot(ex, ey) for _, _, ex, ey in errors)
    assert worst < 0.5, errors


# --------------------------------------------------------------------------- 4. zone seam


@pytest.mark.parametrize("crs", ["default", "EPSG:32632"])
def test_no_seam_along_the_zone_boundary(
    crs: str,
    seam_cubes: dict[str, tuple[xr.Dataset, xr.Dataset]],
    clean_truth: GroundTruth,
) -> None:
    import rioxarray  # noqa: F401 - .rio accessor

    ds = seam_cubes[crs][1]
    expected = "EPSG:32633" if crs == "default" else crs
    assert ds.attrs["crs"] == expected
    assert ds.rio.crs == CRS.from_user_input(expected)
    geo = geo_of(ds, clean_truth)
    # x of 12 E at each pixel's latitude, in the cube CRS
    to_cube = Transformer.from_crs("EPSG:4326", ds.attrs["crs"], always_xy=True)
    boundary_x, _ = to_cube.transform(np.full(geo.lat.shape, 12.0), geo.lat)
    band = np.abs(geo.x - boundary_x) <= 300.0
    # union of the two S2 tiles' grids, 15 m inside their edges
    covered = np.zeros(geo.x.shape, dtype=bool)
    for tile in clean_truth.meta["s2_tiles"]:
        tx, ty = Transformer.from_crs(ds.attrs["crs"], tile["crs"], always_xy=True).transform(
            geo.x, geo.y
        )
        a, (h, w) = tile["transform10"], tile["shape10"]
        covered |= (
            (tx > a[2] + 15)
            & (tx < a[2] + 10 * w - 15)
            & (ty < a[5] - 15)
            & (ty > a[5] - 10 * h + 15)
        )
    m = band & covered
    # every row of the cube crosses the boundary inside the tiles: a full-height strip
    assert m.any(axis=1).all() and m.sum() >= ds.sizes["y"] * 55
    pure = geo.pure(clean_truth, 20.0) & ~geo.near_target & m
    assert pure.sum() > 5_000
    b04_truth = truth_dn(clean_truth, geo.cls, "B04")
    vv_truth = truth_db(clean_truth, geo.cls, 0)
    for t in range(ds.sizes["time"]):
        s2 = ds.s2.isel(time=t).values
        s1 = ds.s1.isel(time=t).values
        assert (s2[:, m] > 0).all(), f"S2 nodata on the seam, time {t}"
        assert ds.clear.isel(time=t).values[m].all()
        assert np.isfinite(s1[:, m]).all(), f"S1 nodata on the seam, time {t}"
        # and the values across the seam are the truth's, not a smear or a shift
        b04 = s2[S2_BANDS.index("B04")].astype(np.float64)
        assert np.abs(b04[pure] - b04_truth[pure]).max() <= 1
        assert np.abs(s1[0][pure] - vv_truth[pure]).max() < 0.01


# --------------------------------------------------------------------------- 5. harmonization


def test_s2_10m_bands_equal_truth_reflectance(
    clean_cube: xr.Dataset, clean_geo: Geo, clean_truth: GroundTruth
) -> None:
    """DN = round(10000 x reflectance) at parcel-interior pixels: the +1000 removed once."""
    ds, geo, truth = clean_cube, clean_geo, clean_truth
    # +-20 m: the pixel and every source pixel bilinear resampling may draw on
    pure = geo.pure(truth, 20.0) & ~geo.near_target
    west = geo.lon < 12.0
    worst = {}
    for band in S2_10M:
        expected = truth_dn(truth, geo.cls, band)
        for t in range(ds.sizes["time"]):
            cube = ds.s2.sel(s2_band=band).isel(time=t).values.astype(np.float64)
            for zone, in_zone in (("zone32-reprojected", west), ("zone33-native", ~west)):
                m = pure & in_zone & (cube > 0)
                assert m.sum() > 20_000, (band, t, zone)
                err = np.abs(cube[m] - expected[m]).max()
                worst[(zone, band)] = max(worst.get((zone, band), 0), err)
    print("max |DN - round(1e4 r)|:", worst)
    assert max(worst.values()) <= 1


ES_10M = ("blue", "green", "red", "nir")
ES_COARSE = ("coastal", "rededge1", "rededge2", "rededge3", "nir08", "nir09", "swir16", "swir22")


def _localize(item_json: Path, folder: Path) -> tuple[pystac.Item, str, np.ndarray, dict, Aoi]:
    """A real Earth Search item, its band hrefs pointed at tiny local COGs.

    The COGs sit at the item's real ``proj:transform`` origin, but cover only
    2400 m x 2400 m (240 px at 10 m), so the item's ``proj:shape``, geometry
    and bbox are rewritten to that box; every other field is kept as published
    (notably ``raster:bands`` offset -0.1 and, where present,
    ``earthsearch:boa_offset_applied``). Returns the item, the 10 m DN array,
    the CRS, the 10 m DN array, the constant DN of each coarse band, and an AOI
    one chip (1200 m) inside the box.
    """
    doc = json.loads(item_json.read_text())
    crs = f"EPSG:{doc['properties']['proj:epsg']}"
    x0, y0 = doc["assets"]["red"]["proj:transform"][2], doc["assets"]["red"]["proj:transform"][5]
    size_m = 2400.0
    rows, cols = np.mgrid[0:240, 0:240]
    dn10 = (1001 + (7 * rows + 13 * cols) % 5000).astype(np.uint16)
    # the chip used below starts at column 84 (and row 84 or 0): mark pixels inside it
    chip_r0 = round((y0 - math.floor(y0 / 1200.0) * 1200.0) / 10.0) % 120
    r0, c0 = chip_r0 + 10, 84 + 10
    dn10[r0 : r0 + 5, c0 : c0 + 5] = 500  # darker than the offset: clipped to 1, not nodata
    dn10[r0 + 10 : r0 + 15, c0 + 10 : c0 + 15] = 1000  # exactly the offset
    dn10[r0 + 20 : r0 + 25, c0 + 20 : c0 + 25] = 0  # nodata stays 0
    coarse = {key: 2000 + 37 * k for k, key in enumerate(ES_COARSE)}
    for key, asset in doc["assets"].items():
        if key not in (*ES_10M, *ES_COARSE, "scl"):
            continue
        res = float(asset["proj:transform"][0])
        n = round(size_m / res)
        if key in ES_10M:
            data = dn10 + np.uint16(ES_10M.index(key))  # distinct per band, 0 stays 0 below
            data[dn10 == 0] = 0
        elif key == "scl":
            data = np.full((n, n), 4, dtype=np.uint8)  # vegetation: clear
        else:
            data = np.full((n, n), coarse[key], dtype=np.uint16)
        path = folder / f"{key}.tif"
        with rasterio.open(
            path,
            "w",
            driver="COG",
            width=n,
            height=n,
            count=1,
            dtype=data.dtype.name,
            crs=crs,
            transform=rasterio.Affine(res, 0.0, x0, 0.0, -res, y0),
            nodata=0,
            blocksize=256,
        ) as dst:
            dst.write(data, 1)
        asset["href"] = str(path)
        asset["proj:shape"] = [n, n]
    footprint = transform_geometry(
        box(x0, y0 - size_m, x0 + size_m, y0).segmentize(100.0), crs, "EPSG:4326"
    )
    doc["geometry"] = mapping(footprint)
    doc["bbox"] = list(footprint.bounds)
    doc["links"] = [link for link in doc["links"] if link["rel"] != "self"]
    item = pystac.Item.from_dict(doc)
    # one whole chip of the cube grid inside the COGs, shrunk 15 m so the grid is that chip
    cx0 = math.ceil(x0 / 1200.0) * 1200.0
    cy1 = math.floor(y0 / 1200.0) * 1200.0
    aoi = utm_box_aoi((cx0 + 15, cy1 - 1200 + 15, cx0 + 1200 - 15, cy1 - 15), crs)
    return item, crs, dn10, coarse, aoi


@pytest.mark.parametrize(
    ("item_json", "removed"),
    [
        # boa_offset_applied: true (reprocessed, baseline 05.00): pixels are final
        (DATA / "sentinel-2-l2a" / "S2A_32TMT_20200305_1_L2A.json", 0),
        # collection 1 (baseline 05.10): offset -0.1 declared, pixels carry +1000
        (DATA / "sentinel-2-c1-l2a" / "S2A_T13TDE_20240422T174753_L2A.json", 1000),
    ],
    ids=["earth-search-l2a-offset-applied", "earth-search-c1-l2a"],
)
def test_earth_search_offset_removed_exactly_once(
    item_json: Path, removed: int, tmp_path: Path
) -> None:
    item, crs, dn10, coarse, aoi = _localize(item_json, tmp_path)
    profile = load_profile("earth-search")
    # both items advertise raster offset -0.1; only the flag tells them apart
    assert item.assets["red"].extra_fields["raster:bands"][0]["offset"] == -0.1
    config = CubeConfig(pairing=PairingRule(keep_unpaired=True))
    ds = build_cube([item], aoi=aoi, profile=profile, config=config).load()
    assert ds.attrs["crs"] == crs
    assert ds.sizes["y"] == ds.sizes["x"] == 120  # exactly one chip
    x0, y0 = item.assets["red"].extra_fields["proj:transform"][2:6:3]
    c0 = round((ds.x.values[0] - 5.0 - x0) / 10.0)
    r0 = round((y0 - (ds.y.values[0] + 5.0)) / 10.0)
    src = dn10[r0 : r0 + 120, c0 : c0 + 120].astype(np.int64)
    for k, band in enumerate(S2_10M):  # blue, green, red, nir: DN + k
        raw = np.where(src == 0, 0, src + k)
        expected = np.where(raw == 0, 0, np.clip(raw - removed, 1, None))
        cube = ds.s2.sel(s2_band=band).isel(time=0).values
        np.testing.assert_array_equal(cube, expected, err_msg=band)
    for key, band in zip(
        ES_COARSE, ("B01", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"), strict=True
    ):
        cube = ds.s2.sel(s2_band=band).isel(time=0).values
        assert (cube == coarse[key] - removed).all(), band
    # the marked pixels are in the chip: below-offset, at-offset and nodata cases were met
    assert (src == 500).sum() == 25 and (src == 1000).sum() == 25 and (src == 0).sum() == 25
    clear = ds.clear.isel(time=0).values
    np.testing.assert_array_equal(clear, src != 0)
    assert np.isnan(ds.s1.values).all()  # no S1 partner: kept unpaired


# --------------------------------------------------------------------------- 6. S1 dB


def test_s1_db_equals_truth_gamma0_and_nodata_is_nan(
    clean_cube: xr.Dataset, clean_geo: Geo, clean_truth: GroundTruth
) -> None:
    ds, geo, truth = clean_cube, clean_geo, clean_truth
    assert ds.s1.dtype == np.float32
    pure = geo.pure(truth, 20.0) & ~geo.near_target
    worst = 0.0
    for t in range(ds.sizes["time"]):
        for p in (0, 1):
            cube = ds.s1.isel(time=t, s1_band=p).values
            expected = truth_db(truth, geo.cls, p)
            m = pure & np.isfinite(cube)
            assert m.sum() > 100_000
            worst = max(worst, float(np.abs(cube[m] - expected[m]).max()))
    print("max |s1 - 10 log10 gamma0| (dB):", worst)
    assert worst < 0.01

    # The swath edge: which cube time holds the S1 scene that has one?
    layout = build_layout(CLEAN)
    edged = [s for s in layout.s1_scenes if s.swath_edge is not None]
    assert len(edged) == 1
    scene = edged[0]
    s1_times = ds.s1_time.values.astype("datetime64[s]")
    hit = [
        t for t, v in enumerate(s1_times) if v == np.datetime64(scene.datetime.replace(tzinfo=None))
    ]
    assert hit, "the scene with a swath edge is paired with some S2 date"
    xr_, yr_ = truth.to_ref(geo.x, geo.y, geo.crs)
    gx0, gy0 = scene.grid.x0, scene.grid.y0
    gx1, gy1 = gx0 + scene.grid.width * 10.0, gy0 - scene.grid.height * 10.0
    in_grid = (xr_ > gx0 + 20) & (xr_ < gx1 - 20) & (yr_ < gy0 - 20) & (yr_ > gy1 + 20)
    off_swath = in_grid & ~scene.valid_at(xr_ + 20.0, yr_)  # >= 20 m outside the swath
    on_swath = in_grid & scene.valid_at(xr_ - 20.0, yr_)  # >= 20 m inside
    assert off_swath.sum() > 10_000
    for t in hit:
        cube = ds.s1.isel(time=t).values
        assert np.isnan(cube[:, off_swath]).all()
        assert np.isfinite(cube[:, on_swath]).all()
    assert not np.isinf(ds.s1.values).any()


def test_no_infinite_db_with_speckle(speckle_cube: xr.Dataset) -> None:
    s1 = speckle_cube.s1.values
    assert not np.isinf(s1).any()
    assert np.isfinite(s1).mean() > 0.5


# --------------------------------------------------------------------------- 7. CRS round trip


def test_zarr_round_trip_keeps_crs_and_values(
    seam_cubes: dict[str, tuple[xr.Dataset, xr.Dataset]], tmp_path: Path
) -> None:
    import rioxarray  # noqa: F401 - .rio accessor

    lazy, computed = seam_cubes["default"]
    lazy = lazy.chunk({"y": 240, "x": 240})  # 2-chip blocks: several region writes
    path = tmp_path / "cube.zarr"
    report = write_cube(lazy, path)
    assert report.blocks_written == report.blocks_total > 1
    plain = xr.open_zarr(path, decode_coords="all", consolidated=False)
    assert plain.rio.crs == CRS.from_user_input(computed.attrs["crs"]) == computed.rio.crs
    opened = open_cube(path)
    assert opened.rio.crs == computed.rio.crs
    for name in computed.data_vars:
        # CF decoding moves ``grid_mapping`` from attrs to encoding on the way back
        back = opened[name].load()
        if "grid_mapping" in computed[name].attrs:
            assert back.encoding.get("grid_mapping") == computed[name].attrs["grid_mapping"]
            back.attrs["grid_mapping"] = computed[name].attrs["grid_mapping"]
        xr.testing.assert_identical(back, computed[name])
    np.testing.assert_array_equal(opened.x.values, computed.x.values)
    np.testing.assert_array_equal(opened.y.values, computed.y.values)
