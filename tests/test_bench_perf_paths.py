"""The fast paths issue 7 added keep the results exact: nodata masks from the values read
(vs GDAL's own mask bands), calibration in place, the Detector's in-place batch handling and
its IOBinding path (forced on CPU: the GPU code path tested for fallback), the prefetching
tile reader, and ship extents from per-object moments (vs numpy's covariance)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from test_detect_helpers import make_tile, threshold_model

from edgeinfer.detect import DetectorOutput, load_model_info, objects_from_output
from edgeinfer.detect.lanes import prefetched
from edgeinfer.detect.pipeline import detect_scene
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions, binding_device
from edgeinfer.errors import UnknownNameError
from edgeinfer.scene import iter_tiles, open_scene


def _geotiff(path: Path, dtype: str, nodata: float | None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "uint16":
        data = rng.integers(0, 5, size=(2, 48, 40)).astype(np.uint16) * 1000
    else:
        data = rng.integers(0, 5, size=(2, 48, 40)).astype(np.float32) / 4
    profile = {
        "driver": "GTiff",
        "width": 40,
        "height": 48,
        "count": 2,
        "dtype": dtype,
        "nodata": nodata,
        "crs": CRS.from_epsg(32633),
        "transform": Affine(30.0, 0, 300000.0, 0, -30.0, 5e6),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.scales = (2e-5, 2e-5)
        dst.offsets = (-0.1, -0.1)
    return data


@pytest.mark.parametrize(("dtype", "nodata"), [("uint16", 0), ("uint16", 3000), ("float32", 0.5)])
def test_read_validity_matches_gdal_mask_bands(tmp_path: Path, dtype: str, nodata: float) -> None:
    path = tmp_path / f"s_{dtype}.tif"
    data = _geotiff(path, dtype, nodata)
    window = Window(8, 8, 32, 32)  # reaches past the right edge: padding is invalid
    with rasterio.open(path) as ds:  # independent truth: GDAL's nodata mask bands
        masks = ds.read_masks(window=Window(8, 8, 32, 32), boundless=False)
    with open_scene(path, product="geotiff") as scene:
        result = scene.read_arrays(window)
    inner = result.valid[:, :32]
    np.testing.assert_array_equal(inner, (masks > 0).all(axis=0))
    assert not result.valid[:, 32:].any()
    # calibration in place: DN * scale + offset in float32 where valid, 0 elsewhere
    dn = data[:, 8:40, 8:40].astype(np.float32)
    expected = np.where(inner, dn * np.float32(2e-5) + np.float32(-0.1), 0.0)
    np.testing.assert_allclose(result.data[:, :, :32], expected, rtol=1e-6, atol=1e-7)
    assert (result.data[:, :, 32:] == 0).all()


def _random_tiles(n: int, size: int = 24, seed: int = 0) -> list:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    tiles = []
    for i in range(n):
        data = rng.uniform(0.0, 1.0, (2, size, size))
        valid = rng.uniform(size=(size, size)) > (0.3 if i % 2 else -1.0)  # odd tiles partial
        tiles.append(make_tile(data, valid, bands=("B6", "B7"), tile_id=f"t{i}"))
    return tiles


def test_iobinding_on_cpu_gives_the_plain_results(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path, bands=("B6", "B7"), band_index=1))
    tiles = _random_tiles(5)
    plain = Detector(info, RuntimeOptions("cpu", io_binding="off"), batch_size=2)
    bound = Detector(info, RuntimeOptions("cpu", io_binding="on"), batch_size=2)
    assert plain.binding_device is None and bound.binding_device == "cpu"
    for tile, a, b in zip(tiles, plain.run(tiles), bound.run(tiles), strict=True):
        truth = tile.valid & (tile.data[1] > 0.5)  # the graph's rule, by hand
        np.testing.assert_array_equal(a.cls, truth.astype(np.uint8))
        np.testing.assert_array_equal(b.cls, a.cls)
        np.testing.assert_array_equal(b.confidence, a.confidence)
        assert b.cls.dtype == np.uint8 and b.confidence.dtype == np.float32


def _valid_share_model(path: Path) -> Path:
    """class 1 everywhere; confidence = the share of valid pixels in the tile, as the graph
    sees its ``valid`` input (so a stale valid buffer shows)."""
    import onnx
    from onnx import TensorProto, helper
    from test_detect_helpers import OPSET, metadata, write_model

    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["valid"], ["share"], axes=[2, 3], keepdims=1),
            helper.make_node("Mul", ["valid", "zero"], ["zeros"]),
            helper.make_node("Add", ["zeros", "share"], ["confidence"]),
            helper.make_node("Greater", ["valid", "minus"], ["all"]),
            helper.make_node("Cast", ["all"], ["class"], to=TensorProto.UINT8),
        ],
        "valid_share",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", "W"]),
            helper.make_tensor_value_info("valid", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ],
        [
            helper.make_tensor_value_info("class", TensorProto.UINT8, ["N", 1, "H", "W"]),
            helper.make_tensor_value_info("confidence", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ],
        [
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("minus", TensorProto.FLOAT, [], [-1.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model)
    return write_model(path, model, metadata("valid_share", "fire", ("B7",)))


def test_the_model_sees_each_tiles_own_valid_mask(tmp_path: Path) -> None:
    """Whole and partial tiles in every order through the reused batch buffers: the graph's
    ``valid`` input is each tile's own mask (the buffer of a whole tile is not rewritten)."""
    info = load_model_info(_valid_share_model(tmp_path / "v.onnx"))
    rng = np.random.default_rng(5)
    tiles = []
    for i, partial in enumerate([0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0]):
        valid = rng.uniform(size=(8, 8)) > (0.4 if partial else -1.0)
        tiles.append(make_tile(rng.uniform(size=(1, 8, 8)), valid, tile_id=f"t{i}"))
    detector = Detector(info, RuntimeOptions("cpu"), batch_size=2)
    for start in range(0, len(tiles), 3):  # calls of 3 tiles: batches of 2 and 1
        part = tiles[start : start + 3]
        for tile, out in zip(part, detector.run(part), strict=True):
            share = np.float32(tile.valid.mean())
            np.testing.assert_allclose(out.confidence[tile.valid], share, rtol=1e-6)
            assert (out.confidence[~tile.valid] == 0).all()


