"""ship_optical_cnn: the torch-free ONNX rebuild equals the trained torch network (when torch is
installed), the build is byte-identical, training targets keep touching ships apart, and the
committed model finds at least the recall its card states on the real sen2ships windows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from conftest import shared_path

from edgeinfer.models_build import ship_optical_cnn as builder
from edgeinfer.models_build.ship_cnn import TRAIN_DIR, _load
from edgeinfer.models_build.train.ship_optical_cnn import FOLDS
from edgeinfer.models_build.train.ship_optical_crops import target_mask

ort = pytest.importorskip("onnxruntime")
WEIGHTS = TRAIN_DIR / "ship_optical_cnn.npz"
MODELS = Path(__file__).resolve().parents[1] / "models"
DATA = "ships_optical_sentinel2_sen2ships"
needs_weights = pytest.mark.skipif(not WEIGHTS.is_file(), reason="no committed weights")


def session() -> object:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    model = builder.build_ship_optical_cnn()
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def window(stem: str) -> tuple[np.ndarray, np.ndarray]:
    from edgeinfer.eval.ship import optical_scene
    from edgeinfer.scene import open_scene

    with open_scene(shared_path(DATA, "images", f"{stem}.tif")) as scene:
        opt = optical_scene(scene)
        return opt.data, opt.valid


def test_target_mask_drops_only_pixels_where_two_ships_touch() -> None:
    ids = np.zeros((5, 7), np.int32)
    ids[1:4, 1:3] = 1  # ship 1, columns 1-2
    ids[1:4, 3:5] = 2  # ship 2 alongside, columns 3-4
    ids[1:4, 6] = 3  # ship 3, one empty column away
    out = target_mask(ids)
    expected = ids > 0
    expected[1:4, 2:4] = False  # the two columns where ships 1 and 2 meet
    np.testing.assert_array_equal(out, expected)


def test_folds_partition_the_nine_windows_sorted_index_mod_3() -> None:
    stems = sorted(s for fold in FOLDS for s in fold)
    assert len(stems) == len(set(stems)) == 9
    for k, fold in enumerate(FOLDS):
        assert fold == tuple(s for i, s in enumerate(stems) if i % 3 == k)


@needs_weights
def test_build_is_byte_identical_and_matches_the_committed_model() -> None:
    first = builder.build_ship_optical_cnn().SerializeToString(deterministic=True)
    second = builder.build_ship_optical_cnn().SerializeToString(deterministic=True)
    assert first == second
    assert (MODELS / "ship_optical_cnn.onnx").read_bytes() == first


@needs_weights
def test_onnx_equals_the_torch_network_on_a_real_window() -> None:
    torch = pytest.importorskip("torch")
    from edgeinfer.models_build.train.ship_optical_cnn import _net

    data, valid = window("genoa_20230710")
    x, v = data[:, :301, :263], valid[:301, :263].copy()
    v[:, 250:] = False  # padding past a scene edge
    weights, _ = _load(WEIGHTS)
    net = _net()
    net.load_state_dict({k: torch.from_numpy(a) for k, a in weights.items()})
    vf = v.astype(np.float32)[None, None]
    xin = (x[None] * vf).astype(np.float32)
    with torch.no_grad():
        prob = torch.sigmoid(net(torch.from_numpy(xin), torch.from_numpy(vf))).numpy()[0, 0]
    cls, conf = session().run(None, {"x": xin, "valid": vf})  # type: ignore[attr-defined]
    cls, conf = cls[0, 0], conf[0, 0]
    sure = np.abs(prob - builder.PROBABILITY) > 1e-4
    expect = np.where(v & (prob > builder.PROBABILITY), 2, 0)
    np.testing.assert_array_equal(cls[sure], expect[sure])
    np.testing.assert_allclose(conf[cls == 2], prob[cls == 2], atol=1e-4)
    assert not cls[~v].any()
    assert (cls == 2).sum() > 10  # the crop holds ships; the comparison is not vacuous


@needs_weights
def test_recall_on_the_dev_windows_is_at_least_the_cross_validated_one() -> None:
    """The committed model (trained on all nine windows) scored with `eval ship`'s runtime
    path and matching rule reaches at least the pooled held-out recall its card records."""
    from edgeinfer.detect.registry import ModelRegistry
    from edgeinfer.detect.runtime import Detector, RuntimeOptions
    from edgeinfer.eval.matching import MatchResult, match_boxes
    from edgeinfer.eval.scenes import run_model
    from edgeinfer.eval.ship import find_items, optical_scene, read_instances
    from edgeinfer.scene import open_scene

    scores = json.loads((MODELS / "scores" / "ship_optical_cnn.json").read_text())
    stated = scores[f"cv_ship_{DATA}"]["pooled_ship_optical_cnn"]["recall"]
    info = ModelRegistry(MODELS).get_model("ship_optical_cnn")
    detector = Detector(info, RuntimeOptions(intra_op_threads=1))
    total = MatchResult(0, 0, 0)
    for item in find_items(shared_path(DATA)):
        with open_scene(item.image) as raw:
            run = run_model(optical_scene(raw), detector)
        total = total + match_boxes([a.bbox_px for a in run.alerts], read_instances(item.mask)[0])
    assert total.n_true == 134
    assert total.recall >= stated - 0.02


@needs_weights
def test_the_classical_model_stays_the_default_for_sentinel2_ships() -> None:
    """The CNN did not clearly beat ship_optical on held-out windows (card), so the registry
    (exact product, then higher version) keeps choosing ship_optical."""
    from edgeinfer.detect.registry import ModelRegistry

    registry = ModelRegistry(MODELS)
    assert registry.get_model("ship_optical_cnn").version.startswith("0.")
    assert registry.select("ship", ["B02", "B03", "B04", "B08", "B11"], "sentinel2").name == (
        "ship_optical"
    )


@pytest.mark.slow
def test_training_is_deterministic(tmp_path: Path) -> None:
    """Same seed, same data -> the same weights, bit for bit (a short run on two windows)."""
    pytest.importorskip("torch")
    from edgeinfer.models_build.train.ship_optical_cnn import load_windows, train

    windows = load_windows(shared_path(DATA))
    items = ["casablanca_20230426", "honolulu_20230108"]
    small = {s: windows[s] for s in items}
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    train(small, items, a, DATA, steps=3)
    train(small, items, b, DATA, steps=3)
    with np.load(a) as wa, np.load(b) as wb:
        assert wa.files == wb.files
        for key in wa.files:
            np.testing.assert_array_equal(wa[key], wb[key])


def _with_head_shift(tmp_path: Path, name: str, shift: float, **changes: object) -> Path:
    """A second network: the committed one with its head's bias moved by ``shift`` (so its
    probabilities differ everywhere), provenance changed by ``changes``."""
    weights, provenance = _load(WEIGHTS)
    weights["head.bias"] = weights["head.bias"] + np.float32(shift)
    path = tmp_path / f"{name}.npz"
    np.savez(path, provenance=np.array(json.dumps({**provenance, **changes})), **weights)
    return path


def _probabilities(
    paths: list[Path], x: np.ndarray, v: np.ndarray, combine: str = "mean"
) -> tuple[np.ndarray, ...]:
    """(ship mask, probability) of ``ship_pixels`` over the networks in ``paths``."""
    from edgeinfer.models_build.onnx_ops import GraphBuilder

    members, provenance = builder.load_members(paths, combine)
    g = GraphBuilder("probabilities", provenance["bands"])
    ship, prob = builder.ship_pixels(g, members, provenance, combine)
    g.set_outputs(ship, prob)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    model = g.model()
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    sess = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    cls, conf = sess.run(None, {"x": x, "valid": v})
    return cls[0, 0].astype(bool), conf[0, 0]


@needs_weights
def test_an_ensemble_averages_its_networks_probabilities(tmp_path: Path) -> None:
    """Several weights files: the probability is the mean of the networks' and a pixel is a
    ship where that mean is > 0.5 (the threshold is not applied per network)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 0.08, (1, 5, 96, 80)).astype(np.float32)
    x[:, :, 40:44, 30:42] = 0.35  # a bright hull on dark water
    x[:, :, 70:72, 10:13] = 0.25
    v = np.ones((1, 1, 96, 80), np.float32)
    v[..., :, 70:] = 0.0  # padding past a scene edge
    other = _with_head_shift(tmp_path, "other", 2.0)
    _, p1 = _probabilities([WEIGHTS], x, v)
    _, p2 = _probabilities([other], x, v)
    ship, p12 = _probabilities([WEIGHTS, other], x, v)
    valid = v[0, 0] > 0
    mean = (p1 + p2) / 2
    np.testing.assert_allclose(p12[valid], mean[valid], atol=1e-6)
    sure = valid & (np.abs(mean - builder.PROBABILITY) > 1e-5)
    np.testing.assert_array_equal(ship[sure], mean[sure] > builder.PROBABILITY)
    assert not ship[~valid].any()
    # the mean decides where the networks disagree, so the test is not vacuous
    disagree = valid & ((p1 > 0.5) != (p2 > 0.5))
    assert disagree.sum() > 10
    # combine="max": the larger probability, a ship where either network says so (OR)
    ship_or, p_max = _probabilities([WEIGHTS, other], x, v, combine="max")
    np.testing.assert_allclose(p_max[valid], np.maximum(p1, p2)[valid], atol=1e-6)
    either = (p1 > builder.PROBABILITY) | (p2 > builder.PROBABILITY)
    sure = valid & (np.abs(np.maximum(p1, p2) - builder.PROBABILITY) > 1e-5)
    np.testing.assert_array_equal(ship_or[sure], either[sure])
    assert (ship_or & ~ship).sum() > 0  # the OR keeps pixels the mean drops


