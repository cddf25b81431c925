"""Mitigations of weight upsets: the majority vote, FaultedDetector without faults, scrubbing
before use and periodically, TMR, reload on error, and the memory cap on faulted sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from test_detect_helpers import OPSET, make_tile, metadata, threshold_graph, write_model

from edgeinfer.detect import Detector, DetectorOutput, RuntimeOptions, load_model_info
from edgeinfer.errors import ConfigError
from edgeinfer.faults.guard import FaultedDetector, Mitigations, majority_vote
from edgeinfer.faults.seu import SEUModel

CPU = RuntimeOptions(provider="cpu")
X = np.array([[[0.0, 0.3, 0.7, 1.2]]], dtype=np.float32)  # threshold 0.5 -> [0, 0, 1, 1]


@pytest.fixture
def thr(tmp_path: Path) -> Path:
    return write_model(tmp_path / "thr.onnx", threshold_graph(threshold=0.5), metadata("thr"))


def _sign_bit(fd: FaultedDetector) -> int:
    """Flat position of the threshold's sign bit (0.5 -> -0.5)."""
    span = next(s for s in fd.weight_memory().spans if s.name == "thr")
    return 8 * span.offset_bytes + 31


def _cls(fd: FaultedDetector | Detector) -> list[list[int]]:
    return fd.run([make_tile(X)])[0].cls.tolist()  # type: ignore[no-any-return]


def test_majority_vote_by_hand() -> None:
    def out(values: list[int]) -> DetectorOutput:
        a = np.array([values], dtype=np.uint8)
        return DetectorOutput("t", a, a.astype(np.float32) / 2)

    voted = majority_vote([out([0, 1, 2, 2]), out([0, 1, 0, 1]), out([1, 0, 2, 0])], (1, 4), "t")
    assert voted.cls.tolist() == [[0, 1, 2, 1]]  # per pixel: 0,0,1 / 1,1,0 / 2,0,2 / 2,1,0
    assert voted.confidence.tolist() == [[0.0, 0.5, 1.0, 0.5]]
    missing = majority_vote([out([2, 2, 0, 1]), None, out([2, 0, 0, 1])], (1, 4), "t")
    assert missing.cls.tolist() == [[2, 0, 0, 1]]  # a failed copy votes 0
    with pytest.raises(ConfigError, match="needs 3 outputs"):
        majority_vote([None, None], (1, 4), "t")


def test_without_upsets_it_is_the_detector(thr: Path) -> None:
    info = load_model_info(thr)
    fd = FaultedDetector(info, CPU, seu=None, mitigations=Mitigations(tmr=True))
    fd.advance_to(10 * 86400.0)
    assert _cls(fd) == _cls(Detector(info, CPU)) == [[0, 0, 1, 1]]
    assert fd.faulted() == [False, False, False] and fd.stats.copy_tile_runs == 3
    with pytest.raises(ConfigError, match="before its clock"):
        fd.advance_to(0.0)


def test_an_upset_threshold_changes_detections_until_scrubbed(thr: Path) -> None:
    info = load_model_info(thr)
    plain = FaultedDetector(info, CPU, seu=None)
    plain.inject([_sign_bit(plain)])
    assert _cls(plain) == [[1, 1, 1, 1]]  # threshold -0.5: a silent upset, no failure
    assert plain.stats.failures == 0 and plain.faulted() == [True]
    scrubbed = FaultedDetector(info, CPU, seu=None, mitigations=Mitigations(scrub=True))
    scrubbed.inject([_sign_bit(scrubbed)])
    assert _cls(scrubbed) == [[0, 0, 1, 1]]
    assert scrubbed.stats.scrubs == 1 and scrubbed.stats.checks == 1
    assert scrubbed.faulted() == [False]


@pytest.mark.parametrize("checksum", ["sha256", "crc32"])
def test_periodic_scrubs_fall_at_their_times(thr: Path, checksum: str) -> None:
    info = load_model_info(thr)
    m = Mitigations(scrub=True, scrub_interval_s=100.0, checksum=checksum)
    fd = FaultedDetector(info, CPU, seu=SEUModel(factor=1e7), mitigations=m, seed=3)
    fd.advance_to(1050.0)
    stats = fd.stats
    assert stats.checks == 10 and stats.upset_events > 0
    assert 0 < stats.scrubs <= stats.checks
    fd.inject([_sign_bit(fd)])
    assert _cls(fd) == [[1, 1, 1, 1]]  # between two checks the upset is live
    fd.advance_to(1100.0)  # the check at 1100 s repairs it (and whatever came since)
    assert fd.faulted() == [False] and fd.stats.checks == 11


def test_tmr_outvotes_one_bad_copy_but_not_two(thr: Path) -> None:
    info = load_model_info(thr)
    fd = FaultedDetector(info, CPU, seu=None, mitigations=Mitigations(tmr=True))
    fd.inject([_sign_bit(fd)], copy=1)
    assert _cls(fd) == [[0, 0, 1, 1]]
    fd.inject([_sign_bit(fd)], copy=2)
    assert _cls(fd) == [[1, 1, 1, 1]]  # two copies agree on the wrong answer
    assert fd.stats.copy_tile_runs == 6
    with pytest.raises(ConfigError, match="copy 3 does not exist"):
        fd.inject([0], copy=3)


