"""SatelliteNode's detector runs (edgeinfer.node.flush): chunks of tiles at flush, and
detections made at capture.

The independent truth is the one-call path: the same node with ``chunk_tiles = None`` and no
detection at capture (all of a capture's completed tiles in one detector call, as before
either existed) and ``InferenceEngine.detect`` on every clear tile at once. Neither may
change anything a mission can see: the packets in the onboard queue (alert records in
order, their ids, the chips), the counters, the failures and the upsets; they only bound how
many tiles are in memory and how often a tile is read.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.windows import Window

from edgeinfer.budget import get_accelerator
from edgeinfer.detect import Alert, AlertRecord, Detector
from edgeinfer.errors import ModelError, SceneError
from edgeinfer.node import (
    BudgetSettings,
    CostModel,
    DetectionSettings,
    DownlinkSettings,
    Fleet,
    HazardSettings,
    InferenceEngine,
    NodeSettings,
    SatelliteNode,
    SceneRef,
)
from edgeinfer.node import engine as engine_module
from edgeinfer.node.chips import make_chip
from edgeinfer.node.flush import chunk_tiles
from edgeinfer.node.found import ChipPicker, FoundAlerts, RankKey, detections_by_tile, tile_chips
from edgeinfer.scene import Band, Tile

START = 1_698_192_000.0  # 2023-10-25T00:00:00Z
DURATION_S = 3600.0
STEP_S = 10.0
TILE_BYTES = 7 * 512 * 512 * 4 + 512 * 512  # a 7-band float32 tile and its mask
CHIPS = DownlinkSettings(policy="alerts+chips", chip_size_px=16, max_chips_per_capture=3)


@pytest.fixture(scope="module")
def engine() -> Iterator[InferenceEngine]:
    detection = DetectionSettings(detectors=("cloud", "fire", "ship"), threads=1)
    eng = InferenceEngine(detection, CostModel(get_accelerator("jetson_orin_nano")))
    yield eng
    eng.close()


def _node(
    engine: InferenceEngine,
    ref: SceneRef,
    chunk: int | str | None = "default",
    ahead: bool | None = False,
    cached_tiles: int = 2,
    hazards: HazardSettings | None = None,
) -> SatelliteNode:
    """A node over ``ref``; ``chunk`` / ``ahead``: "default" / None keep the node's choice."""
    settings = NodeSettings(
        detection=engine.detection,
        downlink=CHIPS,
        budgets=BudgetSettings(),
        cost=engine.cost,
        start_posix_s=START,
        max_cached_tile_bytes=cached_tiles * TILE_BYTES,
        hazards=hazards or HazardSettings(),
    )
    n = int(DURATION_S / STEP_S)
    b = settings.budgets
    fleet = Fleet(b.power, b.thermal, STEP_S, DURATION_S, np.ones((1, n)))
    node = SatelliteNode(0, "SAT-1", settings, engine, {ref.key: ref}, fleet)
    if chunk != "default":
        node.detections.chunk_tiles = chunk  # type: ignore[assignment]
    if ahead is not None:
        node.detections.at_capture = ahead
    return node


def _mission(
    node: SatelliteNode, between: Callable[[SatelliteNode], None] | None = None
) -> dict[str, Any]:
    """Everything a mission sees of the node (packets in queue order, counters, failures)
    after a capture at 100 s; ``between`` runs after the capture, before the flush."""
    node.capture("s2_coast", 100.0)
    if between is not None:
        between(node)
    node.finish(DURATION_S)
    packets = [(int(p.kind), p.alert_id, p.priority, p.data) for p in node.queue.packets()]
    out = {
        "packets": packets,
        "counters": dict(node.counters),
        "hazards": node.hazards.report(),
        "failures": list(node.failures),
        "capture_log": list(node.capture_log),
    }
    node.close()
    return out


@pytest.fixture(scope="module")
def one_call(engine: InferenceEngine, s2_ref: SceneRef) -> dict[str, Any]:
    """The mission of a node that runs a capture's tiles in one call, nothing at capture."""
    return _mission(_node(engine, s2_ref, None))


