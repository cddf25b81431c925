"""Model registry: finding models, choosing one that fits a scene, errors that say the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_detect_helpers import threshold_model

import edgeinfer
from edgeinfer.detect.registry import (
    MODELS_ENV,
    ModelRegistry,
    default_models_dir,
    get_model,
    list_models,
    select,
)
from edgeinfer.errors import ModelError, UnknownNameError


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    threshold_model(d, "fire_any", "fire", ("B12",), product="any")
    threshold_model(d, "fire_landsat", "fire", ("B5", "B6", "B7"), product="landsat")
    threshold_model(
        d, "fire_landsat_v2", "fire", ("B5", "B6", "B7"), product="landsat", version="2.1.0"
    )
    threshold_model(d, "ship_sar", "ship", ("VV",), product="sar")
    threshold_model(d, "cloud_s2", "cloud", ("B02", "B11"), product="sentinel2")
    (d / "fire_any.md").write_text("# fire_any\n\ncard text\n")
    return d


def test_list_and_get(models_dir: Path) -> None:
    names = [m.name for m in list_models(models_dir)]
    assert names == ["cloud_s2", "fire_any", "fire_landsat", "fire_landsat_v2", "ship_sar"]
    assert get_model("ship_sar", models_dir).bands == ("VV",)
    with pytest.raises(UnknownNameError, match=r"unknown model 'ship'.*cloud_s2, fire_any"):
        get_model("ship", models_dir)


def test_select_prefers_exact_product_then_version(models_dir: Path) -> None:
    bands = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "B11"]
    assert select("fire", bands, "landsat", models_dir).name == "fire_landsat_v2"
    # a Sentinel-2 scene: only the product-agnostic model fits (it needs B12)
    assert select("fire", ["B8A", "B11", "B12"], "sentinel2", models_dir).name == "fire_any"
    assert select("ship", ["VV", "VH"], "sar", models_dir).name == "ship_sar"


def test_unknown_detector_lists_known(models_dir: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown detector 'volcano'.*cloud, fire, ship"):
        select("volcano", ["B7"], "landsat", models_dir)


def test_no_fitting_model_names_missing_bands_and_fix(models_dir: Path) -> None:
    with pytest.raises(ModelError) as info:
        select("fire", ["B1", "B2", "B7"], "landsat", models_dir)
    msg = str(info.value)
    # the model's full band list, then the ones the scene lacks
    assert "fire_landsat needs bands B5,B6,B7 (missing B5,B6)" in msg
    assert "fire_any needs bands B12 (missing all)" in msg
    # the --bands example comes from a model of the scene's own product
    assert "e.g. --bands B5,B6,B7)" in msg and "--product" in msg
    with pytest.raises(ModelError, match=r"ship_sar is for product sar"):
        select("ship", ["VV"], "geotiff", models_dir)


def test_no_fitting_model_hint_follows_the_scene_product(models_dir: Path) -> None:
    """The --bands example is taken from a model of the scene's product or modality, never a
    Sentinel-2 band list for a SAR scene (audit 13a nits)."""
    threshold_model(models_dir, "ship_any_sar", "ship", ("HH",), units=["sigma0"])
    threshold_model(models_dir, "cloud_any", "cloud", ("B2", "B3", "B4", "B5"))
    # SAR scene, fire: no fire model takes SAR at all, so no band example is offered
    with pytest.raises(ModelError) as info:
        select("fire", ["VV", "VH"], "sar", models_dir)
    msg = str(info.value)
    assert "--bands B" not in msg
    assert "no fire model takes a sar scene (they are for landsat, optical bands of any" in msg
    # SAR scene, ship: the example is the SAR model's band, not an optical one
    with pytest.raises(ModelError, match=r"e\.g\. --bands VV\)"):
        select("ship", ["SAR"], "sar", models_dir)
    # a plain 3-band file and cloud: the product-agnostic model is the example
    with pytest.raises(ModelError, match=r"e\.g\. --bands B2,B3,B4,B5\)"):
        select("cloud", ["B1", "B2", "B3"], "geotiff", models_dir)
    # a plain file and ship: only product-bound models (plus a SAR "any" model)
    with pytest.raises(ModelError) as info:
        select("ship", ["B1", "B2", "B3"], "geotiff", models_dir)
    assert "e.g. --bands HH)" in str(info.value)


def test_fitting_detectors(models_dir: Path) -> None:
    reg = ModelRegistry(models_dir)
    assert reg.fitting_detectors(["B5", "B6", "B7"], "landsat") == ["fire"]
    assert reg.fitting_detectors(["B02", "B11", "B12"], "sentinel2") == ["cloud", "fire"]


def test_empty_directory_says_build(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no fire model in .*edgeinfer models build"):
        select("fire", ["B7"], "landsat", tmp_path)
    with pytest.raises(ModelError, match=r"no models in .*edgeinfer models build"):
        get_model("fire_any", tmp_path)
    assert list_models(tmp_path) == []


@pytest.mark.parametrize("make", ["absent", "a file"])
def test_a_models_folder_that_is_not_there_is_an_error(tmp_path: Path, make: str) -> None:
    """EDGEINFER_MODELS or --models-dir naming no folder is a mistake, not "no models"."""
    folder = tmp_path / "models"
    if make == "a file":
        folder.write_text("not a folder")
    what = "does not exist" if make == "absent" else "is not a folder"
    for call in (
        lambda: list_models(folder),
        lambda: select("fire", ["B7"], "landsat", folder),
        lambda: get_model("fire_any", folder),
    ):
        with pytest.raises(ModelError, match=rf"models folder {folder} {what}; .*EDGEINFER_MODELS"):
            call()


def test_a_broken_model_is_skipped_with_a_warning_naming_it(
    models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One junk .onnx must not hide the good models: it is logged (WARNING, so -q shows it)
    with its file and the fix, kept in broken(), and an error only when asked for by name."""
    (models_dir / "fire_junk.onnx").write_bytes(b"garbage")
    reg = ModelRegistry(models_dir)
    with caplog.at_level("WARNING", logger="edgeinfer.detect.registry"):
        names = [m.name for m in reg.list_models()]
    assert names == ["cloud_s2", "fire_any", "fire_landsat", "fire_landsat_v2", "ship_sar"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "fire_junk.onnx is not a readable ONNX model" in warnings[0]
    assert "edgeinfer models build" in warnings[0]
    assert list(reg.broken()) == [models_dir / "fire_junk.onnx"]
    assert reg.get_model("fire_landsat").name == "fire_landsat"
    assert select("fire", ["B5", "B6", "B7"], "landsat", models_dir).name == "fire_landsat_v2"
    with pytest.raises(ModelError, match=r"model fire_junk cannot be used: .*fire_junk\.onnx"):
        reg.get_model("fire_junk")
    with pytest.raises(ModelError, match=r"fire_junk\.onnx is not a readable ONNX model"):
        reg.check_names(["fire_any", "fire_junk"])


def test_a_folder_of_only_broken_models_names_them(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"garbage")
    reg = ModelRegistry(tmp_path)
    assert reg.list_models() == []
    with pytest.raises(ModelError, match=r"no models in .*skipped broken model files a\.onnx"):
        reg.check_not_empty()
    with pytest.raises(ModelError, match=r"no fire model in .*broken model files a\.onnx"):
        reg.select("fire", ["B7"], "landsat")


def test_duplicate_names_are_refused(models_dir: Path) -> None:
    threshold_model(models_dir / "x", "fire_any", "fire", ("B12",))
    (models_dir / "x" / "fire_any.onnx").rename(models_dir / "zz.onnx")
    with pytest.raises(ModelError, match=r"both call themselves 'fire_any'"):
        list_models(models_dir)


def test_default_dir_env_then_repo(monkeypatch: pytest.MonkeyPatch, models_dir: Path) -> None:
    monkeypatch.delenv(MODELS_ENV, raising=False)
    repo = Path(edgeinfer.__file__).resolve().parents[1]
    assert default_models_dir() == repo / "models"
    monkeypatch.setenv(MODELS_ENV, str(models_dir))
    assert default_models_dir() == models_dir
    assert ModelRegistry().get_model("ship_sar").detector == "ship"


def test_prefer_picks_a_named_model_where_it_fits_and_the_default_elsewhere(
    models_dir: Path,
) -> None:
    bands = ["B5", "B6", "B7", "B12"]
    assert select("fire", bands, "landsat", models_dir).name == "fire_landsat_v2"
    # preferred over the higher version and the exact product, where it fits
    assert select("fire", bands, "landsat", models_dir, ["fire_landsat"]).name == "fire_landsat"
    assert select("fire", bands, "landsat", models_dir, ["x", "fire_any"]).name == "fire_any"
    # where it does not fit (no B5-B7 in a Sentinel-2 scene), the default stays
    s2 = ["B8A", "B11", "B12"]
    assert select("fire", s2, "sentinel2", models_dir, ["fire_landsat"]).name == "fire_any"
    # a preferred model of another detector changes nothing
    assert select("ship", ["VV"], "sar", models_dir, ["fire_any"]).name == "ship_sar"
    registry = ModelRegistry(models_dir)
    registry.check_names(["fire_any", "ship_sar"])
    with pytest.raises(UnknownNameError, match=r"unknown model 'fire_anny'.*fire_any"):
        registry.check_names(["fire_any", "fire_anny"])
