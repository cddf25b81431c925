"""`edgeinfer models build` for the ship models: byte-identical to the committed models/ files
(models and cards) and each model follows the ONNX contract."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from edgeinfer.detect.metadata import load_model_info
from edgeinfer.models_build import ship_cnn, ship_optical, ship_sar
from edgeinfer.models_build.registry import build_all, builders

NAMES = sorted([*ship_sar.BUILDERS, *ship_optical.BUILDERS, *ship_cnn.BUILDERS])
MODELS = ROOT / "models"


def test_registry_lists_the_ship_builders() -> None:
    assert set(NAMES) <= set(builders())


def test_build_matches_committed_models(tmp_path: Path) -> None:
    if (MODELS / "scores").is_dir():  # cards show the recorded scores
        shutil.copytree(MODELS / "scores", tmp_path / "scores")
    build_all(tmp_path, NAMES)
    for name in NAMES:
        for suffix in (".onnx", ".md"):
            built = (tmp_path / f"{name}{suffix}").read_bytes()
            committed = (MODELS / f"{name}{suffix}").read_bytes()
            assert built == committed, f"models/{name}{suffix} is stale: run edgeinfer models build"


@pytest.mark.parametrize("name", NAMES)
def test_models_follow_the_contract(name: str) -> None:
    info = load_model_info(MODELS / f"{name}.onnx")
    assert info.name == name and info.detector == "ship"
    assert info.scaling.is_identity
    assert info.source and info.description and info.thresholds
    assert info.metadata["algorithm"]
    if name in ship_sar.BUILDERS:  # the CFAR sizes its windows in metres
        assert info.aux_inputs == ("pixel_size_m",) and len(info.bands) == 1
    if name in ship_cnn.BUILDERS:  # learned: provenance and a version below the classical
        assert info.metadata["training"] and info.version.startswith("0.")
    assert (MODELS / f"{name}.onnx").stat().st_size < 5 * 2**20
