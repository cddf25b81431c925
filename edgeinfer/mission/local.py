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


class LocalExecutor:
    """The same calls in this process, no Ray (tests, benchmarks, debugging)."""

    cpus = float(os.cpu_count() or 1)

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

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        return getattr(handle, method)(*args)

    def get(self, refs: Any) -> Any:
        return refs

    def wait_one(self, refs: list[Any]) -> tuple[list[Any], list[Any]]:
        return refs[:1], refs[1:]

    def shutdown(self) -> None:
        return None
