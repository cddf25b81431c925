"""The sandbox child process: same outputs as an in-process session, failures reported,
a crashed runtime counted and restarted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from test_detect_helpers import make_tile, metadata, threshold_graph, write_model

from edgeinfer.detect import Detector, RuntimeOptions, load_model_info
from edgeinfer.faults.guard import FaultedDetector
from edgeinfer.faults.sandbox import Sandbox
from edgeinfer.faults.weights import WeightMemory

CPU = RuntimeOptions(provider="cpu", intra_op_threads=1)


@pytest.fixture
def thr(tmp_path: Path) -> Path:
    return write_model(tmp_path / "thr.onnx", threshold_graph(threshold=0.5), metadata("thr"))


def test_sandbox_matches_in_process_and_survives_a_crash(thr: Path) -> None:
    info = load_model_info(thr)
    memory = WeightMemory(thr.read_bytes())
    span = next(s for s in memory.spans if s.name == "thr")
    memory.upset(np.array([8 * span.offset_bytes + 31]))  # 0.5 -> -0.5
    upset = memory.model_bytes()
    tiles = [make_tile(np.array([[[0.0, 0.3, 0.7, -0.9]]]), tile_id=f"t{i}") for i in range(3)]
    local = Detector(info, CPU, model_bytes=upset).run(tiles)
    with Sandbox(CPU, memory_limit_mb=256) as sandbox:
        remote = sandbox.run(info, upset, 8, tiles)
        assert remote is not None
        for a, b in zip(local, remote, strict=True):
            assert np.array_equal(a.cls, b.cls) and np.array_equal(a.confidence, b.confidence)
        assert remote[0].cls.tolist() == [[1, 1, 1, 0]]
        assert sandbox.run(info, b"not a model", 8, tiles) is None  # reported, no crash
        assert sandbox.crashes == 0
        os.kill(sandbox._process.pid, signal.SIGKILL)  # the runtime dies
        assert sandbox.run(info, upset, 8, tiles) is None and sandbox.crashes == 1
        again = sandbox.run(info, upset, 8, tiles)  # a fresh child, tiles sent again
        assert again is not None and again[0].cls.tolist() == [[1, 1, 1, 0]]


def test_faulted_detector_uses_the_sandbox(thr: Path) -> None:
    info = load_model_info(thr)
    with Sandbox(CPU, memory_limit_mb=256) as sandbox:
        fd = FaultedDetector(info, CPU, seu=None, sandbox=sandbox)
        span = next(s for s in fd.weight_memory().spans if s.name == "thr")
        fd.inject([8 * span.offset_bytes + 31])
        out = fd.run([make_tile(np.array([[[0.0, 0.7]]]))])
        assert out[0].cls.tolist() == [[1, 1]] and sandbox.runs == 1
        assert fd.stats.sessions_built == 0  # nothing upset was loaded in this process