def _ensemble_session(paths: list[Path]) -> Any:
    model = builder.build_ship_optical_cnn(paths)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@needs_weights
def test_an_ensemble_union_is_the_or_of_classical_and_the_ensemble(tmp_path: Path) -> None:
    from edgeinfer.models_build.ship_optical_union import build_ship_optical_union

    other = _with_head_shift(tmp_path, "other", -1.0, seed=1)
    rng = np.random.default_rng(4)
    x = rng.uniform(0.0, 0.08, (1, 5, 64, 64)).astype(np.float32)
    x[:, :, 20:23, 10:30] = 0.4
    v = np.ones((1, 1, 64, 64), np.float32)
    ensemble = _ensemble_session([WEIGHTS, other])
    union_model = build_ship_optical_union([WEIGHTS, other])
    meta = {p.key: p.value for p in union_model.metadata_props}
    assert json.loads(meta["edgeinfer.training"])["ensemble_seeds"] == [0, 1]
    union = ort.InferenceSession(
        union_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    classical = ort.InferenceSession(
        str(MODELS / "ship_optical.onnx"), providers=["CPUExecutionProvider"]
    )
    feeds = {"x": x, "valid": v}
    expect = (ensemble.run(None, feeds)[0] == 2) | (classical.run(None, feeds)[0] == 2)
    np.testing.assert_array_equal(union.run(None, feeds)[0] == 2, expect)
    assert expect.any()


@needs_weights
def test_an_ensemble_of_networks_trained_on_other_windows_is_refused(tmp_path: Path) -> None:
    """``eval ship`` leaves out the windows a model was trained on, read from its metadata,
    so every network of an ensemble must have seen the same ones."""
    other = _with_head_shift(tmp_path, "fold0", 0.0, train_items=["athens_20230818"])
    with pytest.raises(ValueError, match=r"fold0\.npz: its train_items .* training windows"):
        builder.build_ship_optical_cnn([WEIGHTS, other])


def test_an_empty_list_of_weights_or_an_unknown_combine_is_refused() -> None:
    """An explicit empty list is a mistake, not a request for the committed weights."""
    with pytest.raises(ValueError, match="no weights given"):
        builder.build_ship_optical_cnn([])
    with pytest.raises(ValueError, match=r"combine 'median': use one of \['max', 'mean'\]"):
        builder.build_ship_optical_cnn(combine="median")


@needs_weights
def test_the_union_cv_builds_the_ensemble_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """``train.ship_optical_union``: several weights files and ``--combine`` reach the CNN and
    union models that are scored (evaluation replaced; the models are built for real)."""
    from edgeinfer.models_build.train import ship_optical_cnn as cnn_script
    from edgeinfer.models_build.train import ship_optical_union as union_script

    built: dict[str, dict[str, str]] = {}

    def fake_evaluate(data: Path, weights: Any, classical: Path, work: Path, builders: Any) -> Any:
        for name, build in builders.items():
            built[name] = {p.key: p.value for p in build(weights).metadata_props}
        row = {"item": "w", "tp": 1, "n_true": 2, "n_pred": 3, "chance_tp": 0.5}
        return {name: {"per_image": [row]} for name in union_script.SETS}

    monkeypatch.setattr(cnn_script, "evaluate_fold_models", fake_evaluate)
    rows = union_script.score_fold(Path("data"), [WEIGHTS, WEIGHTS], ["w"], MODELS, "max")
    assert rows[0]["ship_optical_union"] == {"tp": 1, "n_true": 2, "n_pred": 3, "chance_tp": 0.5}
    for name in ("ship_optical_cnn", "ship_optical_union"):
        training = json.loads(built[name]["edgeinfer.training"])
        assert training["ensemble_combine"] == "max" and training["ensemble_seeds"] == [0, 0]
