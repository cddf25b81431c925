"""Lanes in detect_scene: how threads split into lanes, the ordered parallel map under it,
and that the results on the real sample scene do not depend on the number of lanes."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from test_detect_helpers import threshold_model
from test_detect_pipeline import ArrayScene

from edgeinfer.detect.lanes import (
    CPU_BATCH_SIZE,
    GPU_BATCH_SIZE,
    MAX_AUTO_LANES,
    default_batch_size,
    ordered_parallel,
    plan_lanes,
)
from edgeinfer.detect.pipeline import DetectionResult, detect_scene
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.errors import ConfigError
from edgeinfer.scene.bands import Band


@pytest.mark.parametrize(
    ("threads", "lanes", "gpu", "cpus", "expected"),
    [
        (None, None, False, 2, (2, 1)),  # this machine: one single-thread lane per core
        (None, None, False, 16, (MAX_AUTO_LANES, 16 // MAX_AUTO_LANES)),
        (8, None, False, 2, (4, 2)),  # threads given: they decide, not the cores
        (3, None, False, 2, (3, 1)),
        (None, None, True, 16, (2, 8)),  # GPU: two lanes feed the device (H100, measured)
        (None, None, True, 1, (1, None)),  # ... one where there is a single thread
        (4, 1, False, 2, (1, 4)),  # one lane keeps the threads as given
        (None, 1, False, 2, (1, None)),
        (2, 4, False, 2, (4, 1)),  # more lanes than threads: one thread each
        (6, 2, True, 2, (2, 3)),  # explicit lanes also on a GPU
    ],
)
def test_plan_lanes(
    threads: int | None,
    lanes: int | None,
    gpu: bool,
    cpus: int,
    expected: tuple[int, int | None],
) -> None:
    assert plan_lanes(threads, lanes, gpu, cpus) == expected


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_bad_lanes_name_the_setting(bad: Any) -> None:
    with pytest.raises(ConfigError, match="lanes = "):
        plan_lanes(None, bad, False, 2)


def test_ordered_parallel_keeps_order_runs_in_parallel_and_owns_lanes() -> None:
    rng = np.random.default_rng(0)
    delays = rng.uniform(0.0, 0.02, 40)
    lanes = [{"busy": False} for _ in range(3)]
    taken: list[int] = []
    lock = threading.Lock()
    active = [0, 0]  # now, most at once

    def items() -> Any:
        for i in range(len(delays)):
            taken.append(i)
            yield i

    def work(i: int, lane: dict[str, bool]) -> int:
        with lock:
            assert not lane["busy"], "a lane was handed to two calls at once"
            lane["busy"] = True
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(float(delays[i]))
        with lock:
            lane["busy"] = False
            active[0] -= 1
        return i * i

    out = []
    for k, value in enumerate(ordered_parallel(items(), work, lanes)):
        # bounded look-ahead: at most lanes + 1 items taken beyond the results handed out
        assert len(taken) <= k + 1 + len(lanes) + 1
        out.append(value)
    assert out == [i * i for i in range(len(delays))]
    assert active[1] == len(lanes)  # really in parallel, never more than the lanes


def test_ordered_parallel_raises_the_first_error_in_order() -> None:
    started: list[int] = []

    def work(i: int, lane: int) -> int:
        started.append(i)
        if i == 5:
            raise ValueError("item 5")
        time.sleep(0.005)
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="item 5"):
        for value in ordered_parallel(range(100), work, [0, 1]):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]  # everything before the failure, in order
    assert max(started) <= 5 + 3  # items beyond the look-ahead never started


def test_one_lane_runs_in_the_calling_thread() -> None:
    names = [
        v for v in ordered_parallel(range(3), lambda i, _: threading.current_thread().name, [None])
    ]
    assert names == [threading.current_thread().name] * 3


def _masks(folder: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(folder.glob("*.tif")):
        with rasterio.open(path) as ds:
            out[path.name] = ds.read().tobytes()
    return out


def test_results_do_not_depend_on_the_lanes(s2_ref: Any, tmp_path: Path) -> None:
    """The sample's Sentinel-2 coast (cloud, fire and ship models, batches of 2 so that the
    lanes overtake each other): alerts in the same order with the same values, the same
    counters, cloud fractions and class masks, for 1, 2 and 3 lanes."""
    results: list[DetectionResult] = []
    masks = []
    for lanes in (1, 2, 3):
        folder = tmp_path / f"lanes{lanes}"
        folder.mkdir()
        paths = {d: folder / f"{d}.tif" for d in ("cloud", "fire", "ship")}
        with s2_ref.open() as scene:
            result = detect_scene(
                scene,
                ["cloud", "fire", "ship"],
                "cpu",
                tile_size=256,
                batch_size=2,
                threads=lanes,
                lanes=lanes,
                mask_out=paths,
            )
        assert result.lanes == lanes and result.threads_per_lane == (lanes if lanes == 1 else 1)
        results.append(result)
        masks.append(_masks(folder))
    first = results[0]
    assert len(first.alerts) > 10 and first.tiles_inferred > 4
    for other, other_masks in zip(results[1:], masks[1:], strict=True):
        assert other.alerts == first.alerts
        keys = ("tiles_total", "tiles_empty", "tiles_cloudy", "tiles_inferred", "alerts_per_class")
        for key in keys:
            assert getattr(other, key) == getattr(first, key), key
        assert other.cloud_fractions == first.cloud_fractions
        assert other_masks == masks[0]
        assert set(other.inference_s) == set(first.inference_s)


def test_a_unit_mismatch_is_warned_once_whatever_the_lanes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every lane meets the scene's DN band, but only the first says so (at WARNING)."""
    d = tmp_path / "models"
    threshold_model(d, "fire_t", "fire", ("B7",), threshold=0.5, product="landsat")
    scene = ArrayScene(np.zeros((1, 96, 96)), np.ones((96, 96), dtype=bool), ("B7",))
    scene.bands = (Band("B7", "dn"),)
    with caplog.at_level(logging.DEBUG, logger="edgeinfer.detect.runtime"):
        result = detect_scene(
            scene, ["fire"], "cpu", 32, 0, 1, threads=3, lanes=3, registry=ModelRegistry(d)
        )
    assert result.lanes == 3 and result.tiles_inferred == 9
    said = [r for r in caplog.records if "expects band B7 in reflectance" in r.message]
    assert [r.levelno for r in said].count(logging.WARNING) == 1
    assert len(said) >= 2  # the other lanes met it too (at DEBUG)


