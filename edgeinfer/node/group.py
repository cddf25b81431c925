"""``SatelliteGroup``: the logical satellites that share one process (one Ray actor).

Each Ray actor is a separate ~90 MiB process (../shared/ENVIRONMENT.md), so a mission maps
many logical satellites to one actor: the group holds one :class:`InferenceEngine` (detector
sessions loaded once per process), one :class:`Fleet` (budgets stepped as arrays over its
satellites) and a :class:`SatelliteNode` per satellite. The driver hands it the orbit plan's
duty rows once (:meth:`configure`) and then windows of events (:meth:`run`); during a pass the
node talks to the ground directly through ``ground.receive``, so a window is ONE call per group
however many tiles and packets it involves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError
from edgeinfer.link import PacketKey
from edgeinfer.node.engine import InferenceEngine
from edgeinfer.node.events import Capture, Event
from edgeinfer.node.fleet import Fleet
from edgeinfer.node.satellite import SatelliteNode
from edgeinfer.node.settings import NodeSettings, SceneRef

logger = logging.getLogger(__name__)


class GroundLike(Protocol):
    """Anything that receives a batch of packets and returns the keys to acknowledge."""

    def receive(
        self, packets: Sequence[bytes], t_s: float, station: str
    ) -> Sequence[PacketKey | Sequence[int]]: ...


class SatelliteGroup:
    """Satellites ``satellites`` = [(mission index, name), ...] in one process."""

    def __init__(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: GroundLike,
        preload: bool = True,
    ) -> None:
        if not satellites:
            raise ConfigError("a satellite group needs at least one satellite")
        t0 = time.perf_counter()
        self.satellites = [(int(i), str(n)) for i, n in satellites]
        self.settings = settings
        self.scenes = {s.key: s for s in scenes}
        self.ground = ground
        self.engine = InferenceEngine(settings.detection, settings.cost)
        if preload:
            for ref in scenes:
                self.engine.prepare(ref)
        self.fleet: Fleet | None = None
        self.nodes: dict[int, SatelliteNode] = {}
        self.wall_s: dict[str, float] = {"startup": time.perf_counter() - t0, "run": 0.0}

    def configure(
        self,
        step_s: float,
        duration_s: float,
        sunlit: NDArray[np.float64],
        imaging: NDArray[np.float64],
        transmitting: NDArray[np.float64],
    ) -> int:
        """Create the fleet and nodes from this group's duty rows (one row per satellite, in
        the order of ``satellites``); returns the number of satellites."""
        self.fleet = Fleet(
            self.settings.budgets.power,
            self.settings.budgets.thermal,
            step_s,
            duration_s,
            sunlit,
            imaging,
            transmitting,
        )
        self.nodes = {
            index: SatelliteNode(
                index, name, self.settings, self.engine, self.scenes, self.fleet, slot
            )
            for slot, (index, name) in enumerate(self.satellites)
        }
        return len(self.nodes)

    def run(self, events: Sequence[Event], until_s: float) -> dict[str, Any]:
        """Handle ``events`` (this group's, in time order), then advance to ``until_s``."""
        if self.fleet is None:
            raise ConfigError("SatelliteGroup.run before configure(); give it the plan's rows")
        t0 = time.perf_counter()
        alerts_before = sum(n.counters["alerts_raised"] for n in self.nodes.values())
        for event in events:
            node = self.nodes[event.sat]
            if isinstance(event, Capture):
                node.capture(event.scene, event.t_s)
            else:
                node.contact(
                    event.station, event.t_s, event.los_s, event.capacity_bytes, self.ground.receive
                )
        self.fleet.advance(until_s)
        for node in self.nodes.values():
            node.flush()
        self.wall_s["run"] += time.perf_counter() - t0
        alerts = sum(n.counters["alerts_raised"] for n in self.nodes.values())
        return {"until_s": until_s, "events": len(events), "alerts_raised": alerts - alerts_before}

    def finish(self, end_s: float) -> dict[str, Any]:
        """End the mission: per-satellite reports, logs, budget traces and (when the queues are
        on disk) each satellite's database as bytes."""
        if self.fleet is None:
            raise ConfigError("SatelliteGroup.finish before configure()")
        reports: dict[int, dict[str, Any]] = {}
        databases: dict[int, bytes] = {}
        for index, node in self.nodes.items():
            node.finish(end_s)
            rep = node.report()
            rep["capture_log"] = node.capture_log
            rep["pass_log"] = node.pass_log
            reports[index] = rep
            node.close()
            if node.queue.path is not None and Path(node.queue.path).exists():
                databases[index] = Path(node.queue.path).read_bytes()
        return {
            "reports": reports,
            "databases": databases,
            "soc": self.fleet.soc_trace,
            "temperature_c": self.fleet.temperature_trace,
            "satellites": [i for i, _ in self.satellites],
            "providers": self.engine.providers(),
            "models": self.engine.models_loaded(),
            "wall_s": dict(self.wall_s),
        }

    def close(self) -> None:
        self.engine.close()
