"""ship_optical_cnn's training script: the U-Net depth and width, the step count, the glint
and the seed chosen on the command line (``--widths``, ``--steps``, ``--glint``, ``--seed``)
reach the training configuration, the committed defaults stay what the card records, and a
deeper U-Net rebuilds as ONNX equal to torch. No training happens here (the CLI test
replaces the training functions; the ONNX test uses untrained weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeinfer.models_build.ship_cnn import TRAIN_DIR, _load
from edgeinfer.models_build.train import ship_optical_cnn as script
from edgeinfer.models_build.train import ship_optical_crops

B_WIDTHS = (16, 32, 64, 128)


def test_cv_options_reach_cross_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake_cv(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return {"folds": []}

    monkeypatch.setattr(script, "cross_validate", fake_cv)
    argv = ["cv", "--data", str(tmp_path), "--keep", str(tmp_path / "folds")]
    assert (
        script.main(
            [*argv, "--widths", "16,32,64,128", "--steps", "2000", "--glint", "0.1", "--seed", "2"]
        )
        == 0
    )
    assert script.main(argv) == 0
    (data, models, steps, folds, keep, widths, glint, seed), defaults = calls
    assert (data, models, steps, folds, keep) == (
        tmp_path,
        Path("models"),
        2000,
        None,
        tmp_path / "folds",
    )
    assert widths == B_WIDTHS and glint == 0.1 and seed == 2
    assert defaults[2] == script.STEPS and defaults[5] == script.WIDTHS and defaults[6] == 0.0
    assert defaults[7] == script.SEED == 0  # the committed weights' seed


def test_train_options_reach_train(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake_train(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return {"train_items": list(args[1])}

    monkeypatch.setattr(script, "load_windows", lambda data: {"b": None, "a": None})
    monkeypatch.setattr(script, "train", fake_train)
    out = tmp_path / "w.npz"
    argv = ["train", "--data", str(tmp_path), "--out", str(out), "--widths", "8,16,32,64"]
    assert script.main([*argv, "--steps", "7", "--seed", "5"]) == 0
    ((_, items, target, name, steps, widths, glint, seed),) = calls
    assert (items, target, name, steps, widths, glint, seed) == (
        ["a", "b"],
        out,
        tmp_path.name,
        7,
        (8, 16, 32, 64),
        0.0,
        5,
    )


@pytest.mark.parametrize("text", ["-0.1", "1.5", "lots", "nan"])
def test_bad_glint_is_refused_naming_the_fix(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        script.main(["cv", "--data", "d", "--glint", text])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--glint" in err and "reflectance in [0, 1)" in err


def test_glint_is_a_nearly_flat_offset_on_every_band() -> None:
    """Sun glint (``--glint``): the same offset on every pixel of a band, between 0 and the
    largest asked for times the spectral spread, and nearly flat across the bands."""
    rng = np.random.default_rng(1)
    x = np.full((5, 8, 8), 0.02, np.float32)
    offsets = []
    for _ in range(200):
        out = ship_optical_crops.add_glint(x, rng, 0.1)
        assert out.dtype == np.float32 and out.shape == x.shape
        d = out - x
        assert np.allclose(d, d[:, :1, :1], atol=1e-7)  # uniform within each band
        offsets.append(d[:, 0, 0])
    o = np.array(offsets)
    lo, hi = ship_optical_crops.GLINT_SPECTRAL
    assert o.min() >= 0.0 and o.max() <= 0.1 * hi + 1e-6 and o.max() > 0.09
    nonzero = o[o.min(axis=1) > 1e-3]
    assert (nonzero.max(axis=1) / nonzero.min(axis=1)).max() <= hi / lo + 1e-4


@pytest.mark.parametrize("text", ["16", "16,x,64", "16,0,64", ""])
def test_bad_widths_are_refused_naming_the_fix(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        script.main(["cv", "--data", "d", "--widths", text])
    assert exit_info.value.code == 2
    assert "--widths" in capsys.readouterr().err


def test_committed_defaults_are_what_the_committed_weights_record() -> None:
    """The options change nothing unless given: the defaults are the committed model's."""
    weights = TRAIN_DIR / "ship_optical_cnn.npz"
    if not weights.is_file():
        pytest.skip("no committed ship_optical_cnn weights")
    _, provenance = _load(weights)
    assert tuple(provenance["widths"]) == script.WIDTHS
    assert provenance["steps"] == script.STEPS


def test_a_four_level_unet_trains_and_rebuilds_as_onnx(tmp_path: Path) -> None:
    """``train`` with 0 steps writes the 4-level network's initial weights and provenance; the
    ONNX builder (depth read from the weights) computes what torch computes on an odd-sized
    input (three ceil-mode poolings, upsampling back to each skip's size)."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from edgeinfer.models_build.ship_optical_cnn import PROBABILITY, build_ship_optical_cnn

    path = tmp_path / "b.npz"
    provenance = script.train({}, [], path, "synthetic", steps=0, widths=B_WIDTHS)
    assert provenance["widths"] == list(B_WIDTHS) and provenance["steps"] == 0
    weights, _ = _load(path)
    assert weights["enc3.0.weight"].shape == (64, 32, 3, 3)
    assert weights["mid.0.weight"].shape == (128, 64, 3, 3)
    assert weights["dec3.0.weight"].shape == (64, 128 + 64, 3, 3)
    net = script._net(B_WIDTHS)
    net.load_state_dict({k: torch.from_numpy(a) for k, a in weights.items()})

    rng = np.random.default_rng(1)
    x = rng.uniform(0.01, 0.6, (1, 5, 45, 37)).astype(np.float32)
    v = np.ones((1, 1, 45, 37), np.float32)
    v[..., 30:] = 0.0  # padding past a scene edge
    with torch.no_grad():
        logits = net(torch.from_numpy(x), torch.from_numpy(v)).numpy()[0, 0]
    # Shift the head so that about half the pixels are ships: the comparison is not vacuous.
    weights["head.bias"] = weights["head.bias"] - np.float32(np.median(logits[:, :30]))
    arrays: dict[str, Any] = dict(weights)
    np.savez(path, provenance=np.array(json.dumps(provenance)), **arrays)
    net.load_state_dict({k: torch.from_numpy(a) for k, a in weights.items()})
    with torch.no_grad():
        prob = torch.sigmoid(net(torch.from_numpy(x), torch.from_numpy(v))).numpy()[0, 0]

    model = build_ship_optical_cnn(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    cls, conf = session.run(None, {"x": x * v, "valid": v})
    cls, conf = cls[0, 0], conf[0, 0]
    valid = v[0, 0] > 0
    sure = np.abs(prob - PROBABILITY) > 1e-4
    expect = np.where(valid & (prob > PROBABILITY), 2, 0)
    np.testing.assert_array_equal(cls[sure], expect[sure])
    np.testing.assert_allclose(conf[cls == 2], prob[cls == 2], atol=1e-4)
    assert 100 < (cls == 2).sum() < valid.sum() - 100
    assert not cls[~valid].any()
    algorithm = {p.key: p.value for p in model.metadata_props}["edgeinfer.algorithm"]
    assert "4-level U-Net (widths [16, 32, 64, 128])" in algorithm


def test_unet_refuses_a_single_level() -> None:
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="at least two levels"):
        script._net((16,))
