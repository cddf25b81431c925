"""Run a mission's satellite groups and ground station in this process, without Ray.

The same calls as :class:`edgeinfer.mission.actors.RayExecutor`, answered at once: for tests,
benchmarks that want no cluster, and debugging.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeinfer.errors import GroupLost
from edgeinfer.mission.chaos import KillSwitch
from edgeinfer.node.checkpoint import ActorCrash
from edgeinfer.node.ground import GroundStationNode
from edgeinfer.node.group import SatelliteGroup
from edgeinfer.node.settings import NodeSettings, SceneRef

logger = logging.getLogger(__name__)


class _Call:
    """A call queued in order; it runs when its result is first asked for."""

    def __init__(self, queue: list[_Call], fn: Any, args: tuple[Any, ...]) -> None:
        self._queue = queue
        self._fn = fn
        self._args = args
        self._done = False
        self._value: Any = None
        self._error: Exception | None = None
        queue.append(self)

    def result(self) -> Any:
        while not self._done:  # run every earlier call first: the order of submission
            self._queue.pop(0)._run()
        if self._error is not None:
            raise self._error
        return self._value

    def _run(self) -> None:
        try:  # an error belongs to this call's result, not to the later call that ran it
            self._value = self._fn(*self._args)
        except Exception as exc:
            self._error = exc
        self._done = True


class _LocalActor:
    """A satellite group with Ray's restart semantics, in this process: a call that ends in
    :class:`ActorCrash` drops the group (its files closed as a dying process's would be),
    builds a new one from the same arguments (it restores its checkpoint) and calls again,
    at most ``max_restarts`` times."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], max_restarts: int) -> None:
        self._args = args
        self._kwargs = kwargs
        self.max_restarts = max_restarts
        self.restarts = 0
        self.lost: GroupLost | None = None
        self.group = SatelliteGroup(*args, **kwargs)

    def invoke(self, method: str, *args: Any) -> Any:
        while True:
            if self.lost is not None:  # a dead process answers no call
                raise self.lost
            try:
                return getattr(self.group, method)(*args)
            except ActorCrash:
                if self.restarts >= self.max_restarts:
                    self.group.abandon()
                    self.lost = GroupLost(
                        f"satellite group {self.group.key} crashed more than max_restarts = "
                        f"{self.max_restarts} times"
                    )
                    continue
                self.group.abandon()
                self.restarts += 1
                logger.info("restarting %s in-process (restart %d)", self.group.key, self.restarts)
                self.group = SatelliteGroup(*self._args, **self._kwargs)


class LocalExecutor:
    """The same calls in this process, no Ray (tests, benchmarks, debugging).

    One process holds every satellite, so the driver makes ONE group (one set of detector
    sessions, all budgets in one array) with all the machine's cores as onnxruntime threads.
    Calls run in submission order when their results are asked for, so progress reports
    follow the simulation as with Ray.
    """

    cpus = float(os.cpu_count() or 1)
    max_actors = 1
    cpu_share = None

    def __init__(self) -> None:
        self._queue: list[_Call] = []

    def ground(self, path: Path | None, stations: Sequence[str]) -> GroundStationNode:
        return GroundStationNode(path, stations)

    def killswitch(self) -> KillSwitch:
        return KillSwitch()

    def group(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: Any,
        cpus: float,
        killer: Any = None,
        max_restarts: int = 1,
    ) -> _LocalActor:
        return _LocalActor((satellites, settings, scenes, ground), {"killer": killer}, max_restarts)

    def call(self, handle: Any, method: str, *args: Any) -> _Call:
        if isinstance(handle, _LocalActor):
            return _Call(self._queue, lambda *a: handle.invoke(method, *a), args)
        return _Call(self._queue, getattr(handle, method), args)

    def get(self, refs: Any) -> Any:
        if isinstance(refs, list):
            return [r.result() for r in refs]
        return refs.result()

    def actor_nodes(self) -> list[str]:
        """No actors: every satellite runs in this process."""
        return []

    def shutdown(self) -> None:
        return None
