"""Model updates uplinked mid-mission: accepted only with a valid signature from the
configured key, otherwise the satellite keeps its previous model and says why.

The update is the installed SAR ship model with its CFAR threshold (t = 4.98 standard
deviations, ESA SNAP / Crisp, REFERENCE.md "Ships") raised to 1e6: a model that finds
nothing, so whether a satellite runs it shows in its alerts. SSO-3 captures the SAR scene at
1.51 h and again at 12.75 h (sample mission plan).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from chaos_helpers import SAR_CAPTURE_S, mission
from onnx import numpy_helper

from edgeinfer.detect import default_models_dir
from edgeinfer.detect.signing import generate_keypair, load_private_key, sign_model
from edgeinfer.mission import MissionResult, run_mission

CFAR_T = 4.981  # the model's threshold initializers (edgeinfer.models_build.ship_sar)


def _blind(dst: Path) -> Path:
    model = onnx.load(default_models_dir() / "ship_sar_vv.onnx")
    changed = 0
    for tensor in model.graph.initializer:
        a = numpy_helper.to_array(tensor)
        if a.dtype.kind == "f" and a.size == 1 and abs(float(a.reshape(-1)[0]) - CFAR_T) < 1e-3:
            tensor.CopyFrom(numpy_helper.from_array(np.full_like(a, 1e6), tensor.name))
            changed += 1
    assert changed >= 1
    onnx.save(model, dst)
    return dst


@pytest.fixture(scope="module")
def uplinked(tmp_path_factory: pytest.TempPathFactory) -> tuple[MissionResult, dict[str, Any]]:
    root = tmp_path_factory.mktemp("uplink")
    pem, pub = generate_keypair(root / "keys", "mission")
    key = load_private_key(pem)
    folders = {k: root / k for k in ("good", "tampered", "unsigned", "dev")}
    for folder in folders.values():
        folder.mkdir()
    good = sign_model(_blind(folders["good"] / "ship_sar_vv.onnx"), key).with_suffix("")
    tampered = folders["tampered"] / "ship_sar_vv.onnx"
    shutil.copy(good, tampered)
    shutil.copy(good.with_name(good.name + ".sig"), tampered.with_name(tampered.name + ".sig"))
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte changed after signing
    tampered.write_bytes(bytes(data))
    unsigned = _blind(folders["unsigned"] / "ship_sar_vv.onnx")
    dev = folders["dev"] / "ship_sar_vv.onnx"  # the installed model, signed by the dev key
    shutil.copy(default_models_dir() / "ship_sar_vv.onnx", dev)
    shutil.copy(default_models_dir() / "ship_sar_vv.onnx.sig", dev.with_name(dev.name + ".sig"))
    updates = [
        {"at_h": 0.5, "model": str(tampered), "satellites": ["SSO-3"]},
        {"at_h": 3.0, "model": str(good), "satellites": ["SSO-3"]},
        {"at_h": 0.5, "model": str(unsigned), "satellites": ["SSO-1"]},
        {"at_h": 0.5, "model": str(dev), "satellites": ["SSO-2"]},
    ]
    config = mission(hours=14.0, uplink={"trusted_keys": [str(pub)], "models": updates})
    return run_mission(config, root / "out", use_ray=False), {"good": good}


@pytest.fixture(scope="module")
def first_capture(tmp_path_factory: pytest.TempPathFactory) -> MissionResult:
    """The same mission without uplinks, cut before SSO-3's second capture: what the
    installed model raises on the first capture."""
    return run_mission(mission(), tmp_path_factory.mktemp("clean") / "out", use_ray=False)


@pytest.mark.slow
def test_a_bad_update_is_refused_and_the_old_model_kept(
    uplinked: tuple[MissionResult, dict[str, Any]], first_capture: MissionResult
) -> None:
    result, _ = uplinked
    expected = first_capture.metrics["satellites"]["SSO-3"]["alerts_raised"]
    assert expected == first_capture.total["alerts_raised"] > 0
    sats = result.metrics["satellites"]
    sso3 = sats["SSO-3"]
    assert sso3["scenes_captured"] == 2 and sso3["tiles_inferred"] > 0
    assert sso3["model_updates_refused"] == 1 and sso3["model_updates_accepted"] == 1
    # the first capture ran the previous (real) model: the tampered update changed nothing
    assert sso3["alerts_raised"] == expected and result.total["alerts_delivered"] == expected
    reasons = {u["satellite"]: u["reason"] for u in result.metrics["model_updates"] if u["reason"]}
    assert "bad signature" in reasons["SSO-3"]
    assert "no signature" in reasons["SSO-1"] and sats["SSO-1"]["model_updates_refused"] == 1
    assert "bad signature" in reasons["SSO-2"]  # the dev key is not the mission's key
    assert result.total["model_updates_accepted"] == 1
    assert result.total["model_updates_refused"] == 3


@pytest.mark.slow
def test_a_signed_update_is_run_from_its_uplink_on(
    uplinked: tuple[MissionResult, dict[str, Any]],
) -> None:
    result, _ = uplinked
    log = result.metrics["model_updates"]
    accepted = [u for u in log if u["accepted"]]
    assert [(u["satellite"], u["update"]) for u in accepted] == [("SSO-3", 1)]
    assert result.metrics["satellites"]["SSO-3"]["scenes_captured"] == 2
    # the second capture, after the update, ran the blind model: every delivered alert comes
    # from the first capture (1.51 h), none from the second (12.75 h)
    features = json.loads((result.out_dir / "alerts.geojson").read_text())["features"]
    assert {f["properties"]["capture_time"][:16] for f in features} == {"2023-10-25T01:30"}
    second = 45_912.0  # s, SSO-3's second capture of the SAR scene
    assert SAR_CAPTURE_S < accepted[0]["t_s"] < second