def test_loud_upsets_fail_and_reload_on_error_repairs_them(thr: Path) -> None:
    info = load_model_info(thr)
    axes = next(
        s for s in FaultedDetector(info, CPU, seu=None).weight_memory().spans if s.name == "axes"
    )
    bad_axis = 8 * axes.offset_bytes + 3  # axes 1 -> 9: the Slice no longer fits the input
    plain = FaultedDetector(info, CPU, seu=None)
    plain.inject([bad_axis])
    assert _cls(plain) == [[0, 0, 0, 0]] and plain.stats.failures == 1
    assert _cls(plain) == [[0, 0, 0, 0]] and plain.stats.failures == 2  # stays broken
    healing = FaultedDetector(info, CPU, seu=None, mitigations=Mitigations(reload_on_error=True))
    healing.inject([bad_axis])
    assert _cls(healing) == [[0, 0, 0, 0]]
    assert _cls(healing) == [[0, 0, 1, 1]] and healing.stats.scrubs == 1


@pytest.mark.parametrize("tmr", [False, True])
def test_one_call_in_parts_is_one_call(thr: Path, tmr: bool) -> None:
    """Inside ``one_call`` several runs count as one inference: one check before it, and a copy
    that fails counts one failure and votes "no detection" in the later parts (a single call
    does not reload it halfway either); outside, each run is its own inference."""
    info = load_model_info(thr)
    axes = next(
        s for s in FaultedDetector(info, CPU, seu=None).weight_memory().spans if s.name == "axes"
    )
    bad_axis = 8 * axes.offset_bytes + 3  # loud: the copy fails to run
    m = Mitigations(tmr=tmr, reload_on_error=True)
    tiles = [make_tile(X) for _ in range(4)]
    failed, good = [[0, 0, 0, 0]], [[0, 0, 1, 1]]

    def guard() -> FaultedDetector:
        fd = FaultedDetector(info, CPU, seu=None, mitigations=m)
        fd.inject([bad_axis])
        return fd

    def counts(fd: FaultedDetector) -> dict[str, float | int]:
        return {k: v for k, v in fd.stats.as_dict().items() if not k.endswith("_s")}

    whole = guard()
    want = [o.cls.tolist() for o in whole.run(tiles)]
    assert want == [good if tmr else failed] * 4 and whole.stats.failures == 1
    parts = guard()
    with parts.one_call():
        got = [o.cls.tolist() for k in (0, 2) for o in parts.run(tiles[k : k + 2])]
    assert got == want and counts(parts) == counts(whole)
    apart = guard()  # two inferences: the failed copy is reloaded in between
    got = [o.cls.tolist() for k in (0, 2) for o in apart.run(tiles[k : k + 2])]
    assert apart.stats.failures == 1
    assert apart.stats.faulted_tile_runs == 2 < whole.stats.faulted_tile_runs == 4
    assert got == [good] * 4 if tmr else got == [failed, failed, good, good]
    scrubbed = FaultedDetector(info, CPU, seu=None, mitigations=Mitigations(scrub=True))
    with scrubbed.one_call():
        for k in range(4):
            scrubbed.run(tiles[k : k + 1])
    assert scrubbed.stats.checks == 1
    with scrubbed.one_call(), pytest.raises(ConfigError, match="already open"):
        scrubbed.one_call().__enter__()


def _padded_model(path: Path, pad: int) -> Path:
    """A contract model that also pads its input by ``pad`` px (confidence += 0 * max of the
    padded tensor), so an upset in the pads initializer changes how much memory it needs."""
    model = threshold_graph(threshold=0.5)
    g = model.graph
    g.initializer.append(
        helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, pad, pad, 0, 0, pad, pad])
    )
    g.initializer.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
    conf = next(n for n in g.node if n.output[0] == "confidence")
    conf.output[0] = "conf_raw"
    g.node.extend(
        [
            helper.make_node("Pad", ["x", "pads"], ["padded"]),
            helper.make_node("ReduceMax", ["padded"], ["peak"], keepdims=0),
            helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
            helper.make_node("Add", ["conf_raw", "nothing"], ["confidence"]),
        ]
    )
    model.opset_import[0].version = OPSET
    onnx.checker.check_model(model)
    return write_model(path, model, metadata("padded"))


def test_faulted_sessions_run_on_a_capped_arena(tmp_path: Path) -> None:
    """Top pad 2 -> 2 + 2**18: the padded 64x64 tile becomes (64 + 4 + 262144) x 68 float32,
    71 MB: with a 16 MiB limit the copy fails as out of memory (a failure, not a host out of
    memory); 512 MiB (a quarter: 128 MiB per tensor) lets it run. (ONNX pads: the begins of
    every axis, then the ends.)"""
    info = load_model_info(_padded_model(tmp_path / "padded.onnx", 2))
    tile = make_tile(np.full((1, 64, 64), 0.7, dtype=np.float32))
    span = next(
        s for s in FaultedDetector(info, CPU, seu=None).weight_memory().spans if s.name == "pads"
    )
    flip = [8 * span.offset_bytes + 64 * 2 + 18]  # element 2 (top pad), bit 18
    small = FaultedDetector(info, CPU, seu=None, memory_limit_mb=16)
    small.inject(flip)
    assert small.run([tile])[0].cls.max() == 0 and small.stats.failures == 1
    roomy = FaultedDetector(info, CPU, seu=None, memory_limit_mb=512)
    roomy.inject(flip)
    assert roomy.run([tile])[0].cls.min() == 1 and roomy.stats.failures == 0