def test_binding_device_choice_and_validation() -> None:
    auto = RuntimeOptions("auto")
    assert binding_device(auto, "cpu") is None  # auto: nothing to gain on CPU
    assert binding_device(auto, "cuda") == "cuda" and binding_device(auto, "tensorrt") == "cuda"
    assert binding_device(RuntimeOptions("cuda", io_binding="off"), "cuda") is None
    assert binding_device(RuntimeOptions("cpu", io_binding="on"), "cpu") == "cpu"
    with pytest.raises(UnknownNameError, match=r"io_binding setting 'maybe'.*auto, off, on"):
        RuntimeOptions(io_binding="maybe")


def test_outputs_of_one_batch_do_not_alias_each_other(tmp_path: Path) -> None:
    info = load_model_info(threshold_model(tmp_path, bands=("B6", "B7"), band_index=1))
    tiles = _random_tiles(4)
    outs = Detector(info, RuntimeOptions("cpu"), batch_size=4).run(tiles)
    before = [o.cls.copy() for o in outs]
    outs[0].cls[:] = 7  # a consumer scribbling on one tile's map leaves the others alone
    for out, saved in zip(outs[1:], before[1:], strict=True):
        np.testing.assert_array_equal(out.cls, saved)
    assert all(((o.confidence >= 0) & (o.confidence <= 1)).all() for o in outs)


def test_prefetched_keeps_order_and_raises_reader_errors_in_place() -> None:
    tiles = _random_tiles(7, size=4)
    assert [t.tile_id for t in prefetched(tiles, 2)] == [t.tile_id for t in tiles]
    assert [t.tile_id for t in prefetched(tiles, 0)] == [t.tile_id for t in tiles]

    def broken():  # type: ignore[no-untyped-def]
        yield tiles[0]
        yield tiles[1]
        raise OSError("block 3 unreadable")

    got = []
    with pytest.raises(OSError, match="block 3 unreadable"):
        for tile in prefetched(broken(), 4):
            got.append(tile.tile_id)
    assert got == ["t0", "t1"]


