"""Bad input in a mission: every kind of broken scene is reported (metrics.json
``failed_scenes`` and the CLI) while the mission carries on with the good ones and delivers
exactly what it delivers without them; a scene that breaks on board mid-capture keeps what
was read and is reported too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bad_scenes import BUILDERS, some_nan
from chaos_helpers import SAR, alert_set, mission

from edgeinfer.budget import get_accelerator
from edgeinfer.cli.main import main
from edgeinfer.errors import SceneError
from edgeinfer.mission import run_mission
from edgeinfer.node import (
    CostModel,
    DetectionSettings,
    DownlinkSettings,
    Fleet,
    InferenceEngine,
    NodeSettings,
    SatelliteNode,
    SceneRef,
)
from edgeinfer.node.settings import BudgetSettings

EXPECTED = {
    "missing": "does not exist",
    "garbage": "cannot open",
    "truncated": "re-download or re-export it",
    "wrong_bands": "has 2 bands but 3 band names were given",
    "no_crs": "no georeference",
    "all_nodata": "every pixel is nodata",
    "all_nan": "every pixel is nodata",
    "huge": "detection.max_scene_pixels",
    "damaged_block": "re-download or re-export it",
}


def _toml_scene(path: Path, kind: str) -> str:
    if kind == "wrong_bands":
        extra = 'product = "geotiff"\nbands = ["B02", "B03", "B04"]'
    else:
        extra = 'product = "sar"'
    return f'[[scenes]]\npath = "{path}"\nscene_id = "{kind}"\n{extra}\n'


@pytest.mark.slow
def test_a_mission_carries_on_past_every_bad_scene(tmp_path: Path, capsys: Any) -> None:
    good = mission()  # the SAR scene alone
    clean = run_mission(good, tmp_path / "clean", use_ray=False)
    scenes = [_toml_scene(Path(SAR["path"]), "sar_sea")]
    for kind, build in BUILDERS.items():
        scenes.append(_toml_scene(build(tmp_path / f"{kind}.tif"), kind))
    scenes.append(_toml_scene(some_nan(tmp_path / "some_nan.tif"), "some_nan"))
    text = (
        '[mission]\nstart = "2023-10-25T00:00:00Z"\nduration_h = 3.0\nseed = 20240611\n'
        '[constellation]\nkind = "sso"\nn_satellites = 4\naltitude_km = 786.0\nswath_km = 290.0\n'
        '[[ground_stations]]\nname = "Svalbard"\n[[ground_stations]]\nname = "Matera"\n'
        "[output]\nreport = false\n" + "\n".join(scenes)
    )
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(toml), "--no-ray", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    failed = {f["scene"]: f["error"] for f in metrics["failed_scenes"]}
    assert set(failed) == set(EXPECTED)
    for kind, fragment in EXPECTED.items():
        assert fragment in failed[kind], (kind, failed[kind])
        assert "\n" not in failed[kind]
        assert f"{kind}:" in printed.err  # the CLI names every failed scene
    assert metrics["total"]["scenes_failed"] == len(EXPECTED)
    assert set(metrics["scenes"]) == {"sar_sea", "some_nan"}
    # nothing of the good scene is lost: the same alerts as the mission without bad scenes
    features = json.loads((out / "alerts.geojson").read_text())["features"]
    sar = {
        f["id"]: f["properties"]["bbox_px"]
        for f in features
        if f["properties"]["scene_id"] == "sar_sea"
    }
    assert sorted(map(tuple, sar.values())) == sorted(a[3] for a in alert_set(clean))
    assert metrics["total"]["alerts_lost"] == metrics["total"]["corrupted_accepted"] == 0


@pytest.fixture(scope="module")
def engine() -> Iterator[InferenceEngine]:
    eng = InferenceEngine(
        DetectionSettings(detectors=("ship",), threads=1), CostModel(get_accelerator("host"))
    )
    yield eng
    eng.close()


def _node(engine: InferenceEngine, refs: list[SceneRef], tmp: Path) -> SatelliteNode:
    settings = NodeSettings(
        detection=engine.detection,
        downlink=DownlinkSettings(),
        budgets=BudgetSettings(),
        cost=engine.cost,
        start_posix_s=1_698_192_000.0,
        state_dir=tmp,
    )
    fleet = Fleet(settings.budgets.power, settings.budgets.thermal, 10.0, 3600.0, np.ones((1, 360)))
    return SatelliteNode(0, "SAT-1", settings, engine, {r.key: r for r in refs}, fleet)


def test_a_scene_that_breaks_on_board_is_reported_and_the_rest_goes_on(
    engine: InferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = SceneRef("sar_sea", SAR["path"], "sar")
    gone = SceneRef("gone", str(tmp_path / "gone.tif"), "sar")
    node = _node(engine, [good, gone], tmp_path)
    log = node.capture("gone", 10.0)  # the file is not on this worker
    assert "does not exist" in log["error"] and node.counters["captures_failed"] == 1
    real = engine.tiles

    def two_then_fail(prepared: Any, on_error: str = "raise") -> Iterator[Any]:
        tiles = real(prepared, on_error)
        yield next(tiles)
        yield next(tiles)
        raise SceneError("sar_sea.tif: read failed at block 3 (simulated); re-download it")

    monkeypatch.setattr(engine, "tiles", two_then_fail)
    log = node.capture("sar_sea", 100.0)
    assert log["tiles"] == 2 and "simulated" in log["error"]
    monkeypatch.setattr(engine, "tiles", real)
    node.capture("sar_sea", 200.0)  # the next capture of the same scene works
    node.advance(3000.0)
    assert node.counters["tiles_captured"] == 2 + 9 and node.counters["captures_failed"] == 2
    assert node.counters["alerts_raised"] > 0
    stages = [(f["scene"], f["stage"]) for f in node.report()["failures"]]
    assert stages == [("gone", "capture"), ("sar_sea", "capture")]
    node.close()
