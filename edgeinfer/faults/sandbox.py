"""Run upset models in a child process, so that what they do to the runtime stays there.

A model whose weights took upsets can do more than compute wrong answers: a flipped slice
bound or pad can make onnxruntime abort on an internal assertion, or ask for more memory
than the machine has. On a satellite that is a crash of the inference process (and a
restart); in a campaign it must be a counted failure, not the end of the campaign or of the
host. :class:`Sandbox` keeps one child process (``spawn``) that builds sessions from the
upset bytes and runs them on tiles; the child's address space is capped with
``RLIMIT_AS`` (its size at start plus ``memory_limit_mb``), and its onnxruntime arena at
``memory_limit_mb``. When the child dies (abort, segfault, out of memory), the run is a
failure, the crash is counted and a fresh child is started on the next run.

Tiles are sent once and cached in the child by (scene, tile id); the parent keeps the tiles
it sent alive so their identity stays unique.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import resource
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.runtime import DetectorOutput, RuntimeOptions
from edgeinfer.scene.types import Tile

logger = logging.getLogger(__name__)

MAX_CACHED_TILES = 64  # ~470 MB of 7-band 512 px float32 tiles in the child


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(conn: Connection, options: RuntimeOptions, memory_limit_mb: int, quiet: bool) -> None:
    """The child's loop: ("tiles", {key: tile}) caches tiles; ("run", info, bytes, batch,
    keys, max_tensor_bytes) answers ("ok", outputs) or ("err", message); None ends it.
    ``quiet``: discard the child's native stderr (assertion messages of the runtimes it
    crashes on purpose; the parent counts the crashes)."""
    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    from edgeinfer.detect.runtime import Detector, import_onnxruntime
    from edgeinfer.faults.weights import largest_tensor_bytes

    # upset models fail by the hundred here, on purpose: onnxruntime's own log stays quiet
    # (the failures come back as messages and are counted by the parent)
    import_onnxruntime().set_default_logger_severity(4)

    base = _vm_size_bytes()
    if base:
        limit = base + memory_limit_mb * 2**20 + 512 * 2**20  # + room for Python's own growth
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    tiles: dict[tuple[str, str, int], Tile] = {}
    sessions: dict[bytes, Detector] = {}
    while True:
        message = conn.recv()
        if message is None:
            return
        if message[0] == "tiles":
            tiles.update(message[1])
            continue
        if message[0] == "forget":
            tiles.clear()
            continue
        _, info, model_bytes, batch_size, keys, max_tensor_bytes = message
        try:
            detector = sessions.get(model_bytes)
            if detector is None:
                first = tiles[keys[0]]
                h, w = first.valid.shape
                n = min(len(keys), batch_size)
                dims = {"x": [n, len(info.bands), h, w], "valid": [n, 1, h, w]}
                largest = largest_tensor_bytes(model_bytes, dims)  # may abort: in the child
                if largest is not None and largest > max_tensor_bytes:
                    conn.send(("err", f"out of memory: a {largest / 2**20:.0f} MiB tensor"))
                    continue
                sessions.clear()  # one upset state at a time
                detector = Detector(info, options, batch_size, model_bytes=model_bytes)
                sessions[model_bytes] = detector
            outs = detector.run([tiles[k] for k in keys])
            conn.send(("ok", [(o.cls, o.confidence) for o in outs]))
        except Exception as exc:  # a failing upset model: report, keep serving
            conn.send(("err", f"{type(exc).__name__}: {exc}"))


class Sandbox:
    """One child process that runs upset models; see the module docstring."""

    def __init__(self, options: RuntimeOptions, memory_limit_mb: int) -> None:
        """``options``: how the child's sessions run; they get ``memory_limit_mb`` as their
        arena cap and never re-check signatures (the bytes are upset on purpose)."""
        self.options = dataclasses.replace(
            options, memory_limit_mb=memory_limit_mb, require_signature=False
        )
        self.memory_limit_mb = memory_limit_mb
        self.crashes = 0
        self.runs = 0
        self._conn: Connection | None = None
        self._process: Any = None
        self._sent: dict[tuple[str, str, int], Tile] = {}

    def _start(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_child,
            args=(
                child,
                self.options,
                self.memory_limit_mb,
                not logger.isEnabledFor(logging.DEBUG),
            ),
            daemon=True,
        )
        try:
            process.start()  # "spawn": call campaigns from under `if __name__ == "__main__":`
        finally:
            child.close()
        self._process = process
        self._conn = parent
        self._sent = {}
        return parent

    def run(
        self,
        info: ModelInfo,
        model_bytes: bytes,
        batch_size: int,
        tiles: Sequence[Tile],
        max_tensor_bytes: int | None = None,
    ) -> list[DetectorOutput] | None:
        """Outputs of the upset model on ``tiles``, or None when it failed or crashed.
        ``max_tensor_bytes`` (default: a quarter of the memory limit): a model whose
        largest tensor, sized by ONNX shape inference in the child, exceeds it fails as out
        of memory without running (shape inference itself can abort on an upset graph,
        hence in the child)."""
        limit = max_tensor_bytes or self.memory_limit_mb * 2**20 // 4
        self.runs += 1
        conn = self._start()
        keys = [(t.scene_id, t.tile_id, id(t.data)) for t in tiles]
        new = {k: t for k, t in zip(keys, tiles, strict=True) if k not in self._sent}
        try:
            if len(self._sent) + len(new) > MAX_CACHED_TILES:
                conn.send(("forget",))
                self._sent = {}
                new = dict(zip(keys, tiles, strict=True))
            if new:
                conn.send(("tiles", new))
                self._sent.update(new)
            conn.send(("run", info, model_bytes, batch_size, keys, limit))
            status, payload = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            self._crashed(info)
            return None
        if status != "ok":
            logger.debug("model %s: upset copy fails in the sandbox (%s)", info.name, payload)
            return None
        return [
            DetectorOutput(t.tile_id, np.asarray(c), np.asarray(p))
            for t, (c, p) in zip(tiles, payload, strict=True)
        ]

    def _crashed(self, info: ModelInfo) -> None:
        self.crashes += 1
        code = None
        if self._process is not None:
            self._process.join(timeout=5)
            code = self._process.exitcode
        logger.info(
            "model %s: upset copy crashed the runtime (exit %s); restarting", info.name, code
        )
        self._conn, self._process, self._sent = None, None, {}

    def close(self) -> None:
        """Stop the child (it also exits with its parent: daemon)."""
        if self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            self._conn.close()
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
        self._conn, self._process = None, None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