class _Reads:
    """Counts the engine's second reads and the tiles of each detector call."""

    def __init__(self, engine: InferenceEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[int] = []
        self.reads: list[str] = []
        detect_each, read_tile = engine.detect_each, engine.read_tile
        in_lanes = engine.detect_in_lanes

        def spy_detect(prepared: Any, tiles: Any, pick: Any = None) -> Any:
            self.calls.append(len(tiles))
            return detect_each(prepared, tiles, pick)

        def spy_lanes(prepared: Any, batches: Any, pick: Any) -> Any:
            def counted() -> Any:
                for key, tiles in batches:
                    if tiles:
                        self.calls.append(len(tiles))
                    yield key, tiles

            return in_lanes(prepared, counted(), pick)

        def spy_read(prepared: Any, window: Window, core: Window) -> Tile:
            self.reads.append(f"r{int(window.row_off)}_c{int(window.col_off)}")
            return read_tile(prepared, window, core)

        monkeypatch.setattr(engine, "detect_each", spy_detect)
        monkeypatch.setattr(engine, "detect_in_lanes", spy_lanes)
        monkeypatch.setattr(engine, "read_tile", spy_read)


def test_the_chunk_is_a_multiple_of_the_batch() -> None:
    assert [chunk_tiles(b) for b in (1, 2, 3, 5, 8, 16)] == [8, 8, 9, 10, 8, 16]


def test_chunked_flush_raises_exactly_what_one_call_raises(
    engine: InferenceEngine, s2_ref: SceneRef, one_call: dict[str, Any]
) -> None:
    whole = one_call
    chips = [p for p in whole["packets"] if p[0] != 1]
    assert whole["counters"]["chips_raised"] == 3 and chips
    assert whole["counters"]["alerts_raised"] > 30
    for chunk in (1, 3):  # 3: chunks across batches of 2
        assert _mission(_node(engine, s2_ref, chunk)) == whole, f"chunk {chunk}"
    # detections made at capture (the node's default here)
    node = _node(engine, s2_ref, ahead=None, cached_tiles=0)
    assert node.detections.at_capture and node.detections.chunk_tiles == 8
    assert _mission(node) == whole
    # and the records are those of the detectors on every clear tile at once, in that order
    prepared = engine.prepare(s2_ref)
    cloudy = set(whole["capture_log"][0]["cloudy_tiles"])
    tiles = [t for t in engine.tiles(prepared) if t.valid.any() and t.tile_id not in cloudy]
    want, _ = engine.detect(prepared, tiles)
    got = [AlertRecord.unpack(p[3][24:-2]) for p in whole["packets"] if p[0] == 1]
    assert [(r.detector, r.bbox_px) for r in got] == [(a.detector, a.bbox_px) for a in want]


def test_a_chunk_holds_its_tiles_only_and_reads_each_once(
    engine: InferenceEngine, s2_ref: SceneRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Reads(engine, monkeypatch)
    found = _mission(_node(engine, s2_ref, 2, cached_tiles=3))
    clear = found["counters"]["tiles_inferred"]
    assert clear >= 6 and spy.calls == [2] * (clear // 2) + [1] * (clear % 2)
    assert len(spy.reads) == len(set(spy.reads)) == clear - 3  # 3 came from the cache


def test_detections_at_capture_read_no_tile_twice_and_cache_none(
    engine: InferenceEngine,
    s2_ref: SceneRef,
    monkeypatch: pytest.MonkeyPatch,
    one_call: dict[str, Any],
) -> None:
    spy = _Reads(engine, monkeypatch)
    cached: list[int] = []
    node = _node(engine, s2_ref, ahead=True, cached_tiles=9)
    assert _mission(node, lambda n: cached.append(n._cached_bytes)) == one_call
    assert spy.reads == [] and cached == [0]
    # the detectors ran at capture, on the clear tiles of each cloud-screen batch (2 tiles)
    assert sum(spy.calls) == one_call["counters"]["tiles_inferred"]
    assert max(spy.calls) <= engine.batch_size


def test_a_model_update_after_the_capture_runs_the_tiles_again(
    engine: InferenceEngine,
    s2_ref: SceneRef,
    monkeypatch: pytest.MonkeyPatch,
    one_call: dict[str, Any],
) -> None:
    """An update accepted between capture and flush: what ran at capture is not what the
    satellite runs now, so the flush reads and detects the tiles again (the update here is
    the same model in a new session, so the alerts stay those of one call)."""
    spy = _Reads(engine, monkeypatch)
    prepared = engine.prepare(s2_ref)
    fire = prepared.detectors["fire"]

    def update(node: SatelliteNode) -> None:
        node.slots.active[fire.info.name] = Detector(fire.info, engine.options, fire.batch_size)

    assert _mission(_node(engine, s2_ref, ahead=True, cached_tiles=0), update) == one_call
    clear = one_call["counters"]["tiles_inferred"]
    assert sorted(spy.reads) == sorted(set(spy.reads)) and len(spy.reads) == clear


def test_a_failure_at_capture_is_left_to_the_flush(
    engine: InferenceEngine,
    s2_ref: SceneRef,
    monkeypatch: pytest.MonkeyPatch,
    one_call: dict[str, Any],
) -> None:
    """The detectors fail at capture on the first batch only: those tiles are read and
    detected again at flush (where they succeed), the others are not; nothing is counted
    or logged for the failure that the flush did not meet."""
    spy = _Reads(engine, monkeypatch)
    run_batch = Detector._run_batch
    failed: list[int] = []

    def fail_once(self: Detector, tiles: Any, *args: Any) -> Any:
        if not failed and self.info.detector != "cloud":
            failed.append(len(tiles))
            raise ModelError("model failed (simulated)")
        return run_batch(self, tiles, *args)

    monkeypatch.setattr(Detector, "_run_batch", fail_once)
    assert _mission(_node(engine, s2_ref, ahead=True, cached_tiles=0)) == one_call
    assert len(spy.reads) == failed[0] >= 1


@pytest.mark.parametrize("tmr", [False, True])
def test_chunks_bound_the_memory_of_a_flush(
    engine: InferenceEngine, s2_ref: SceneRef, tmr: bool
) -> None:
    """Peak memory traced during the flush of 7 clear tiles (none cached): each tile in
    memory costs its 7 float32 bands (7 MiB) and two detectors' outputs (1.25 MiB each), so
    the peak follows the chunk, not the capture (measured for chunks of 1, 2 and all 7: 14, 22
    and 78 MiB; with TMR, whose three copies' outputs are voted, 14, 22 and 62 MiB)."""
    peaks = {}
    for chunk in (None, 1, 2):
        node = _node(engine, s2_ref, chunk, cached_tiles=0, hazards=HazardSettings(tmr=tmr))
        node.capture("s2_coast", 100.0)
        tracemalloc.start()
        node.finish(DURATION_S)
        peaks[chunk] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        node.close()
        assert node.counters["tiles_inferred"] == 7
    assert peaks[None] > 7 * 7 * 512 * 512 * 4  # one call holds every tile at once
    assert peaks[1] < 0.45 * peaks[None] and peaks[2] < 0.65 * peaks[None]
    assert peaks[1] < peaks[2]


def test_a_failing_chunk_fails_the_capture_as_one_call_did(
    engine: InferenceEngine, s2_ref: SceneRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tile upsets on, a detector failure in the second chunk: no alert, every tile failed,
    and every tile read and upset, as when one call read them all before failing."""
    detect_each = engine.detect_each
    upsets = HazardSettings(seu_rate_factor=1e7, seu_targets=("tiles",))
    failing: set[str] = set()

    def fail_on_third(prepared: Any, tiles: Any, pick: Any = None) -> Any:
        if failing & {t.tile_id for t in tiles}:
            raise ModelError(f"model failed on tile {sorted(failing)[0]} (simulated)")
        return detect_each(prepared, tiles, pick)

    monkeypatch.setattr(engine, "detect_each", fail_on_third)
    results = []
    for chunk in (None, 2):
        node = _node(engine, s2_ref, chunk, ahead=None, hazards=upsets)
        assert not node.detections.at_capture  # tile upsets: tiles change while they wait
        node.capture("s2_coast", 100.0)
        third = [j.window for j in node.backlog if j.clear][2]
        failing.add(f"r{int(third.row_off)}_c{int(third.col_off)}")
        node.finish(DURATION_S)
        results.append((dict(node.counters), node.hazards.report(), list(node.failures)))
        node.close()
    assert results[0] == results[1]
    counters, hazards, failures = results[1]
    assert counters["alerts_raised"] == 0 and counters["tiles_failed"] >= 6
    assert counters["tiles_inferred"] == 0
    assert hazards["seu_tile_upsets"] > 0
    assert [f["stage"] for f in failures] == ["detect"] and "simulated" in failures[0]["error"]


@pytest.mark.parametrize(
    "hazards",
    [
        HazardSettings(tmr=True),
        HazardSettings(seu_rate_factor=3e3, seu_targets=("weights",), scrubbing=True, tmr=True),
    ],
    ids=["tmr", "upsets-scrubbing-tmr"],
)
def test_guarded_weights_run_in_chunks_as_one_call(
    engine: InferenceEngine,
    s2_ref: SceneRef,
    monkeypatch: pytest.MonkeyPatch,
    hazards: HazardSettings,
) -> None:
    """With TMR or weight upsets the flush runs in chunks too (memory that does not grow with
    the capture) inside the guards' ``one_call``: the weights are checked, and the copies
    voted, as in one call per capture, so the packets, counters and weight counters are the
    unchunked node's."""
    reads = _Reads(engine, monkeypatch)
    whole = _mission(_node(engine, s2_ref, None, ahead=None, hazards=hazards))
    one = list(reads.calls)
    reads.calls.clear()
    default = _node(engine, s2_ref, ahead=None, hazards=hazards)
    assert default.detections.chunk_tiles == chunk_tiles(engine.batch_size) == 8
    assert not default.detections.at_capture
    default.close()
    chunked = _mission(_node(engine, s2_ref, 2, ahead=None, hazards=hazards))  # 7 tiles: 4 chunks
    assert one == [whole["counters"]["tiles_inferred"]] and one[0] > 2
    assert max(reads.calls) <= 2 and sum(reads.calls) == one[0]
    assert chunked == whole and whole["hazards"]["tmr_votes"] > 0
    if hazards.seu_rate_factor:
        h = whole["hazards"]
        assert h["seu_weight_upsets"] > 0 and h["scrubs"] > 0 and h["weight_checks"] > 0


# -- the chip ranking across chunks (no models) ------------------------------------------------


def _tile(tile_id: str, seed: int = 0) -> Tile:
    rng = np.random.default_rng(seed)
    return Tile(
        scene_id="s",
        tile_id=tile_id,
        data=rng.random((2, 8, 8), dtype=np.float32),
        valid=np.ones((8, 8), dtype=bool),
        window=Window(0, 0, 8, 8),
        core=Window(0, 0, 8, 8),
        bands=(Band("a", "reflectance"), Band("b", "reflectance")),
        transform=None,
        crs=None,
    )


def _alert(detector: str, confidence: float, tile_id: str, k: int) -> Alert:
    return Alert(
        alert_id=f"{detector}{k}",
        detector=detector,
        cls=1,
        class_name=detector,
        confidence=confidence,
        pixel_count=1,
        bbox_px=(k % 8, 0, k % 8 + 1, 1),
        centroid_px=(k % 8 + 0.5, 0.5),
        centroid_lonlat=None,
        footprint_lonlat=None,
        scene_id="s",
        tile_id=tile_id,
        capture_time=None,
    )


@settings(max_examples=80, deadline=None)
@given(
    confidences=st.lists(
        st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.52, 0.9, 1.0]), max_size=12),
        min_size=2,
        max_size=2,
    ),
    per_tile=st.integers(1, 3),
    chunk=st.integers(1, 4),
    limit=st.integers(1, 4),
    min_priority=st.sampled_from([0, 170, 190]),
)
def test_chips_by_chunk_and_by_tile_are_those_of_one_stable_sort(
    confidences: list[list[float]], per_tile: int, chunk: int, limit: int, min_priority: int
) -> None:
    """Alert k of each detector lies in tile k // per_tile. Gathered a chunk of tiles at a
    time, or tile by tile from detections made at capture (each tile keeping only its own top
    chips), the picked chips must be those of the one-call ranking: sorted by priority,
    stable in detector-then-tile order, cut from the right pixels."""
    dl = replace(CHIPS, max_chips_per_capture=limit, min_chip_priority=min_priority)
    detectors = ("fire", "ship")
    one_call = [
        _alert(d, c, f"t{k // per_tile}", k)
        for r, d in enumerate(detectors)
        for k, c in enumerate(confidences[r])
    ]
    n_tiles = max(len(c) for c in confidences) // per_tile + 1
    tiles = [_tile(f"t{i}", seed=i) for i in range(n_tiles)]

    def alerts_of(ids: set[str]) -> list[list[Alert]]:
        return [[a for a in one_call if a.detector == d and a.tile_id in ids] for d in detectors]

    by_chunk = FoundAlerts(len(detectors), dl)
    for start in range(0, n_tiles, chunk):
        part = tiles[start : start + chunk]
        by_chunk.add(alerts_of({t.tile_id for t in part}), tile_chips(part, dl.chip_size_px))
    by_tile = FoundAlerts(len(detectors), dl)
    for tile in tiles:
        per = alerts_of({tile.tile_id})
        ahead = detections_by_tile([tile], per, (), 0.0, dl)[tile.tile_id]
        assert len(ahead.chips) <= limit
        by_tile.add(ahead.alerts, ahead.chip)
    for found in (by_chunk, by_tile):
        assert [a.alert_id for a, _ in found.alerts()] == [a.alert_id for a in one_call]
    prios = [dl.priority_of(a.detector, a.confidence) for a in one_call]
    ranked = sorted(range(len(one_call)), key=lambda i: -prios[i])
    want = [i for i in ranked if prios[i] >= min_priority][:limit]
    tile_of = {t.tile_id: t for t in tiles}
    chips = [(i, make_chip(tile_of[one_call[i].tile_id], one_call[i], 16)) for i in want]
    assert by_chunk.chips() == chips
    assert by_tile.chips() == chips


def test_the_picker_keeps_the_best_and_cuts_only_what_it_keeps() -> None:
    cut: list[RankKey] = []

    def cutter(key: RankKey) -> Callable[[], bytes]:
        def chip() -> bytes:
            cut.append(key)
            return repr(key).encode()

        return chip

    picker = ChipPicker(2)
    for key in [(-200, 0, 0), (-210, 0, 1)]:
        picker.offer(key, cutter(key))
    picker.settle()  # a chunk's tiles are about to go: cut what is kept
    assert cut == [(-210, 0, 1), (-200, 0, 0)]
    for key in [(-190, 1, 0), (-210, 1, 1), (-200, 0, 2)]:
        picker.offer(key, cutter(key))
    assert picker.picked() == [((-210, 0, 1), b"(-210, 0, 1)"), ((-210, 1, 1), b"(-210, 1, 1)")]
    assert cut == [(-210, 0, 1), (-200, 0, 0), (-210, 1, 1)]  # the others were never cut


# -- lanes: an actor with more than one thread runs the detectors of several batches at once


def _lanes_engine(
    threads: int, lanes: int | None = None, provider: str = "cpu", batch_size: int | None = None
) -> InferenceEngine:
    detection = DetectionSettings(
        detectors=("cloud", "fire", "ship"),
        threads=threads,
        lanes=lanes,
        provider=provider,
        batch_size=batch_size,
    )
    return InferenceEngine(detection, CostModel(get_accelerator("jetson_orin_nano")))


def test_an_actor_splits_its_threads_into_lanes() -> None:
    for threads, lanes, want in ((1, None, (1, 1)), (2, None, (2, 1)), (4, 2, (2, 2))):
        eng = _lanes_engine(threads, lanes)
        assert (eng.lanes, eng.threads_per_lane) == want
        eng.close()


@pytest.mark.parametrize(("threads", "ahead", "chunk"), [(2, True, 8), (3, True, 8), (2, False, 3)])
def test_lanes_raise_exactly_what_one_lane_raises(
    s2_ref: SceneRef,
    one_call: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    threads: int,
    ahead: bool,
    chunk: int,
) -> None:
    """Detections at capture (``ahead``) or at flush in chunks of 3 tiles (2 batches), in 2
    and 3 lanes: the same packets (alerts and chips, in queue order), counters and capture
    log as one call; the copies in the other lanes did run, in other threads, the alerts were
    made in the calling thread, and at capture the tiles were read once."""
    eng = _lanes_engine(threads)
    spy = _Reads(eng, monkeypatch)
    ran: dict[str, set[int]] = {}
    run = Detector.run

    def spy_run(self: Detector, tiles: Any) -> Any:
        ran.setdefault(self.info.name, set()).add(threading.get_ident())
        return run(self, tiles)

    monkeypatch.setattr(Detector, "run", spy_run)
    made_in: set[int] = set()
    objects = engine_module.objects_from_output

    def spy_objects(*args: Any) -> Any:
        made_in.add(threading.get_ident())
        return objects(*args)

    monkeypatch.setattr(engine_module, "objects_from_output", spy_objects)
    assert _mission(_node(eng, s2_ref, chunk, ahead=ahead, cached_tiles=0)) == one_call
    assert made_in == {threading.get_ident()}  # alerts (GDAL georeferencing) in this thread
    assert (spy.reads == []) == ahead
    copies = [c for runners in eng._copies.values() for c in runners]
    assert len(copies) == 2 * (threads - 1)  # fire and ship
    assert sum(c.tiles_run for c in copies) > 0
    assert len(ran["ship_optical"]) > 1
    eng.close()


def test_a_gpu_that_falls_back_to_the_cpu_gets_cpu_lanes_and_batch(
    s2_ref: SceneRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime-gpu lists CUDA even where no GPU can run it: the actor with 3 threads plans
    two lanes for the GPU, its first session falls back to the CPU, and the automatic choice
    is made again for the CPU (three single-thread lanes) before any tile runs (an explicit
    ``lanes`` is kept), as ``edgeinfer detect`` does. So is the batch: 2 tiles planned for the
    GPU, 1 once the sessions run on the CPU (a given batch is kept)."""
    import edgeinfer.detect.sessions as sessions_module

    if "CUDAExecutionProvider" in sessions_module.available_providers():
        pytest.skip("a real CUDA provider is installed here: nothing falls back")
    monkeypatch.setattr(  # what the lanes are planned for; the sessions still fall back
        sessions_module,
        "available_providers",
        lambda: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    )
    auto = _lanes_engine(3, provider="cuda")
    assert (auto.lanes, auto.threads_per_lane, auto.batch_size) == (2, 1, 2)  # for the GPU
    prepared = auto.prepare(s2_ref)
    assert set(auto.providers().values()) == {"cpu"}
    assert (auto.lanes, auto.threads_per_lane, auto.batch_size) == (3, 1, 1)
    assert {r.batch_size for r in auto._runners.values()} == {1}
    assert auto.options.intra_op_threads == 1 and auto.solo_options.intra_op_threads == 3
    tiles = [t for t in auto.tiles(prepared) if t.valid.any()][:4]
    batches = [(k, tiles[k : k + 2]) for k in range(0, 4, 2)]
    got = list(auto.detect_in_lanes(prepared, batches, lambda g: g))
    # lanes 2 and 3 got their own copies of every model
    assert all(len(c) == 2 for c in auto._copies.values()) and auto._copies
    assert [a for _, a, _ in got] == [auto.detect_each(prepared, t)[0] for _, t in batches]
    auto.close()
    fixed = _lanes_engine(2, lanes=1, provider="cuda", batch_size=2)
    fixed.prepare(s2_ref)
    assert (fixed.lanes, fixed.threads_per_lane, fixed.batch_size) == (1, 2, 2)
    fixed.close()


def test_a_satellite_with_its_own_model_runs_in_one_lane(s2_ref: SceneRef) -> None:
    """A pick that swaps a detector (an accepted update, a guarded copy) keeps one lane: the
    copies are never made and what the pick returned ran every batch."""
    eng = _lanes_engine(2)
    prepared = eng.prepare(s2_ref)
    tiles = [t for t in eng.tiles(prepared) if t.valid.any()][:6]
    swapped = {
        name: Detector(g.info, eng.options, 2, announce=False)
        for name, g in prepared.detectors.items()
    }
    pick = lambda g: swapped[g.info.detector]  # noqa: E731
    batches = [(k, tiles[k : k + 2]) for k in range(0, 6, 2)]
    got = list(eng.detect_in_lanes(prepared, batches, pick))
    assert [k for k, _, _ in got] == [0, 2, 4] and eng._copies == {}
    assert all(d.tiles_run == 6 for d in swapped.values())
    want = [eng.detect_each(prepared, t)[0] for _, t in batches]
    assert [alerts for _, alerts, _ in got] == want
    eng.close()


def test_a_scene_that_breaks_mid_capture_keeps_the_same_batches_in_lanes(
    engine: InferenceEngine, s2_ref: SceneRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reading stops with an error after 5 tiles: with 2 lanes, the batches before it are
    screened, queued and detected as with one, the failure is reported the same way."""

    def breaks(eng: InferenceEngine) -> dict[str, Any]:
        real = eng.tiles

        def five_then_fail(prepared: Any, on_error: str = "raise") -> Iterator[Any]:
            tiles = real(prepared, on_error)
            for _ in range(5):
                yield next(tiles)
            raise SceneError("s2_coast.tif: read failed (simulated); re-download it")

        monkeypatch.setattr(eng, "tiles", five_then_fail)
        return _mission(_node(eng, s2_ref, ahead=True, cached_tiles=0))

    lanes = _lanes_engine(2)
    one, two = breaks(engine), breaks(lanes)
    monkeypatch.undo()
    assert one["capture_log"][0]["tiles"] == 5 and "simulated" in one["capture_log"][0]["error"]
    assert one["counters"]["captures_failed"] == 1 and one["counters"]["alerts_raised"] > 0
    assert two == one
    lanes.close()


def test_a_chunk_in_lanes_raises_the_error_one_call_raises_first(
    s2_ref: SceneRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fire fails on its third batch and ship on its first: one call runs fire over every
    tile first, so it is fire's error that the chunk raises, in lanes too."""
    eng = _lanes_engine(2)
    prepared = eng.prepare(s2_ref)
    tiles = [t for t in eng.tiles(prepared) if t.valid.any()][:6]
    run_batch = Detector._run_batch

    def failing(self: Detector, part: Any, *args: Any) -> Any:
        if self.info.detector == "fire" and part[0].tile_id == tiles[4].tile_id:
            raise ModelError("fire failed (simulated)")
        if self.info.detector == "ship" and part[0].tile_id == tiles[0].tile_id:
            raise ModelError("ship failed (simulated)")
        return run_batch(self, part, *args)

    monkeypatch.setattr(Detector, "_run_batch", failing)
    for engine_ in (eng, _lanes_engine(1)):
        with pytest.raises(ModelError, match="fire failed"):
            engine_.detect_each(engine_.prepare(s2_ref), tiles)
        engine_.close()