def test_closing_a_prefetched_stream_stops_its_reader() -> None:
    def endless():  # type: ignore[no-untyped-def]
        tile = _random_tiles(1, size=4)[0]
        while True:
            yield tile

    before = threading.active_count()
    stream = prefetched(endless(), 2)
    next(stream)
    assert any(t.name == "edgeinfer-tile-reader" for t in threading.enumerate())
    stream.close()
    deadline = time.monotonic() + 5.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "edgeinfer-tile-reader" for t in threading.enumerate())


def test_detect_scene_is_the_same_with_and_without_prefetch(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    rng = np.random.default_rng(1)
    data = (rng.uniform(size=(1, 70, 90)) > 0.97).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=90,
        height=70,
        count=1,
        dtype="float32",
        crs=CRS.from_epsg(32633),
        transform=Affine(30.0, 0, 300000.0, 0, -30.0, 5e6),
    ) as dst:
        dst.write(data)
        dst.set_band_description(1, "B7")
    registry = ModelRegistry(tmp_path / "models")
    threshold_model(tmp_path / "models", bands=("B7",))
    results = []
    for prefetch in (0, 3):
        with open_scene(path, product="geotiff") as scene:
            results.append(
                detect_scene(scene, ["fire"], "cpu", 32, 8, 2, registry=registry, prefetch=prefetch)
            )
    a, b = results
    assert a.tiles_total == b.tiles_total == len(list(iter_tiles(open_scene(path), 32, 8)))
    assert [x.bbox_px for x in a.alerts] == [x.bbox_px for x in b.alerts]
    assert len(a.alerts) > 0


def _reference_extent(obj: np.ndarray) -> tuple[float, float]:
    """Length and width (px) the way alerts measured them before: numpy's covariance and
    eigvalsh on the object's pixel coordinates, plus 1/12 per pixel."""
    rows, cols = np.nonzero(obj)
    coords = np.vstack([cols, rows]).astype(np.float64)
    cov = np.cov(coords, bias=True) if len(rows) > 1 else np.zeros((2, 2))
    eig = np.sort(np.linalg.eigvalsh(np.asarray(cov).reshape(2, 2) + np.eye(2) / 12.0))
    return float(np.sqrt(12 * eig[1])), float(np.sqrt(12 * max(eig[0], 0.0)))


def test_ship_extents_match_numpy_covariance(tmp_path: Path) -> None:
    from scipy import ndimage

    info = load_model_info(threshold_model(tmp_path, name="thr_ship", detector="ship"))
    rng = np.random.default_rng(3)
    cls = np.zeros((96, 96), dtype=np.uint8)
    for _ in range(25):  # random blobs, some touching
        r, c = rng.integers(0, 90, 2)
        h, w = rng.integers(1, 7, 2)
        cls[r : r + h, c : c + w] = 1
    cls[60, 10:40] = 1  # a long thin line
    tile = make_tile(np.zeros((1, 96, 96)), pixel_size_m=10.0)
    alerts = objects_from_output(tile, DetectorOutput("t", cls, cls * 0.5), info)
    labels, _ = ndimage.label(cls > 0, structure=np.ones((3, 3), bool))
    assert len(alerts) > 10
    for alert in alerts:
        c0, r0, c1, r1 = alert.bbox_px
        window = labels[r0:r1, c0:c1]
        ids = np.unique(window[window > 0])
        # the label of this alert: the component whose pixel count and box match
        obj = None
        for k in ids:
            cand = labels == k
            rr, cc = np.nonzero(cand)
            if (cc.min(), rr.min(), cc.max() + 1, rr.max() + 1) == (c0, r0, c1, r1):
                obj = cand
        assert obj is not None, alert.bbox_px
        length, width = _reference_extent(obj)
        assert alert.extra["length_m"] == pytest.approx(10.0 * length, rel=1e-9, abs=1e-9)
        assert alert.extra["width_m"] == pytest.approx(10.0 * width, rel=1e-9, abs=1e-6)
