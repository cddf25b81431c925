"""SatelliteNode without Ray, on the generated Sentinel-2-like sample scene.

The independent truths: ``edgeinfer.detect.detect_scene`` on the same scene (the node must
raise exactly its alerts when the budgets allow everything), the ground station's decoding of
the CCSDS packets, and the scene's own pixels (for image chips).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasterio.windows import Window

from edgeinfer.budget import PowerConfig, ThermalConfig, get_accelerator
from edgeinfer.detect import AlertRecord, detect_scene
from edgeinfer.node import (
    BudgetSettings,
    CostModel,
    DetectionSettings,
    DownlinkSettings,
    Fleet,
    GroundStationNode,
    InferenceEngine,
    NodeSettings,
    SatelliteNode,
    SceneRef,
    parse_chip,
)

START = 1_698_192_000.0  # 2023-10-25T00:00:00Z
DURATION_S = 7200.0
STEP_S = 10.0


@pytest.fixture(scope="module")
def engine() -> Iterator[InferenceEngine]:
    detection = DetectionSettings(detectors=("cloud", "fire", "ship"), threads=1)
    eng = InferenceEngine(detection, CostModel(get_accelerator("jetson_orin_nano")))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def expected(s2_ref: SceneRef) -> Any:
    """What ``edgeinfer detect`` finds on the scene with the same models and tiling."""
    with s2_ref.open() as scene:
        return detect_scene(scene, ["cloud", "fire", "ship"], threads=1, skip_unfit=True)


def _settings(engine: InferenceEngine, **budgets: object) -> NodeSettings:
    return NodeSettings(
        detection=engine.detection,
        downlink=DownlinkSettings(),
        budgets=BudgetSettings(**budgets),  # type: ignore[arg-type]
        cost=engine.cost,
        start_posix_s=START,
    )


def _node(
    engine: InferenceEngine,
    ref: SceneRef,
    settings: NodeSettings,
    sunlit: np.ndarray | None = None,
) -> SatelliteNode:
    n = int(DURATION_S / STEP_S)
    lit = np.ones((1, n)) if sunlit is None else sunlit
    b = settings.budgets
    fleet = Fleet(b.power, b.thermal, STEP_S, DURATION_S, lit)
    return SatelliteNode(0, "SAT-1", settings, engine, {ref.key: ref}, fleet)


def _queued_records(node: SatelliteNode) -> list[AlertRecord]:
    return [AlertRecord.unpack(p.data[24:-2]) for p in node.queue.packets() if p.kind == 1]


def test_capture_raises_exactly_the_alerts_detect_scene_finds(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    node = _node(engine, s2_ref, _settings(engine))
    node.capture("s2_coast", 100.0)
    node.advance(DURATION_S)
    got = sorted((r.detector, r.bbox_px, r.pixel_count) for r in _queued_records(node))
    want = sorted((a.detector, a.bbox_px, a.pixel_count) for a in expected.alerts)
    assert got == want
    assert sum(d == "fire" for d, _, _ in got) == 12  # every fire of the sample
    c = node.counters
    assert c["tiles_captured"] == expected.tiles_total
    assert c["tiles_cloudy"] == expected.tiles_cloudy
    assert c["tiles_inferred"] == expected.tiles_inferred
    assert c["alerts_raised"] == len(expected.alerts)
    # every record carries the simulated capture time, not the file's acquisition time
    assert {r.capture_time.timestamp() for r in _queued_records(node)} == {START + 100.0}
    # modelled accelerator time = tiles x per-tile cost (cloud on all, fire on clear ones)
    prepared = engine.prepare(s2_ref)
    want_s = c["tiles_captured"] * prepared.screen_s + c["tiles_inferred"] * prepared.detect_s
    assert node.fleet.accelerator_s[0] == pytest.approx(want_s)
    assert node.storage.used_bytes == 0


def test_a_pass_delivers_every_alert_once_with_its_latency(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    node = _node(engine, s2_ref, _settings(engine))
    ground = GroundStationNode(None, ["Svalbard"])
    node.capture("s2_coast", 100.0)
    log = node.contact("Svalbard", 3000.0, 3600.0, 10**6, ground.receive)
    again = node.contact("Svalbard", 5000.0, 5600.0, 10**6, ground.receive)
    alerts = ground.alerts()
    n = len(expected.alerts)
    assert len(alerts) == n == log["packets_acked"] and again["packets_sent"] == 0
    assert {a.station for a in alerts} == {"Svalbard"}
    # all n packets of 74 octets travel in one batch: arrival after 74 n bytes at 1e6/600 B/s
    arrival = START + 3000.0 + n * 74 / (10**6 / 600.0)
    assert all(a.latency_s == pytest.approx(arrival - (START + 100.0), abs=1e-3) for a in alerts)
    assert ground.counters()["duplicates_discarded"] == 0
    assert log["bytes_sent"] == n * 74


def test_an_empty_battery_skips_tiles_for_power(engine: InferenceEngine, s2_ref: SceneRef) -> None:
    power = PowerConfig(battery_capacity_wh=20.0, initial_soc=0.31, min_soc=0.3)
    settings = _settings(engine, power=power, on_refusal="skip")
    n = int(DURATION_S / STEP_S)
    node = _node(engine, s2_ref, settings, sunlit=np.zeros((1, n)))
    node.capture("s2_coast", 100.0)
    node.finish(DURATION_S)
    c = node.counters
    assert c["tiles_skipped_power"] == c["tiles_captured"] - c["tiles_empty"] == 9
    assert c["tiles_inferred"] == 0 and c["alerts_raised"] == 0
    assert node.storage.used_bytes == 0


def test_deferred_tiles_run_when_the_sun_returns(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    power = PowerConfig(battery_capacity_wh=20.0, initial_soc=0.31, min_soc=0.3)
    n = int(DURATION_S / STEP_S)
    lit = np.zeros((1, n))
    lit[0, 180:] = 1.0  # sunlight from t = 1800 s
    node = _node(engine, s2_ref, _settings(engine, power=power), sunlit=lit)
    node.capture("s2_coast", 100.0)
    node.advance(1790.0)
    assert node.counters["alerts_raised"] == 0 and node.counters["tiles_deferred_power"] == 9
    node.finish(DURATION_S)
    assert node.counters["alerts_raised"] == len(expected.alerts)
    assert node.counters["tiles_skipped_power"] == 0


def test_a_hot_node_defers_for_thermal(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    thermal = ThermalConfig(initial_temperature_c=71.0, throttle_above_c=70.0, resume_below_c=65.0)
    node = _node(engine, s2_ref, _settings(engine, thermal=thermal))
    node.capture("s2_coast", 100.0)
    node.finish(DURATION_S)
    c = node.counters
    assert c["tiles_deferred_thermal"] == 9 and c["alerts_raised"] == len(expected.alerts)
    assert node.fleet.state(0)["steps_refused_thermal"] > 0


def test_a_full_store_skips_tiles_for_storage(engine: InferenceEngine, s2_ref: SceneRef) -> None:
    node = _node(engine, s2_ref, _settings(engine, storage_bytes=100_000))
    node.capture("s2_coast", 100.0)
    node.finish(DURATION_S)
    assert node.counters["tiles_skipped_storage"] == 9
    assert node.counters["alerts_raised"] == 0


def test_chips_follow_the_alerts_and_hold_the_scenes_pixels(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    base = _settings(engine)
    dl = DownlinkSettings(policy="alerts+chips", chip_size_px=16, max_chips_per_capture=3)
    node = _node(engine, s2_ref, replace(base, downlink=dl))
    ground = GroundStationNode(None, ["Svalbard"])
    node.capture("s2_coast", 100.0)
    node.contact("Svalbard", 3000.0, 3600.0, 10**6, ground.receive)
    chips = ground.chips()
    assert len(ground.alerts()) == len(expected.alerts) and len(chips) == 3
    with s2_ref.open() as scene:
        for delivered in chips:
            chip = parse_chip(delivered.data)
            assert chip.data.shape == (len(chip.bands), 16, 16)
            data, valid = scene.read(Window(chip.col0, chip.row0, 16, 16), chip.bands)
            want = np.where(valid, data, np.nan).astype(np.float16).astype(np.float32)
            np.testing.assert_array_equal(chip.data, want)


def test_a_capacity_too_small_for_chips_sends_only_alerts(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any, tmp_path: Path
) -> None:
    dl = DownlinkSettings(policy="alerts+chips", chip_size_px=16, max_chip_bytes_per_pass=1)
    settings = replace(_settings(engine), downlink=dl, state_dir=tmp_path)
    node = _node(engine, s2_ref, settings)
    ground = GroundStationNode(tmp_path / "ground.sqlite", ["Matera"])
    node.capture("s2_coast", 100.0)
    node.contact("Matera", 3000.0, 3600.0, 10**6, ground.receive)
    assert len(ground.alerts()) == len(expected.alerts) and not ground.chips()
    assert node.queue.status().pending_packets > 0  # chips wait for a later pass
    node.close()
    assert (tmp_path / "sat000.link.sqlite").is_file()
    assert ground.snapshot()[:16] == b"SQLite format 3\x00"


def test_tiles_let_go_while_waiting_are_read_again_identically(
    engine: InferenceEngine, s2_ref: SceneRef, expected: Any
) -> None:
    settings = replace(_settings(engine), max_cached_tile_bytes=0)
    node = _node(engine, s2_ref, settings)
    node.capture("s2_coast", 100.0)
    node.advance(DURATION_S)
    got = sorted((r.detector, r.bbox_px, r.pixel_count) for r in _queued_records(node))
    assert got == sorted((a.detector, a.bbox_px, a.pixel_count) for a in expected.alerts)
