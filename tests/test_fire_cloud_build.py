"""`edgeinfer models build` for the fire and cloud models: byte-identical to the committed
models/ files (models and cards), and each model follows the ONNX contract."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from edgeinfer.detect.metadata import load_model_info
from edgeinfer.models_build import cloud, fire
from edgeinfer.models_build.registry import build_all, builders

NAMES = sorted([*fire.BUILDERS, *cloud.BUILDERS])
MODELS = ROOT / "models"


def test_registry_lists_fire_and_cloud_builders() -> None:
    assert set(NAMES) <= set(builders())


def test_build_matches_committed_models(tmp_path: Path) -> None:
    if (MODELS / "scores").is_dir():  # cards show the recorded scores
        shutil.copytree(MODELS / "scores", tmp_path / "scores")
    written = build_all(tmp_path, NAMES)
    assert [p.stem for p in written] == NAMES
    for name in NAMES:
        for suffix in (".onnx", ".md"):
            built = (tmp_path / f"{name}{suffix}").read_bytes()
            committed = (MODELS / f"{name}{suffix}").read_bytes()
            assert built == committed, f"models/{name}{suffix} is stale: run edgeinfer models build"


@pytest.mark.parametrize("name", NAMES)
def test_models_follow_the_contract(name: str) -> None:
    info = load_model_info(MODELS / f"{name}.onnx")
    assert info.name == name
    assert info.detector == name.split("_")[0]
    assert set(info.units) == {"reflectance"}
    assert info.scaling.is_identity
    assert info.source and info.description and info.thresholds
    assert info.metadata["builder"].startswith("edgeinfer.models_build.")
    assert info.metadata["algorithm"]
    assert (MODELS / f"{name}.onnx").stat().st_size < 5 * 2**20  # CloudScout: model <= 5 MB
