"""The learned ship models: the torch-free ONNX rebuild equals the trained torch network (when
torch is installed), the input normalisation makes them gain- and power-invariant, and the
hold-out split is the documented one and is honoured by `edgeinfer eval ship`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from edgeinfer.models_build import ship_cnn
from edgeinfer.models_build.train.ship_cnn import split

ort = pytest.importorskip("onnxruntime")
KINDS = sorted(k.removeprefix("ship_").removesuffix("_cnn") for k in ship_cnn.BUILDERS)
pytestmark = pytest.mark.skipif(not KINDS, reason="no trained ship CNN weights committed")


def session(kind: str) -> object:
    model = ship_cnn.build_cnn(kind)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(sess: object, x: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = valid.astype(np.float32)[None, None]
    cls, conf = sess.run(None, {"x": (x[None] * v).astype(np.float32), "valid": v})  # type: ignore[attr-defined]
    return cls[0, 0], conf[0, 0]


def sample(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A real held-out item, cropped to an odd size (tests ceil pooling and resizing)."""
    from rasterio.windows import Window

    from edgeinfer.eval.ship import optical_scene
    from edgeinfer.scene import open_scene

    _, provenance = ship_cnn._load(ship_cnn.TRAIN_DIR / f"ship_{kind}_cnn.npz")
    stem = provenance["held_out_items"][0]
    if kind == "sar":
        path = shared_path("ships_sar_hrsid_minitest", "images", f"{stem}.jpg")
        with open_scene(path) as scene:
            data, valid = scene.read(Window(0, 0, scene.width, scene.height))
        data = data[:1]
    else:
        path = shared_path("ships_optical_sentinel2_sen2ships", "images", f"{stem}.tif")
        with open_scene(path) as scene:
            opt = optical_scene(scene)
            data, valid = opt.data, opt.valid
    return data[:, :301, :263], valid[:301, :263]


def test_split_holds_out_every_third_sorted_item() -> None:
    train, held = split(["d", "a", "c", "b", "e", "f", "g"])
    assert held == ["c", "f"]
    assert train == ["a", "b", "d", "e", "g"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_onnx_rebuild_equals_the_torch_network(kind: str) -> None:
    torch = pytest.importorskip("torch")
    from edgeinfer.models_build.train.ship_cnn import _net

    weights, provenance = ship_cnn._load(ship_cnn.TRAIN_DIR / f"ship_{kind}_cnn.npz")
    x, valid = sample(kind)
    net = _net(len(provenance.get("bands", ["SAR"])))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    v = torch.from_numpy(valid.astype(np.float32)[None, None])
    with torch.no_grad():
        prob = torch.sigmoid(net(torch.from_numpy(x[None]) * v, v)).numpy()[0, 0]
    cls, conf = run(session(kind), x, valid)
    np.testing.assert_allclose(np.where(cls == 2, conf, 0), np.where(cls == 2, prob, 0), atol=1e-4)
    decided = np.abs(prob - 0.5) > 1e-4
    np.testing.assert_array_equal((cls == 2)[decided], (prob > 0.5)[decided] & valid[decided])


@pytest.mark.parametrize("kind", KINDS)
def test_gain_and_power_do_not_change_the_result(kind: str) -> None:
    x, valid = sample(kind)
    sess = session(kind)
    base, _ = run(sess, x, valid)
    for changed in (x * np.float32(37.0), x * np.float32(1e-3)):
        got, _ = run(sess, changed, valid)
        assert np.mean(got != base) < 1e-3
    if kind == "sar":  # amplitude -> intensity
        got, _ = run(sess, np.square(x), valid)
        assert np.mean(got != base) < 1e-3


def test_eval_never_scores_a_model_on_its_training_items(tmp_path: Path) -> None:
    if "sar" not in KINDS:
        pytest.skip("no SAR CNN weights")
    from edgeinfer.eval.ship import evaluate_ship

    _, provenance = ship_cnn._load(ship_cnn.TRAIN_DIR / "ship_sar_cnn.npz")
    src = shared_path("ships_sar_hrsid_minitest")
    stems = [provenance["train_items"][0], provenance["held_out_items"][0]]
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
        for path in (src / sub).iterdir():
            if path.stem in stems:
                (tmp_path / sub / path.name).symlink_to(path)
    (tmp_path / "README.md").write_text((src / "README.md").read_text())
    result = evaluate_ship(tmp_path, model_names=["ship_sar_cnn"])["ship_sar_cnn"]
    assert result["excluded_training_items"] == 1
    assert [i["item"] for i in result["per_image"]] == [stems[1]]
    assert json.loads(json.dumps(result))  # JSON-ready


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "folder"),
    [("sar", "ships_sar_hrsid_minitest"), ("optical", "ships_optical_sentinel2_sen2ships")],
)
def test_training_runs_and_its_weights_rebuild_as_onnx(
    kind: str, folder: str, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from edgeinfer.models_build.train.ship_cnn import train

    data = shared_path(folder)
    weights = tmp_path / f"ship_{kind}_cnn.npz"
    provenance = train(data, kind, weights, steps=2, batch=2)
    stems = sorted(p.stem for p in (data / "images").iterdir())
    assert provenance["held_out_items"] == split(stems)[1]
    assert provenance["seed"] == 0 and provenance["kind"] == kind
    model = ship_cnn.build_cnn(kind, weights)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    channels = len(provenance["bands"])
    x = np.random.default_rng(0).gamma(2.0, 0.05, (channels, 45, 37)).astype(np.float32)
    cls, conf = run(sess, x, np.ones((45, 37), bool))
    assert cls.shape == (45, 37) and set(np.unique(cls)) <= {0, 2}
    assert np.all((conf >= 0.0) & (conf <= 1.0))
