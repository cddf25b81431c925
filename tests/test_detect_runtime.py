"""onnxruntime sessions and the batching Detector, with tiny threshold graphs."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from test_detect_helpers import make_tile, threshold_model

from edgeinfer.bench.inputs import bench_input
from edgeinfer.detect.metadata import load_model_info
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import (
    Detector,
    RuntimeOptions,
    create_session,
    import_onnxruntime,
    requested_providers,
)
from edgeinfer.errors import ConfigError, ModelError, UnknownNameError
from edgeinfer.scene.types import Tile


def _random_tiles(n: int, bands: tuple[str, ...], size: int = 16, seed: int = 0) -> list[Tile]:
    rng = np.random.default_rng(seed)
    tiles = []
    for i in range(n):
        data = rng.uniform(0.0, 1.0, (len(bands), size, size))
        valid = rng.uniform(size=(size, size)) > 0.2
        tiles.append(make_tile(data, valid, bands=bands, tile_id=f"t{i}"))
    return tiles


def test_threshold_output_matches_numpy(tmp_path: Path) -> None:
    info = load_model_info(
        threshold_model(tmp_path, bands=("B6", "B7"), band_index=1, threshold=0.5, cls_value=2)
    )
    det = Detector(info, RuntimeOptions(provider="cpu"))
    tiles = _random_tiles(3, ("B6", "B7"))
    outs = det.run(tiles)
    assert det.provider == "cpu"
    for tile, out in zip(tiles, outs, strict=True):
        truth = np.where(tile.valid & (tile.data[1] > 0.5), 2, 0)
        np.testing.assert_array_equal(out.cls, truth)
        np.testing.assert_array_equal(out.confidence, (truth > 0).astype(np.float32))
        assert out.cls.dtype == np.uint8 and out.tile_id == tile.tile_id
    assert det.tiles_run == 3 and det.inference_s > 0


def test_bands_are_selected_and_ordered_by_name(tmp_path: Path) -> None:
    # model reads its 2nd band, B7; the tile stores B7 first among four bands
    info = load_model_info(threshold_model(tmp_path, bands=("B5", "B7"), band_index=1))
    det = Detector(info, RuntimeOptions("cpu"))
    data = np.zeros((4, 8, 8), dtype=np.float32)
    data[0, 2, 3] = 0.9  # B7 -> a detection
    data[3, 5, 5] = 0.9  # B5 -> no detection
    tile = make_tile(data, bands=("B7", "B1", "B2", "B5"))
    (out,) = det.run([tile])
    assert list(zip(*np.nonzero(out.cls), strict=True)) == [(2, 3)]


def test_scaling_is_applied_before_the_graph(tmp_path: Path) -> None:
    # DN 5000 * 1e-4 = 0.5 is not > 0.5; DN 6000 -> 0.6 is
    info = load_model_info(
        threshold_model(tmp_path, threshold=0.5, scaling={"scale": 1e-4, "offset": 0.0})
    )
    data = np.array([[[5000.0, 6000.0]]], dtype=np.float32)
    (out,) = Detector(info, RuntimeOptions("cpu")).run([make_tile(data)])
    np.testing.assert_array_equal(out.cls, [[0, 1]])


def test_invalid_pixels_never_detect_even_if_the_graph_says_so(tmp_path: Path) -> None:
    # threshold -1 marks every pixel, invalid ones (which carry 0) included
    info = load_model_info(threshold_model(tmp_path, threshold=-1.0, offset=None))
    valid = np.zeros((8, 8), dtype=bool)
    valid[2:4, 2:4] = True
    (out,) = Detector(info, RuntimeOptions("cpu")).run([make_tile(np.zeros((1, 8, 8)), valid)])
    np.testing.assert_array_equal(out.cls > 0, valid)
    assert out.confidence[~valid].max() == 0.0


def test_batching_equals_one_by_one(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path, bands=("B6", "B7"), band_index=0))
    tiles = _random_tiles(7, ("B6", "B7"), seed=3)
    batched = Detector(info, RuntimeOptions("cpu"), batch_size=3).run(tiles)
    single = Detector(info, RuntimeOptions("cpu"), batch_size=1)
    one_by_one = [single.run([t])[0] for t in tiles]
    assert [o.tile_id for o in batched] == [t.tile_id for t in tiles]
    for a, b in zip(batched, one_by_one, strict=True):
        np.testing.assert_array_equal(a.cls, b.cls)
        np.testing.assert_array_equal(a.confidence, b.confidence)


def test_mixed_tile_sizes_keep_order(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path))
    tiles = _random_tiles(2, ("B7",), size=8) + _random_tiles(2, ("B7",), size=12, seed=1)
    tiles = [tiles[0], tiles[2], tiles[1], tiles[3]]
    outs = Detector(info, RuntimeOptions("cpu"), batch_size=4).run(tiles)
    assert [o.cls.shape for o in outs] == [(8, 8), (12, 12), (8, 8), (12, 12)]
    for tile, out in zip(tiles, outs, strict=True):
        np.testing.assert_array_equal(out.cls, tile.valid & (tile.data[0] > 0.5))


def test_input_buffers_are_reused(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path))
    det = Detector(info, RuntimeOptions("cpu"), batch_size=4)
    det.run(_random_tiles(4, ("B7",)))
    buffer = det._x
    det.run(_random_tiles(2, ("B7",), seed=5))
    assert det._x is buffer


def test_pixel_size_aux_input_is_fed(tmp_path: Path) -> None:
    # threshold = pixel_size_m * 0.01: 30 m -> 0.3
    info = load_model_info(threshold_model(tmp_path, threshold=0.01, pixel_size_aux=True))
    data = np.array([[[0.25, 0.35]]])
    det = Detector(info, RuntimeOptions("cpu"))
    (out,) = det.run([make_tile(data, pixel_size_m=30.0)])
    np.testing.assert_array_equal(out.cls, [[0, 1]])
    (out,) = det.run([make_tile(data, pixel_size_m=20.0)])
    np.testing.assert_array_equal(out.cls, [[1, 1]])
    with pytest.raises(
        ModelError, match=r"needs the pixel size but scene scene has no .*--pixel-size-m"
    ):
        det.run([make_tile(data)])


def test_tile_without_the_models_bands_names_model_and_scene(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path, name="fire_x", bands=("B5", "B7")))
    tile = make_tile(np.zeros((1, 4, 4)), bands=("B7",), scene_id="LC08_patch")
    with pytest.raises(ModelError, match=r"fire_x needs bands B5 that scene LC08_patch lacks"):
        Detector(info, RuntimeOptions("cpu")).run([tile])


def test_model_whose_inputs_do_not_fit_is_refused(tmp_path: Path) -> None:
    # metadata claims 3 bands but the graph's x takes 1: caught when the session is made
    info = load_model_info(threshold_model(tmp_path, name="fire_x"))
    lying = dataclasses.replace(info, bands=("B5", "B6", "B7"), units=("reflectance",) * 3)
    with pytest.raises(ModelError, match=r"fire_x .*input x takes 1 bands.*lists 3"):
        Detector(lying, RuntimeOptions("cpu"))


def test_unit_mismatch_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    info = load_model_info(threshold_model(tmp_path))
    det = Detector(info, RuntimeOptions("cpu"))
    tiles = [make_tile(np.zeros((1, 4, 4)), units=["dn"], tile_id=f"t{i}") for i in range(2)]
    with caplog.at_level(logging.WARNING, logger="edgeinfer.detect"):
        det.run(tiles)
    assert [r.message for r in caplog.records].count(
        "model thr_fire expects band B7 in reflectance but scene scene has it in dn; results "
        "may be meaningless (check --product)"
    ) == 1


@pytest.mark.parametrize("asked", ["cuda", "tensorrt"])
def test_gpu_provider_falls_back_to_cpu_with_a_log_line(
    tmp_path: Path, asked: str, caplog: pytest.LogCaptureFixture
) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime offers CUDA, so there is no fallback to observe")
    path = threshold_model(tmp_path, name="fire_x")
    with caplog.at_level(logging.INFO, logger="edgeinfer.detect"):
        session, actual = create_session(str(path), RuntimeOptions(asked), label="fire_x")
    assert actual == "cpu"
    assert session.get_providers()[0] == "CPUExecutionProvider"
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"provider {asked} requested" in m and "falling back" in m for m in messages)
    assert "model fire_x runs on cpu (CPUExecutionProvider)" in messages


def test_auto_uses_what_is_available() -> None:
    assert requested_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert requested_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    full = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert requested_providers("tensorrt", full) == full
    assert requested_providers("auto", full) == full[1:]


def test_unknown_provider_and_bad_options() -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown provider 'tpu'.*auto, cpu, cuda, tensorrt"
    ):
        RuntimeOptions(provider="tpu")
    with pytest.raises(UnknownNameError, match=r"optimization level 'max'"):
        RuntimeOptions(optimization="max")
    with pytest.raises(ConfigError, match=r"intra_op_threads = -1"):
        RuntimeOptions(intra_op_threads=-1)


def test_threads_and_optimisation_reach_the_session(tmp_path: Path) -> None:
    path = threshold_model(tmp_path)
    opts = RuntimeOptions("cpu", intra_op_threads=1, inter_op_threads=1, optimization="basic")
    session, _ = create_session(str(path), opts)
    so = session.get_session_options()
    assert so.intra_op_num_threads == 1
    assert so.inter_op_num_threads == 1
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    key = "session.intra_op.allow_spinning"
    assert so.get_session_config_entry(key) == "0"  # idle threads sleep unless asked
    spinning, _ = create_session(str(path), RuntimeOptions("cpu", allow_spinning=True))
    assert spinning.get_session_options().get_session_config_entry(key) == "1"


def test_unloadable_model_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"junk")
    with pytest.raises(ModelError, match=r"onnxruntime cannot load model junk.*models build"):
        create_session(str(path), label="junk")


def test_missing_onnxruntime_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelError, match=r"pip install edgeinfer\[cpu\].*edgeinfer\[gpu\]"):
        import_onnxruntime()


@pytest.mark.gpu
def test_cuda_runs_and_matches_cpu(tmp_path: Path) -> None:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(
            "CUDAExecutionProvider absent: this environment has the CPU onnxruntime "
            "(install edgeinfer[gpu] on a machine with an NVIDIA GPU and CUDA 13)"
        )
    info = load_model_info(threshold_model(tmp_path, bands=("B6", "B7"), band_index=1))
    gpu = Detector(info, RuntimeOptions("cuda"))
    if gpu.provider != "cuda":
        pytest.skip("onnxruntime-gpu is installed but the CUDA libraries did not load")
    tiles = _random_tiles(5, ("B6", "B7"), size=64)
    for a, b in zip(gpu.run(tiles), Detector(info, RuntimeOptions("cpu")).run(tiles), strict=True):
        np.testing.assert_array_equal(a.cls, b.cls)


@pytest.mark.gpu
@pytest.mark.parametrize("name", [m.name for m in ModelRegistry().list_models()])
def test_every_committed_model_runs_on_cuda_and_agrees_with_cpu(name: str) -> None:
    """Each model on CUDA over synthetic tiles (calm land or sea clutter: nothing to find, so
    the component and CFAR graphs see empty tensors) and sample tiles when one fits. Found on
    an H100: the component-labelling loop reduced an empty tensor, which the CPU provider
    allows and CUDA refuses. Classes may differ on a handful of pixels, where a CNN's
    probability sits on the threshold and CUDA's summation order moves it (1 in 500,000 seen)."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("CUDAExecutionProvider absent: install edgeinfer[gpu] on an NVIDIA GPU machine")
    info = ModelRegistry().get_model(name)
    gpu = Detector(info, RuntimeOptions("cuda"), batch_size=4)
    if gpu.provider != "cuda":
        pytest.skip("onnxruntime-gpu is installed but the CUDA libraries did not load")
    cpu = Detector(info, RuntimeOptions("cpu"), batch_size=4)
    tiles = bench_input(info, 256, 4, Path("/nonexistent")).tiles + bench_input(info, 256, 4).tiles
    for a, b in zip(gpu.run(tiles), cpu.run(tiles), strict=True):
        assert np.mean(a.cls == b.cls) >= 0.9999, a.tile_id


