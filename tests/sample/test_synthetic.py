"""The synthetic S1/S2 region: values checked against the ground truth, not shapes.

Expected values are computed here from ``GroundTruth.classes_at`` at points
this file chooses itself (footprint sub-samples, corners), never from the
generator's own class counts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from shapely.geometry import Point, shape

from geomm.errors import SampleDataError
from geomm.sample import _synthetic_io
from geomm.sample._synthetic import GroundTruth, SyntheticConfig, generate_synthetic_region
from geomm.testing import assert_valid_cog, assert_valid_stac

S2 = "synthetic-s2-l2a"
S1 = "synthetic-s1-rtc"
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
SMALL = SyntheticConfig(bounds=(11.985, 48.010, 12.015, 48.025), n_point_targets=2)
CLEAN = replace(SMALL, speckle=False, clouds=False)


# --- fixtures and helpers --------------------------------------------------
@pytest.fixture(scope="module")
def default_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "region"
    cat = generate_synthetic_region(out)
    assert cat == out / "catalog.json"
    return out


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "region"
    generate_synthetic_region(out, CLEAN)
    return out


@pytest.fixture(scope="module")
def truth(default_dir: Path) -> GroundTruth:
    return GroundTruth.load(default_dir)


def items(root: Path, collection: str) -> list[tuple[dict, Path]]:
    out = []
    for p in sorted((root / collection).glob("*/*.json")):
        out.append((json.loads(p.read_text()), p.parent))
    return out


def read(path: Path) -> tuple[np.ndarray, rasterio.Affine, str, float]:
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs.to_string(), src.nodata


def footprint_classes(truth: GroundTruth, tr, crs: str, rows, cols, n: int):
    """Classes at n x n sub-sample centres (as the sensor model) and on the pixel edges.

    Returns (subs (P, n*n), edges (P, m)) where edges holds corners and edge points.
    """
    rows, cols = np.asarray(rows), np.asarray(cols)
    res, x0, y0 = tr.a, tr.c, tr.f
    f = (np.arange(n) + 0.5) / n
    xs = x0 + (cols[:, None] + f[None, :]) * res
    ys = y0 - (rows[:, None] + f[None, :]) * res
    subs = truth.classes_at(xs[:, None, :], ys[:, :, None], crs).reshape(len(rows), -1)
    e = np.linspace(0.0, 1.0, 9)
    ex = np.concatenate([e, np.ones(9), e, np.zeros(9)])
    ey = np.concatenate([np.zeros(9), e, np.ones(9), e])
    edges = truth.classes_at(x0 + (cols[:, None] + ex) * res, y0 - (rows[:, None] + ey) * res, crs)
    return subs, edges


def pure_mask(subs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    allc = np.concatenate([subs, edges], axis=1)
    return np.all(allc == allc[:, :1], axis=1)


def away_from_targets(truth: GroundTruth, tr, crs: str, rows, cols, dist: float) -> np.ndarray:
    x = tr.c + (np.asarray(cols) + 0.5) * tr.a
    y = tr.f - (np.asarray(rows) + 0.5) * tr.a
    xr, yr = truth.to_ref(x, y, crs)
    ok = np.ones(len(x), dtype=bool)
    for tx, ty in truth.point_targets_ref:
        ok &= np.hypot(xr - tx, yr - ty) > dist
    return ok


def tables(truth: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    refl = np.array([truth.reflectance(c.id) for c in truth.classes])
    g0 = np.array([truth.gamma0_linear(c.id) for c in truth.classes])
    return refl, g0


def hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def to_pixel(tr, crs: str, lon: float, lat: float) -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    col, row = ~tr @ (x, y)
    return col, row


# --- 1. determinism and atomic output -------------------------------------
def test_same_config_gives_byte_identical_files(tmp_path: Path) -> None:
    a = generate_synthetic_region(tmp_path / "a" / "region", SMALL).parent
    b = generate_synthetic_region(tmp_path / "b" / "region", SMALL).parent
    ha, hb = hash_tree(a), hash_tree(b)
    assert len(ha) > 20
    assert ha == hb
    # nothing left next to the output (no temp folders, no stray catalog)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["region"]
    text = "".join((a / k).read_text() for k in ha if k.endswith(".json"))
    assert str(tmp_path) not in text  # relative hrefs only
    assert '"created"' not in text and '"updated"' not in text


def test_interrupted_generation_leaves_no_output(tmp_path: Path, monkeypatch) -> None:
    real = _synthetic_io.write_cog
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 7:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(_synthetic_io, "write_cog", flaky)
    out = tmp_path / "region"
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate_synthetic_region(out, SMALL)
    assert calls["n"] == 8
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "region"
    out.mkdir()
    with pytest.raises(SampleDataError, match="exists"):
        generate_synthetic_region(out, SMALL)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bounds": (11.0, 48.0, 11.5, 48.1)}, "straddle"),
        ({"bounds": (12.05, 48.0, 11.95, 48.1)}, "W < E"),
        ({"s1_dates": ("2024-06-03T05:35:12Z",)}, "share days"),
        ({"cloudy_dates": (7,)}, "cloudy_dates"),
        ({"s2_dates": ("yesterday",)}, "ISO 8601"),
        ({"parcel_size_m": 1.0}, "parcel_size_m"),
    ],
)
def test_bad_config_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(SampleDataError, match=match):
        SyntheticConfig(**kwargs)


# --- 2. STAC and COG validity, extension fields -----------------------------
def test_every_document_and_cog_is_valid(default_dir: Path) -> None:
    docs = [default_dir / "catalog.json", *sorted(default_dir.glob("*/collection.json"))]
    docs += sorted(default_dir.glob("synthetic-*/*/*.json"))
    assert len(docs) == 1 + 2 + 8 + 5
    for d in docs:
        assert_valid_stac(d)
    tifs = sorted(default_dir.rglob("*.tif"))
    assert len(tifs) == 8 * 13 + 5 * 2 + 1
    for t in tifs:
        assert_valid_cog(t)
    cat = json.loads((default_dir / "catalog.json").read_text())
    assert {link["href"] for link in cat["links"] if link["rel"] == "child"} == {
        f"./{S2}/collection.json",
        f"./{S1}/collection.json",
    }
    for c in (S2, S1):
        coll = json.loads((default_dir / c / "collection.json").read_text())
        assert coll["license"] == "CC0-1.0" and "SYNTHETIC" in coll["description"]
        bb = coll["extent"]["spatial"]["bbox"][0]
        for item, _ in items(default_dir, c):
            ib = item["bbox"]
            assert bb[0] <= ib[0] and bb[1] <= ib[1] and bb[2] >= ib[2] and bb[3] >= ib[3]


def test_s2_item_fields_match_the_files(default_dir: Path) -> None:
    s2 = items(default_dir, S2)
    assert len(s2) == 8
    for item, folder in s2:
        p = item["properties"]
        assert item["id"].startswith(("S2A_MSIL2A_", "S2B_MSIL2A_")) and item["id"].endswith(
            "_SYNTH"
        )
        assert p["s2:processing_baseline"] == "05.10"
        assert p["sat:orbit_state"] == "descending"
        assert p["constellation"] == "sentinel-2" and p["instruments"] == ["msi"]
        assert p["platform"] == {"S2A": "sentinel-2a", "S2B": "sentinel-2b"}[item["id"][:3]]
        assert p["grid:code"] == f"MGRS-{item['id'].split('_T')[1][:5]}"
        assert set(item["assets"]) == {*BANDS, "SCL"}
        for ext in ("eo/v1.1.0", "projection/v2.0.0", "raster/v1.1.0", "sat/v1.0.0", "grid/v1.1.0"):
            assert any(ext in uri for uri in item["stac_extensions"])
        for key, asset in item["assets"].items():
            arr, tr, crs, nodata = read(folder / asset["href"])
            assert crs == p["proj:code"]
            assert asset["proj:shape"] == list(arr.shape)
            assert asset["proj:transform"] == pytest.approx(list(tr)[:6])
            assert asset["proj:transform"][2] % 60 == 0 and asset["proj:transform"][5] % 60 == 0
            rb = asset["raster:bands"][0]
            assert rb["nodata"] == nodata == 0
            assert asset["gsd"] == rb["spatial_resolution"] == tr.a
            if key == "SCL":
                assert rb["data_type"] == arr.dtype.name == "uint8"
                assert asset["roles"] == ["data"] and "scale" not in rb
            else:
                assert rb["data_type"] == arr.dtype.name == "uint16"
                assert (rb["scale"], rb["offset"]) == (0.0001, -0.1)
                assert asset["roles"] == ["data", "reflectance"]
                assert asset["eo:bands"][0]["name"] == key
                assert asset["gsd"] == {
                    "B01": 60,
                    "B09": 60,
                    "B02": 10,
                    "B03": 10,
                    "B04": 10,
                    "B08": 10,
                }.get(key, 20)


def test_s1_item_fields_match_the_files(default_dir: Path) -> None:
    s1 = items(default_dir, S1)
    assert len(s1) == 5
    s2_days = {it["properties"]["datetime"][:10] for it, _ in items(default_dir, S2)}
    offsets = {}
    for item, folder in s1:
        p = item["properties"]
        assert item["id"].startswith("S1A_IW_GRDH_1SDV_") and item["id"].endswith("_rtc_SYNTH")
        assert p["datetime"][:10] not in s2_days
        assert p["sar:polarizations"] == ["VV", "VH"] and p["sar:instrument_mode"] == "IW"
        assert p["sar:product_type"] == "GRD" and p["sar:frequency_band"] == "C"
        assert p["sar:looks_equivalent_number"] == 4.4
        hour = int(p["datetime"][11:13])
        assert p["sat:orbit_state"] == ("descending" if hour < 12 else "ascending")
        assert (p["sat:absolute_orbit"] - 73) % 175 + 1 == p["sat:relative_orbit"]
        assert p["proj:code"] == "EPSG:32632"
        for key in ("vv", "vh"):
            arr, tr, crs, nodata = read(folder / item["assets"][key]["href"])
            assert arr.dtype == np.float32 and nodata == -32768 and crs == "EPSG:32632"
            assert item["assets"][key]["raster:bands"][0]["nodata"] == -32768
            assert p["proj:shape"] == list(arr.shape)
            assert p["proj:transform"] == pytest.approx([*list(tr)[:6], 0, 0, 1])
        x0, y0 = p["proj:transform"][2], p["proj:transform"][5]
        assert min(x0 % 10, 10 - x0 % 10) > 1 and min(y0 % 10, 10 - y0 % 10) > 1
        offsets.setdefault(p["sat:relative_orbit"], set()).add(
            (round(x0 % 10, 3), round(y0 % 10, 3))
        )
    assert len(offsets) == 2 and all(len(v) == 1 for v in offsets.values())
    assert len(set().union(*offsets.values())) == 2


def test_geometry_is_the_valid_footprint(default_dir: Path) -> None:
    rng = np.random.default_rng(1)
    n_nodata = 0
    for coll, key in ((S2, "B01"), (S1, "vv")):
        for item, folder in items(default_dir, coll):
            arr, tr, crs, nodata = read(folder / item["assets"][key]["href"])
            geom = shape(item["geometry"])
            assert geom.bounds == pytest.approx(item["bbox"])
            r = rng.integers(0, arr.shape[0], 400)
            c = rng.integers(0, arr.shape[1], 400)
            lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
                tr.c + (c + 0.5) * tr.a, tr.f - (r + 0.5) * tr.a
            )
            inside = np.array([geom.contains(Point(a, b)) for a, b in zip(lon, lat, strict=True)])
            valid = arr[r, c] != nodata
            np.testing.assert_array_equal(inside, valid)
            n_nodata += int((~valid).sum())
    assert n_nodata > 50  # the swath edges are really there


# --- 3. Sentinel-2 radiometry -------------------------------------------------
@pytest.mark.parametrize("band", ["B04", "B8A", "B09", "B11"])
def test_s2_pixels_are_footprint_means_of_the_truth(
    default_dir: Path, truth: GroundTruth, band: str
) -> None:
    refl, _ = tables(truth)
    b = BANDS.index(band)
    rng = np.random.default_rng(7)
    n_pure = 0
    tiles = set()
    for item, folder in items(default_dir, S2):
        if not item["id"].startswith("S2A_MSIL2A_20240603"):  # a clear date
            continue
        arr, tr, crs, _ = read(folder / f"{band}.tif")
        scl, _, _, _ = read(folder / "SCL.tif")
        assert not np.isin(scl, [3, 8, 9, 10]).any()
        n = round(tr.a / 2.5)
        k = {10: 1500, 20: 800, 60: 250}[round(tr.a)]
        rows, cols = rng.integers(0, arr.shape[0], k), rng.integers(0, arr.shape[1], k)
        keep = (arr[rows, cols] != 0) & away_from_targets(truth, tr, crs, rows, cols, 40 + tr.a)
        rows, cols = rows[keep], cols[keep]
        subs, edges = footprint_classes(truth, tr, crs, rows, cols, n)
        pure = pure_mask(subs, edges)
        dn = arr[rows, cols].astype(np.int64)
        # whole footprint in one parcel: exactly the class spectrum
        expected = np.round(10000 * refl[subs[pure, 0] - 1, b]).astype(np.int64) + 1000
        np.testing.assert_array_equal(dn[pure], expected)
        # mixed pixels: the mean over the 2.5 m sub-samples (+-1 DN for rounding order)
        mean = refl[subs[~pure] - 1, b].mean(axis=1)
        assert np.abs(dn[~pure] - (np.rint(mean * 10000) + 1000)).max() <= 1
        assert (~pure).sum() > 10
        n_pure += int(pure.sum())
        tiles.add(crs)
    assert tiles == {"EPSG:32632", "EPSG:32633"}
    assert n_pure > {"B04": 1000, "B8A": 400, "B09": 60, "B11": 400}[band]


def test_s2_nodata_corner_and_offset(default_dir: Path) -> None:
    for item, folder in items(default_dir, S2):
        b02, _, _, _ = read(folder / "B02.tif")
        b01, _, _, _ = read(folder / "B01.tif")
        scl, _, _, _ = read(folder / "SCL.tif")
        valid = b01 != 0
        # every resolution and SCL agree on the (60 m aligned) swath edge
        np.testing.assert_array_equal(np.repeat(np.repeat(valid, 6, 0), 6, 1), b02 != 0)
        np.testing.assert_array_equal(np.repeat(np.repeat(valid, 3, 0), 3, 1), scl != 0)
        if item["properties"]["proj:code"] == "EPSG:32633":
            assert 0.05 < 1 - valid.mean() < 0.2 and not valid[0, -1] and valid[-1, 0]
        else:
            assert valid.all()
        assert b02[b02 != 0].min() >= 1000  # BOA_ADD_OFFSET is in every reflectance


# --- 4. Sentinel-1 radiometry -------------------------------------------------
def test_s1_without_speckle_is_the_truth(clean_dir: Path) -> None:
    truth = GroundTruth.load(clean_dir)
    _, g0 = tables(truth)
    rng = np.random.default_rng(3)
    for _item, folder in items(clean_dir, S1):
        vv, tr, crs, _ = read(folder / "vv.tif")
        vh, _, _, _ = read(folder / "vh.tif")
        rows, cols = rng.integers(0, vv.shape[0], 3000), rng.integers(0, vv.shape[1], 3000)
        keep = (vv[rows, cols] != -32768) & away_from_targets(truth, tr, crs, rows, cols, 50)
        rows, cols = rows[keep], cols[keep]
        subs, edges = footprint_classes(truth, tr, crs, rows, cols, 4)
        pure = pure_mask(subs, edges)
        assert pure.sum() > 1000
        for j, arr in enumerate((vv, vh)):
            np.testing.assert_allclose(arr[rows, cols][pure], g0[subs[pure, 0] - 1, j], rtol=1e-6)
            np.testing.assert_allclose(
                arr[rows, cols][~pure], g0[subs[~pure] - 1, j].mean(axis=1), rtol=1e-6
            )


def test_s1_speckle_statistics(default_dir: Path, truth: GroundTruth) -> None:
    _, g0 = tables(truth)
    item, folder = next((i, f) for i, f in items(default_dir, S1) if "20240605" in i["id"])
    vv, tr, crs, _ = read(folder / "vv.tif")
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, vv.shape[0], 60000), rng.integers(0, vv.shape[1], 60000)
    keep = (vv[rows, cols] != -32768) & away_from_targets(truth, tr, crs, rows, cols, 50)
    rows, cols = rows[keep], cols[keep]
    subs, edges = footprint_classes(truth, tr, crs, rows, cols, 4)
    pure = pure_mask(subs, edges)
    ratio = vv[rows, cols][pure] / g0[subs[pure, 0] - 1, 0]
    n = ratio.size
    assert n > 20000
    # Gamma(L, 1/L) speckle: mean 1, variance/mean^2 = 1/L. The standard error of
    # the mean is sqrt(1/(L n)) (~0.3 % here) and of the sample variance
    # sqrt((2 + 6/L) / n) relative (~1.3 %), so 1.5 % and 5 % are > 4 sigma.
    assert abs(ratio.mean() - 1) < 0.015
    assert abs(ratio.var() / ratio.mean() ** 2 * 4.4 - 1) < 0.05
    # one large homogeneous parcel: its mean within a few % of the truth
    xr, yr = truth.to_ref(tr.c + (cols[pure] + 0.5) * 10, tr.f - (rows[pure] + 0.5) * 10, crs)
    _, idx = truth.nearest_seeds(xr, yr)
    big = np.bincount(idx[:, 0]).argmax()
    sx, sy = truth.seeds[big]
    c0, r0 = (int(v) for v in ~tr @ (sx - 600, sy + 600))
    rr, cc = np.mgrid[max(r0, 0) : r0 + 120, max(c0, 0) : c0 + 120]
    rr, cc = rr.ravel(), cc.ravel()
    ok = (rr < vv.shape[0]) & (cc < vv.shape[1])
    rr, cc = rr[ok], cc[ok]
    ok = (vv[rr, cc] != -32768) & away_from_targets(truth, tr, crs, rr, cc, 50)
    rr, cc = rr[ok], cc[ok]
    xr, yr = truth.to_ref(tr.c + (cc + 0.5) * 10, tr.f - (rr + 0.5) * 10, crs)
    _, idx = truth.nearest_seeds(xr, yr)
    rr, cc = rr[idx[:, 0] == big], cc[idx[:, 0] == big]
    subs, edges = footprint_classes(truth, tr, crs, rr, cc, 4)
    inner = pure_mask(subs, edges)
    vals = vv[rr, cc][inner]
    assert vals.size > 500
    cls = subs[inner, 0][0]
    # standard error sqrt(1/(4.4 n)) < 2.2 % for n > 500
    assert abs(vals.mean() / g0[cls - 1, 0] - 1) < 0.08


# --- 5. point targets ------------------------------------------------------
def centroid(arr: np.ndarray, col: float, row: float, background: float) -> tuple[float, float]:
    """Background-subtracted intensity-weighted centroid in a 5 x 5 window (pixel coordinates)."""
    c, r = int(np.floor(col)), int(np.floor(row))
    win = arr[r - 2 : r + 3, c - 2 : c + 3].astype(np.float64) - background
    assert win.shape == (5, 5)
    rr, cc = np.mgrid[r - 2 : r + 3, c - 2 : c + 3] + 0.5
    return float((win * cc).sum() / win.sum()), float((win * rr).sum() / win.sum())


def test_point_targets_are_recovered_to_subpixel(default_dir: Path, clean_dir: Path) -> None:
    for root, tol_s1 in ((default_dir, 0.5), (clean_dir, 0.05)):
        truth = GroundTruth.load(root)
        assert len(truth.point_targets) == (4 if root == default_dir else 2)
        refl, g0 = tables(truth)
        seen = set()
        for lon, lat in truth.point_targets:
            cls = int(truth.classes_at(np.array([lon]), np.array([lat]), "EPSG:4326")[0])
            for item, folder in items(root, S2):
                if item["properties"]["eo:cloud_cover"] != 0:
                    continue
                b04, tr, crs, _ = read(folder / "B04.tif")
                col, row = to_pixel(tr, crs, lon, lat)
                if not (4 <= col < b04.shape[1] - 4 and 4 <= row < b04.shape[0] - 4):
                    continue
                if b04[int(row), int(col)] == 0:
                    continue
                bg = np.round(10000 * refl[cls - 1, 3]) + 1000
                cx, cy = centroid(b04, col, row, bg)
                assert abs(cx - col) < 0.1 and abs(cy - row) < 0.1, (item["id"], lon, lat)
                assert b04[int(row), int(col)] - bg > 0.4 * 10000 * 0.25  # a bright spot
                seen.add(("s2", lon))
            for item, folder in items(root, S1):
                vv, tr, crs, _ = read(folder / "vv.tif")
                col, row = to_pixel(tr, crs, lon, lat)
                cx, cy = centroid(vv, col, row, g0[cls - 1, 0])
                assert abs(cx - col) < tol_s1 and abs(cy - row) < tol_s1, (item["id"], lon, lat)
                seen.add(("s1", lon))
        assert len(seen) == 2 * len(truth.point_targets)


# --- 6. clouds ---------------------------------------------------------------
def test_clouds_follow_the_truth_and_cloud_cover_is_measured(
    default_dir: Path, truth: GroundTruth
) -> None:
    refl, _ = tables(truth)
    n_cloud = n_shadow = 0
    for item, folder in items(default_dir, S2):
        scl, tr, crs, _ = read(folder / "SCL.tif")
        valid = scl != 0
        flagged = np.isin(scl, [3, 8, 9, 10]) & valid
        assert item["properties"]["eo:cloud_cover"] == pytest.approx(
            100 * flagged.sum() / valid.sum(), abs=1e-3
        )
        date = truth.meta["s2_items"][item["id"]]["date_index"]
        xc = tr.c + (np.arange(scl.shape[1]) + 0.5) * tr.a
        yc = tr.f - (np.arange(scl.shape[0]) + 0.5) * tr.a
        state = truth.cloud_state(date, xc[None, :], yc[:, None], crs)
        if date not in (1, 3):
            assert not flagged.any() and not state.any()
            continue
        np.testing.assert_array_equal(scl[valid & (state > 0)], state[valid & (state > 0)])
        assert not flagged[state == 0].any()
        assert 5 < item["properties"]["eo:cloud_cover"] < 70
        # opaque cloud is bright and flat; shadow is the ground x 0.3
        b11, _, _, _ = read(folder / "B11.tif")
        b02, _, _, _ = read(folder / "B02.tif")
        dens = truth.cloud_density(date, xc[None, :], yc[:, None], crs)
        thick = valid & (dens > 0.5)
        assert np.all((b02[::2, ::2][thick] - 1000) / 10000 > 0.5)
        shadow = np.argwhere(valid & (state == 3))
        subs, edges = footprint_classes(truth, tr, crs, shadow[:, 0], shadow[:, 1], 8)
        pure = pure_mask(subs, edges)
        expect = np.round(10000 * 0.3 * refl[subs[pure, 0] - 1, 10]) + 1000
        got = b11[shadow[pure, 0], shadow[pure, 1]]
        far = away_from_targets(truth, tr, crs, shadow[pure, 0], shadow[pure, 1], 60)
        np.testing.assert_array_equal(got[far], expect[far])
        n_cloud += int(thick.sum())
        n_shadow += int(pure.sum())
    assert n_cloud > 1000 and n_shadow > 500


def test_cloud_free_config_has_no_clouds(clean_dir: Path) -> None:
    for item, folder in items(clean_dir, S2):
        scl, _, _, _ = read(folder / "SCL.tif")
        assert not np.isin(scl, [3, 8, 9, 10]).any()
        assert set(np.unique(scl)) <= {0, 4, 5, 6}
        assert item["properties"]["eo:cloud_cover"] == 0


# --- 7. two tiles, two zones ---------------------------------------------------
def test_tiles_in_two_zones_overlap_and_agree(default_dir: Path, truth: GroundTruth) -> None:
    refl, _ = tables(truth)
    tiles = {}
    for item, folder in items(default_dir, S2):
        if "20240603" in item["id"]:
            tiles[item["properties"]["proj:code"]] = (item, folder)
    assert set(tiles) == {"EPSG:32632", "EPSG:32633"}
    w, e = shape(tiles["EPSG:32632"][0]["geometry"]), shape(tiles["EPSG:32633"][0]["geometry"])
    overlap = w.intersection(e)
    assert overlap.area > 0
    width_m = (overlap.bounds[2] - overlap.bounds[0]) * 111320 * np.cos(np.radians(48.025))
    assert 800 < width_m < 1600
    assert overlap.bounds[0] < 12.0 < overlap.bounds[2]
    rng = np.random.default_rng(11)
    lon = rng.uniform(overlap.bounds[0], overlap.bounds[2], 800)
    lat = rng.uniform(overlap.bounds[1], overlap.bounds[3], 800)
    inner = overlap.buffer(-0.0003)
    keep = np.array([inner.contains(Point(a, b)) for a, b in zip(lon, lat, strict=True)])
    lon, lat = lon[keep], lat[keep]
    assert lon.size > 300
    decided = {}
    pure_both = np.ones(lon.size, dtype=bool)
    for code, (_, folder) in tiles.items():
        bands = [read(folder / f"{b}.tif") for b in ("B02", "B03", "B04", "B08")]
        tr = bands[0][1]
        x, y = Transformer.from_crs("EPSG:4326", code, always_xy=True).transform(lon, lat)
        col, row = (x - tr.c) / tr.a, (tr.f - y) / tr.a
        r, c = row.astype(int), col.astype(int)
        subs, edges = footprint_classes(truth, tr, code, r, c, 4)
        pure_both &= pure_mask(subs, edges) & away_from_targets(truth, tr, code, r, c, 50)
        spectra = np.stack([(b[0][r, c].astype(float) - 1000) / 10000 for b in bands], axis=1)
        # decide the class from the four 10 m bands alone: nearest class spectrum
        dist = np.abs(spectra[:, None, :] - refl[None, :, [1, 2, 3, 7]]).sum(axis=2)
        decided[code] = (spectra, dist.argmin(axis=1) + 1)
    assert pure_both.sum() > 50
    np.testing.assert_array_equal(
        decided["EPSG:32632"][0][pure_both], decided["EPSG:32633"][0][pure_both]
    )
    cls = truth.classes_at(lon, lat, "EPSG:4326")[pure_both]
    same_optics = np.all(refl[decided["EPSG:32632"][1][pure_both] - 1] == refl[cls - 1], axis=1)
    assert same_optics.all()  # (smooth and rough soil share a spectrum)


# --- 9. ground truth round trip ----------------------------------------------
def test_ground_truth_round_trips(default_dir: Path, truth: GroundTruth) -> None:
    from geomm.sample._synthetic_layout import build_layout, build_world

    config = SyntheticConfig()
    fresh = build_world(config, build_layout(config))
    rng = np.random.default_rng(2)
    x = rng.uniform(719000, 728000, 50000)
    y = rng.uniform(5320000, 5327000, 50000)
    np.testing.assert_array_equal(
        truth.classes_at(x, y, "EPSG:32632"), fresh.classes_at(x, y, "EPSG:32632")
    )
    lon = rng.uniform(11.95, 12.05, 20000)
    lat = rng.uniform(48.0, 48.05, 20000)
    np.testing.assert_array_equal(
        truth.classes_at(lon, lat, "EPSG:4326"), fresh.classes_at(lon, lat, 4326)
    )
    assert truth.point_targets == fresh.point_targets
    # any CRS spelling works: a rasterio CRS, an EPSG int, a string
    xe, ye = Transformer.from_crs(32632, 32633, always_xy=True).transform(x[:500], y[:500])
    east = rasterio.crs.CRS.from_epsg(32633)
    np.testing.assert_array_equal(
        truth.classes_at(xe, ye, east), truth.classes_at(x[:500], y[:500])
    )
    with pytest.raises(SampleDataError, match="ground truth"):
        GroundTruth.load(default_dir / "synthetic-s2-l2a")
    np.testing.assert_array_equal(
        truth.cloud_state(1, x, y, "EPSG:32632"), fresh.cloud_state(1, x, y, "EPSG:32632")
    )
    names = [c.name for c in truth.classes]
    assert {
        "water",
        "dry_grassland",
        "flooded_vegetation",
        "forest",
        "smooth_bare_soil",
        "rough_bare_soil",
        "cropland",
        "urban",
        "bright_sand",
    } <= set(names)
    ids = {c.name: c.id for c in truth.classes}
    # the confusions the classes are built for
    assert np.array_equal(
        truth.reflectance(ids["smooth_bare_soil"]), truth.reflectance(ids["rough_bare_soil"])
    )
    dsoil = truth.gamma0_db(ids["rough_bare_soil"]) - truth.gamma0_db(ids["smooth_bare_soil"])
    assert 8 <= dsoil[0] <= 10
    assert abs(truth.gamma0_db(ids["cropland"]) - truth.gamma0_db(ids["dry_grassland"])).max() <= 1
    assert truth.reflectance(ids["cropland"])[7] > 1.4 * truth.reflectance(ids["dry_grassland"])[7]
    assert (
        abs(truth.gamma0_db(ids["bright_sand"]) - truth.gamma0_db(ids["smooth_bare_soil"])).max()
        <= 1
    )
    assert (
        truth.gamma0_db(ids["flooded_vegetation"])[0] - truth.gamma0_db(ids["dry_grassland"])[0]
        >= 6
    )
    # the saved class map: majority class, equal to the truth inside parcels
    cmap, tr, crs, _ = read(default_dir / "ground_truth" / "classes_epsg32632.tif")
    r, c = rng.integers(0, cmap.shape[0], 3000), rng.integers(0, cmap.shape[1], 3000)
    subs, edges = footprint_classes(truth, tr, crs, r, c, 4)
    pure = pure_mask(subs, edges)
    np.testing.assert_array_equal(cmap[r, c][pure], subs[pure, 0])
    assert set(np.unique(cmap)) == set(ids.values())