def test_a_gpu_provider_that_falls_back_to_cpu_gets_cpu_lanes_and_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime-gpu lists CUDA even where no GPU can run it; the sessions then run on the
    CPU, and the automatic choices of lanes and batch are made again for the CPU (explicit
    ones are kept)."""
    import edgeinfer.detect.sessions as sessions_module
    from edgeinfer.detect.runtime import available_providers

    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("a real CUDA provider is installed here: nothing falls back")
    d = tmp_path / "models"
    threshold_model(d, "fire_t", "fire", ("B7",), threshold=0.5, product="landsat")
    monkeypatch.setattr(  # what the lanes are planned for; the sessions still fall back
        sessions_module,
        "available_providers",
        lambda: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    )
    scene = ArrayScene(np.zeros((1, 64, 64)), np.ones((64, 64), dtype=bool), ("B7",))
    registry = ModelRegistry(d)
    auto = detect_scene(scene, ["fire"], "cuda", 32, 0, threads=2, registry=registry)
    assert auto.provider == "cpu" and (auto.lanes, auto.threads_per_lane) == (2, 1)
    assert auto.batch_size == 1  # planned as 2 for the GPU
    fixed = detect_scene(scene, ["fire"], "cuda", 32, 0, 2, threads=2, lanes=1, registry=registry)
    assert (fixed.lanes, fixed.threads_per_lane, fixed.batch_size) == (1, 2, 2)


def test_the_default_batch_follows_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 tile per run on CPU (measured cheaper there, docs/performance.md), 2 where a GPU
    provider is available and asked for (or picked by ``auto``)."""
    import edgeinfer.detect.sessions as sessions_module

    assert (CPU_BATCH_SIZE, GPU_BATCH_SIZE) == (1, 2)
    monkeypatch.setattr(sessions_module, "available_providers", lambda: ("CPUExecutionProvider",))
    assert [default_batch_size(p) for p in ("cpu", "auto", "cuda", "tensorrt")] == [1, 1, 1, 1]
    monkeypatch.setattr(
        sessions_module,
        "available_providers",
        lambda: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    )
    assert [default_batch_size(p) for p in ("cpu", "auto", "cuda", "tensorrt")] == [1, 2, 2, 2]


def test_detect_scene_runs_one_tile_per_batch_on_cpu_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``batch_size`` each ``session.run`` gets one tile on CPU; the alerts are those of
    an explicit batch of 3."""
    d = tmp_path / "models"
    threshold_model(d, "fire_t", "fire", ("B7",), threshold=0.5, product="landsat")
    data = np.zeros((1, 96, 96))
    data[0, 10:12, 40:43] = 1.0
    data[0, 70:73, 5:7] = 1.0
    scene = ArrayScene(data, np.ones((96, 96), dtype=bool), ("B7",))
    seen: list[int] = []
    from edgeinfer.detect.runtime import Detector

    run = Detector._run_session

    def spy(self: Detector, feeds: dict[str, Any]) -> Any:
        seen.append(int(feeds["x"].shape[0]))
        return run(self, feeds)

    monkeypatch.setattr(Detector, "_run_session", spy)
    default = detect_scene(scene, ["fire"], "cpu", 32, 0, registry=ModelRegistry(d))
    by_one = list(seen)
    seen.clear()
    three = detect_scene(scene, ["fire"], "cpu", 32, 0, 3, registry=ModelRegistry(d))
    assert by_one == [1] * 9 and sorted(seen) == [3, 3, 3]
    key = [(a.detector, a.tile_id, a.bbox_px) for a in default.alerts]
    assert key == [(a.detector, a.tile_id, a.bbox_px) for a in three.alerts] and len(key) == 2