def test_gpu_libraries_are_preloaded_once_and_their_complaints_logged(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """onnxruntime-gpu's preload_dlls() prints what it cannot load; that must reach the log,
    not stdout (``--json`` output), and a failure must not stop the session."""
    from edgeinfer.detect import sessions

    calls: list[int] = []

    class FakeOrt:
        @staticmethod
        def preload_dlls() -> None:
            calls.append(1)
            print("Failed to load libcudart.so.13: cannot open shared object file")
            raise RuntimeError("Invalid parameter of directory")

    monkeypatch.setattr(sessions, "_PRELOADED", [])
    with caplog.at_level(logging.WARNING, logger="edgeinfer.detect.sessions"):
        sessions.preload_gpu_libraries(FakeOrt())
        sessions.preload_gpu_libraries(FakeOrt())
    assert calls == [1]
    assert capsys.readouterr().out == ""
    assert "libcudart.so.13" in caplog.text and "Invalid parameter of directory" in caplog.text
    monkeypatch.setattr(sessions, "_PRELOADED", [])
    sessions.preload_gpu_libraries(object())  # an onnxruntime before 1.21: nothing to call
    assert sessions._PRELOADED == [True]


def test_shipped_models_take_the_units_their_builders_declare(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ship_sar's CFAR and ship_sar_cnn's standardised log are gain- and domain-invariant
    (models/ship_sar.md), so a SAR band in amplitude, intensity or sigma0 draws no unit warning
    (it did on every HRSID / Sentinel-1 PNG, audit 13a); an optical model still refuses DN."""
    reg = ModelRegistry()
    for name in ("ship_sar", "ship_sar_vv", "ship_sar_cnn"):
        info = reg.get_model(name)
        assert all(info.takes_unit(0, u) for u in ("sigma0", "amplitude", "intensity")), name
        assert not info.takes_unit(0, "reflectance") and not info.takes_unit(0, "dn"), name
    vnir = reg.get_model("cloud_vnir")
    assert vnir.takes_unit(0, "reflectance") and not vnir.takes_unit(0, "dn")

    cnn = Detector(reg.get_model("ship_sar_cnn"), RuntimeOptions("cpu"))
    rng = np.random.default_rng(0)
    tiles = [
        make_tile(rng.uniform(0.01, 0.2, (1, 16, 16)), bands=("SAR",), units=[unit])
        for unit in ("sigma0", "intensity", "amplitude")
    ]
    with caplog.at_level(logging.DEBUG, logger="edgeinfer.detect"):
        cnn.run(tiles)
    assert not [r for r in caplog.records if "expects band" in r.message]


def test_a_foreign_model_with_a_shipped_name_gets_no_unit_exemption(tmp_path: Path) -> None:
    """The exemption is the builder's declaration: a model that edgeinfer's builders did not
    make (no ``edgeinfer.builder``) is held to its own ``edgeinfer.units``."""
    info = load_model_info(
        threshold_model(tmp_path, "ship_sar", "ship", ("SAR",), units=["sigma0"], product="sar")
    )
    assert info.takes_unit(0, "sigma0") and not info.takes_unit(0, "amplitude")
