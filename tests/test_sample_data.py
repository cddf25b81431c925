"""sample_data/generate.py: deterministic sample scenes whose truth matches their pixels.

Independent checks: Planck's law integrated here with scipy (not edgeinfer.synth.planck) for the
fire signal; rasterio.warp (not edgeinfer.scene.geo) for the truth geometry; the Fmask cloud and
Sentinel Hub fire tests of REFERENCE.md; K-distribution moments for the SAR clutter.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform
from scipy import constants, integrate, ndimage

from edgeinfer.scene.bands import SENTINEL2_MSI

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
if str(SAMPLE_DIR) not in sys.path:
    sys.path.append(str(SAMPLE_DIR))  # the generator's helper modules live beside it


def _load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "edgeinfer_sample_generate", SAMPLE_DIR / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _load_generate()
s2mod = importlib.import_module("_s2_coast")
sarmod = importlib.import_module("_sar_sea")

BANDS = list(s2mod.BANDS)
SEED = gen.DEFAULT_SEED


@pytest.fixture(scope="module")
def s2() -> Any:
    return s2mod.build(SEED)


@pytest.fixture(scope="module")
def sar() -> Any:
    return sarmod.build(SEED)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, s2: Any, sar: Any) -> Path:
    """The scenes written by the generator's own writers (same seed as the CLI default)."""
    path = tmp_path_factory.mktemp("sample")
    gen.write_s2_coast(path, s2, SEED)
    gen.write_sar_sea(path, sar, SEED)
    return path


