"""Run a mission's satellite groups and ground station in this process, without Ray.

The same calls as :class:`edgeinfer.mission.actors.RayExecutor`, answered at once: for tests,
benchmarks that want no cluster, and debugging.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeinfer.node.ground import GroundStationNode
from edgeinfer.node.group import SatelliteGroup
from edgeinfer.node.settings import NodeSettings, SceneRef


class _Call:
    """A call queued in order; it runs when its result is first asked for."""

    def __init__(self, queue: list[_Call], fn: Any, args: tuple[Any, ...]) -> None:
        self._queue = queue
        self._fn = fn
        self._args = args
        self._done = False
        self._value: Any = None
        queue.append(self)

    def result(self) -> Any:
        while not self._done:  # run every earlier call first: the order of submission
            self._queue.pop(0)._run()
        return self._value

    def _run(self) -> None:
        self._value = self._fn(*self._args)
        self._done = True


class LocalExecutor:
    """The same calls in this process, no Ray (tests, benchmarks, debugging).

    One process holds every satellite, so the driver makes ONE group (one set of detector
    sessions, all budgets in one array) with all the machine's cores as onnxruntime threads.
    Calls run in submission order when their results are asked for, so progress reports
    follow the simulation as with Ray.
    """

    cpus = float(os.cpu_count() or 1)
    max_actors = 1

    def __init__(self) -> None:
        self._queue: list[_Call] = []

    def ground(self, path: Path | None, stations: Sequence[str]) -> GroundStationNode:
        return GroundStationNode(path, stations)

    def group(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: Any,
        cpus: float,
    ) -> SatelliteGroup:
        return SatelliteGroup(satellites, settings, scenes, ground)

    def call(self, handle: Any, method: str, *args: Any) -> _Call:
        return _Call(self._queue, getattr(handle, method), args)

    def get(self, refs: Any) -> Any:
        if isinstance(refs, list):
            return [r.result() for r in refs]
        return refs.result()

    def shutdown(self) -> None:
        return None