def _truth(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return np.asarray(ds.read())


# --- determinism and idempotency ---------------------------------------------------------------


@pytest.mark.slow
def test_generation_is_byte_identical_across_runs(out: Path, tmp_path: Path) -> None:
    result = gen.generate(tmp_path / "again", SEED)
    assert not result.skipped
    for name in gen.FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    manifest = json.loads((tmp_path / "again" / gen.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"][gen.S2_TIF]["sha256"] == gen.sha256_file(out / gen.S2_TIF)


def test_another_seed_gives_another_scene(sar: Any) -> None:
    other = sarmod.build(SEED + 1)
    assert not np.array_equal(other.sigma0, sar.sigma0)


def _fake_writers(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    """Replace the scene builders and writers with cheap ones that still write every file."""

    def fake_write(out_dir: Path, scene: object, seed: int) -> dict[str, int]:
        calls.append("write")
        for name in gen.FILES:
            (out_dir / name).write_bytes(f"{name} {seed}".encode())
        return {"ship": 1}

    monkeypatch.setattr(gen._s2_coast, "build", lambda seed: None)
    monkeypatch.setattr(gen._sar_sea, "build", lambda seed: None)
    monkeypatch.setattr(gen, "write_s2_coast", fake_write)
    monkeypatch.setattr(gen, "write_sar_sea", fake_write)


def test_second_run_skips_and_force_regenerates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    _fake_writers(monkeypatch, calls)
    assert gen.main(["--out", str(tmp_path), "--quiet"]) == 0
    assert calls == ["write", "write"]
    assert gen.is_up_to_date(tmp_path, SEED)
    assert gen.generate(tmp_path, SEED).skipped
    assert calls == ["write", "write"]
    assert gen.main(["--out", str(tmp_path), "--quiet", "--force"]) == 0
    assert len(calls) == 4
    # another seed, a changed file, or another version stamp each make the folder stale
    assert not gen.is_up_to_date(tmp_path, SEED + 1)
    (tmp_path / gen.SAR_TRUTH).write_bytes(b"edited")
    assert not gen.is_up_to_date(tmp_path, SEED)
    gen.generate(tmp_path, SEED)
    assert len(calls) == 6
    manifest_path = tmp_path / gen.MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["version"] = "v0-old"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert not gen.is_up_to_date(tmp_path, SEED)


def test_negative_seed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        gen.main(["--out", str(tmp_path), "--seed", "-1", "--quiet"])
    assert exc.value.code == 2
    assert not os.listdir(tmp_path)


# --- metadata and georeference -----------------------------------------------------------------


def test_s2_metadata(out: Path) -> None:
    with rasterio.open(out / gen.S2_TIF) as ds:
        assert ds.count == 7 and ds.dtypes[0] == "uint16"
        assert ds.descriptions == tuple(BANDS)
        assert ds.scales == (1e-4,) * 7 and ds.offsets == (0.0,) * 7
        assert ds.nodata == 0
        assert ds.tags()["EDGEINFER_PRODUCT"] == "sentinel2"
        assert ds.crs.to_epsg() == 32611 and ds.res == (10.0, 10.0)
    with rasterio.open(out / gen.SAR_TIF) as ds:
        assert ds.count == 1 and ds.dtypes[0] == "float32"
        assert ds.descriptions == ("VV",) and ds.units == ("sigma0",)
        assert ds.tags()["EDGEINFER_PRODUCT"] == "sar"
        assert ds.crs.to_epsg() == 32654 and ds.res == (10.0, 10.0)


@pytest.mark.parametrize(
    ("tif", "truth"),
    [("s2_coast.tif", "s2_coast.truth.geojson"), ("sar_sea.tif", "sar_sea.truth.geojson")],
)
def test_truth_boxes_lie_in_the_scene_and_geometry_round_trips(
    out: Path, tif: str, truth: str
) -> None:
    doc = _truth(out / truth)
    with rasterio.open(out / tif) as ds:
        width, height, crs, tr = ds.width, ds.height, ds.crs, ds.transform
    assert doc["features"]
    for feat in doc["features"]:
        c0, r0, c1, r1 = feat["properties"]["bbox_px"]
        assert 0 <= c0 < c1 <= width and 0 <= r0 < r1 <= height
        ring = feat["geometry"]["coordinates"][0]
        xs, ys = warp_transform("EPSG:4326", crs, [p[0] for p in ring], [p[1] for p in ring])
        cols, rows = ~tr @ (np.asarray(xs), np.asarray(ys))
        np.testing.assert_allclose(cols, [c0, c0, c1, c1, c0], atol=1e-3)
        np.testing.assert_allclose(rows, [r0, r1, r1, r0, r0], atol=1e-3)
        lon, lat = feat["properties"]["centroid_lonlat"]
        (x,), (y,) = warp_transform("EPSG:4326", crs, [lon], [lat])
        col, row = ~tr @ (x, y)
        assert col == pytest.approx((c0 + c1) / 2, abs=1e-3)
        assert row == pytest.approx((r0 + r1) / 2, abs=1e-3)


def test_scenes_are_where_the_readme_says(out: Path) -> None:
    for tif, lon, lat in (("s2_coast.tif", -118.68, 34.03), ("sar_sea.tif", 139.57, 35.20)):
        with rasterio.open(out / tif) as ds:
            (x,), (y,) = warp_transform("EPSG:4326", ds.crs, [lon], [lat])
            col, row = ~ds.transform @ (x, y)
            assert 0 < col < ds.width and 0 < row < ds.height, tif


def test_sun_geometry_matches_the_acquisition_time(out: Path) -> None:
    solar = pytest.importorskip("edgeinfer.scene.solar")
    props = _truth(out / gen.S2_TRUTH)["properties"]
    with rasterio.open(out / gen.S2_TIF) as ds:
        assert ds.tags()["EDGEINFER_ACQUIRED"] == props["acquired"]
        (lon,), (lat,) = warp_transform(
            ds.crs, "EPSG:4326", [ds.bounds.left + 5120], [ds.bounds.top - 5120]
        )
    when = dt.datetime.fromisoformat(props["acquired"].replace("Z", "+00:00"))
    elevation = float(solar.solar_elevation_deg(when, lon, lat))
    assert elevation == pytest.approx(props["sun_elevation_deg"], abs=0.3)


def test_nodata_wedge_is_nodata_and_nothing_else_is(out: Path, s2: Any) -> None:
    rows, cols = np.mgrid[0:1024, 0:1024]
    wedge = cols < 0.25 * (rows - 600)  # the swath edge documented in sample_data/README.md
    assert 0.01 < wedge.mean() < 0.05
    with rasterio.open(out / gen.S2_TIF) as ds:
        masks = ds.read_masks()
        data = ds.read()
    assert np.array_equal(masks == 0, np.broadcast_to(wedge, masks.shape))
    assert (data[:, wedge] == 0).all() and (data[:, ~wedge] > 0).all()
    for feat in _truth(out / gen.S2_TRUTH)["features"]:
        if feat["properties"]["kind"] in ("fire", "ship"):
            c0, r0, c1, r1 = feat["properties"]["bbox_px"]
            assert not wedge[r0:r1, c0:c1].any()


# --- Sentinel-2 physics ------------------------------------------------------------------------


def _band_mean_planck(band: str, temperature_k: float) -> float:
    """Blackbody radiance (W m-2 sr-1 m-1) averaged over the band's boxcar, by quadrature."""
    h, c, k = float(constants.h), float(constants.c), float(constants.k)
    lo, hi = (e * 1e-9 for e in SENTINEL2_MSI[band].edges_nm or (0.0, 0.0))

    def radiance(lam: float) -> float:
        return 2 * h * c**2 / lam**5 / math.expm1(h * c / (lam * k * temperature_k))

    value, _ = integrate.quad(radiance, lo, hi)
    return float(value / (hi - lo))


def _fire_unit_reflectance(band: str, temperature_k: float, sun_elevation_deg: float) -> float:
    """rho of a fire filling the whole pixel: pi L / (E_sun cos(sza)), Sun a 5772 K blackbody of
    radius 6.957e8 m at 1 AU (IAU 2015 B3 nominal values)."""
    omega_sun = math.pi * (6.957e8 / float(constants.astronomical_unit)) ** 2
    e_sun = _band_mean_planck(band, 5772.0) * omega_sun
    cos_sz = math.sin(math.radians(sun_elevation_deg))
    return math.pi * _band_mean_planck(band, temperature_k) / (e_sun * cos_sz)


def _fires(out: Path) -> list[dict[str, Any]]:
    return [
        f["properties"]
        for f in _truth(out / gen.S2_TRUTH)["features"]
        if f["properties"]["kind"] == "fire"
    ]


def test_fires_are_subpixel_and_hot(out: Path) -> None:
    fires = _fires(out)
    assert len(fires) >= 10
    for fire in fires:
        assert 800 <= fire["temperature_k"] <= 1200
        assert 0.005 <= fire["fraction"] <= 0.10
        c0, r0, c1, r1 = fire["bbox_px"]
        assert (c1 - c0, r1 - r0) == (1, 1)


def test_fire_swir_rises_as_planck_predicts(out: Path, s2: Any) -> None:
    dn = _read(out / gen.S2_TIF)
    sun = _truth(out / gen.S2_TRUTH)["properties"]["sun_elevation_deg"]
    checked = 0
    for fire in _fires(out):
        col, row = fire["bbox_px"][:2]
        bc, br, bc1, br1 = fire["bbox_px_20m"]
        f, temp = fire["fraction"], fire["temperature_k"]
        for band in ("B11", "B12"):
            i = BANDS.index(band)
            block = dn[i, br:br1, bc:bc1].astype(float) / 1e4
            assert np.ptp(block) == 0  # a 20 m pixel repeated over its 2x2 block
            if band in fire["saturated_bands"]:
                assert block[0, 0] == 6.5535
                continue
            bg_block = s2.background[i, br:br1, bc:bc1].mean()
            bg_pixel = s2.background[i, row, col]
            unit = _fire_unit_reflectance(band, temp, sun)
            expected = bg_block + f * (unit - bg_pixel) / 4
            # noise: sd 0.0005 per 10 m pixel, 0.00025 on the block; quantisation 0.00005
            assert block[0, 0] == pytest.approx(expected, abs=0.0015, rel=0.002), (fire, band)
            assert block[0, 0] - bg_block > 0.01
            checked += 1
    assert checked >= 10


def test_fires_pass_the_sentinel_hub_fire_test(out: Path, s2: Any) -> None:
    dn = _read(out / gen.S2_TIF).astype(float) / 1e4
    b11, b12 = dn[BANDS.index("B11")], dn[BANDS.index("B12")]
    fire_px = np.zeros(b11.shape, dtype=bool)
    for fire in _fires(out):
        col, row = fire["bbox_px"][:2]
        ratio = (b12[row, col] - b11[row, col]) / (b12[row, col] + b11[row, col])
        assert ratio > 0.4 or b12[row, col] > 1.0, fire  # REFERENCE.md, Sentinel-2 fire test
        fire_px[row, col] = True
    # and no land pixel away from the fires passes it: no unintended fires. (Dark water does,
    # on noise, as real water can: detectors must mask water first.)
    land = s2.land & ~s2.nodata & ~ndimage.binary_dilation(fire_px, iterations=3)
    hot = ((b12[land] - b11[land]) / (b12[land] + b11[land]) > 0.4) | (b12[land] > 1.0)
    assert not hot.any()


def test_clear_sea_has_positive_ndwi(out: Path, s2: Any) -> None:
    dn = _read(out / gen.S2_TIF).astype(float)
    green, nir = dn[BANDS.index("B03")], dn[BANDS.index("B08")]
    objects = ndimage.binary_dilation((s2.ship_cover > 0) | (s2.pier_cover > 0))
    sea = s2.sea & ~s2.nodata & ~objects & (s2.cloudmask == 0)
    assert sea.mean() > 0.3
    ndwi = (green[sea] - nir[sea]) / (green[sea] + nir[sea])
    assert (ndwi > 0).all() and np.median(ndwi) > 0.3
    land = s2.land & (s2.opacity == 0) & ~s2.nodata
    assert np.median((green[land] - nir[land]) / (green[land] + nir[land])) < 0


def test_ships_are_bright_on_the_sea(out: Path, s2: Any) -> None:
    dn = _read(out / gen.S2_TIF).astype(float) / 1e4
    nir = dn[BANDS.index("B08")]
    ships = [
        f["properties"]
        for f in _truth(out / gen.S2_TRUTH)["features"]
        if f["properties"]["kind"] == "ship"
    ]
    assert len(ships) >= 10 and sum(s["near_pier"] for s in ships) >= 3
    for ship in ships:
        assert 20 <= ship["length_m"] <= 80
        c0, r0, c1, r1 = ship["bbox_px"]
        assert max(c1 - c0, r1 - r0) <= 10
        ring = np.zeros(nir.shape, dtype=bool)
        ring[max(r0 - 8, 0) : r1 + 8, max(c0 - 8, 0) : c1 + 8] = True
        ring[r0:r1, c0:c1] = False
        water = np.median(nir[ring & s2.sea & (s2.ship_cover == 0)])
        assert nir[r0:r1, c0:c1].max() - water > 0.03, ship


def test_cloud_tile_dropped_and_mask_matches_fmask(out: Path, s2: Any) -> None:
    mask = _read(out / gen.S2_CLOUDMASK)[0]
    assert set(np.unique(mask)) == {0, 1}
    assert np.array_equal(mask, (s2.opacity >= 0.2).astype(np.uint8))
    tiles = [mask[r : r + 512, c : c + 512].mean() for r in (0, 512) for c in (0, 512)]
    assert max(tiles) > 0.7  # the CloudScout rule (REFERENCE.md) drops this tile
    assert sum(0.0 < t < 0.7 for t in tiles) >= 2  # broken clouds elsewhere
    # thick cloud pixels pass every Fmask cloud-candidate test of REFERENCE.md
    dn = _read(out / gen.S2_TIF).astype(float) / 1e4
    b, g, r, nir, sw1, sw2 = (
        dn[BANDS.index(n)] for n in ("B02", "B03", "B04", "B08", "B11", "B12")
    )
    thick = (s2.opacity >= 0.95) & ~s2.nodata
    assert thick.sum() > 50_000
    b, g, r, nir, sw1, sw2 = (x[thick] for x in (b, g, r, nir, sw1, sw2))
    mean_vis = (b + g + r) / 3
    whiteness = (abs(b - mean_vis) + abs(g - mean_vis) + abs(r - mean_vis)) / mean_vis
    passes = (
        (sw2 > 0.03)
        & ((g - sw1) / (g + sw1) < 0.8)
        & ((nir - r) / (nir + r) < 0.8)
        & (whiteness < 0.7)
        & (b - 0.5 * r - 0.08 > 0)
        & (nir / sw1 > 0.75)
    )
    assert passes.all()
    # every cloud pixel lies in some truth cloud box
    covered = np.zeros(mask.shape, dtype=bool)
    for feat in _truth(out / gen.S2_TRUTH)["features"]:
        if feat["properties"]["kind"] == "cloud":
            c0, r0, c1, r1 = feat["properties"]["bbox_px"]
            covered[r0:r1, c0:c1] = True
    assert covered[mask == 1].all()


# --- SAR physics -------------------------------------------------------------------------------


def test_sar_sea_clutter_level_and_k_moments(sar: Any) -> None:
    sigma0 = sar.sigma0.astype(np.float64)
    sea = ~sar.land & ~ndimage.binary_dilation(sar.ship_mask, iterations=5)
    mean_db = 10 * math.log10(sigma0[sea].mean())
    assert mean_db == pytest.approx(-17.5, abs=0.5)  # OpenSARShip median sea level
    # K-distribution: E[I^2]/E[I]^2 = (1 + 1/nu)(1 + 1/L) for a constant mean; the slow wind
    # field multiplies it by E[mu^2]/E[mu]^2
    mu = sar.sea_mean[sea]
    expected = (1 + 1 / sarmod.TEXTURE_NU) * (1 + 1 / sarmod.ENL) * (mu**2).mean() / mu.mean() ** 2
    measured = (sigma0[sea] ** 2).mean() / sigma0[sea].mean() ** 2
    assert measured == pytest.approx(expected, rel=0.05)
    assert 10 * math.log10(sigma0[sar.land].mean()) > mean_db + 7


def test_sar_ships_stand_above_local_clutter(out: Path, sar: Any) -> None:
    sigma0 = _read(out / gen.SAR_TIF)[0].astype(np.float64)
    doc = _truth(out / gen.SAR_TRUTH)
    ships = [f["properties"] for f in doc["features"]]
    assert len(ships) >= 10 and all(s["kind"] == "ship" for s in ships)
    boxes = np.zeros(sigma0.shape, dtype=bool)
    for ship in ships:
        c0, r0, c1, r1 = ship["bbox_px"]
        boxes[r0:r1, c0:c1] = True
    lo_db, hi_db = doc["properties"]["ship_peak_contrast_db"]
    for ship in ships:
        assert 20 <= ship["length_m"] <= 250
        c0, r0, c1, r1 = ship["bbox_px"]
        assert 2 <= max(c1 - c0, r1 - r0) <= 27
        box = np.zeros(sigma0.shape, dtype=bool)
        box[r0:r1, c0:c1] = True
        ring = ndimage.binary_dilation(box, iterations=30) & ~ndimage.binary_dilation(
            boxes, iterations=10
        )
        ring &= ~sar.land
        local = sigma0[ring].mean()
        contrast_db = 10 * math.log10(sigma0[r0:r1, c0:c1].max() / local)
        assert contrast_db >= lo_db - 0.5, ship
        assert ship["peak_contrast_db"] - 0.5 <= contrast_db <= ship["peak_contrast_db"] + 3.0
        assert lo_db <= ship["peak_contrast_db"] <= hi_db
