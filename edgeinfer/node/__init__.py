"""Satellites and the ground as plain classes (no Ray): budgets, queues, detectors, packets.

:class:`SatelliteNode` is one satellite; :class:`SatelliteGroup` the satellites sharing one
process (their detector sessions loaded once, their budgets stepped together);
:class:`GroundStationNode` the ground segment. ``edgeinfer.mission.actors`` wraps the group
and the ground as Ray actors.
"""

from __future__ import annotations

import logging

from edgeinfer.node.backlog import Backlog, Job
from edgeinfer.node.checkpoint import ActorCrash, CheckpointStore, Killer
from edgeinfer.node.chips import Chip, make_chip, parse_chip
from edgeinfer.node.costs import HOST_MS_PER_TILE, CostModel, measure_host_ms_per_tile
from edgeinfer.node.counters import COUNTERS
from edgeinfer.node.engine import InferenceEngine, PreparedScene
from edgeinfer.node.events import Capture, Event, Pass, Uplink
from edgeinfer.node.fleet import Fleet
from edgeinfer.node.ground import GroundStationNode
from edgeinfer.node.group import SatelliteGroup, Window
from edgeinfer.node.hazards import NodeHazards
from edgeinfer.node.satellite import SatelliteNode
from edgeinfer.node.settings import (
    BudgetSettings,
    DetectionSettings,
    DownlinkSettings,
    HazardSettings,
    NodeSettings,
    SceneRef,
)
from edgeinfer.node.uplinks import ModelSlots, UplinkedModel

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "COUNTERS",
    "HOST_MS_PER_TILE",
    "ActorCrash",
    "Backlog",
    "BudgetSettings",
    "Capture",
    "CheckpointStore",
    "Chip",
    "CostModel",
    "DetectionSettings",
    "DownlinkSettings",
    "Event",
    "Fleet",
    "GroundStationNode",
    "HazardSettings",
    "InferenceEngine",
    "Job",
    "Killer",
    "ModelSlots",
    "NodeHazards",
    "NodeSettings",
    "Pass",
    "PreparedScene",
    "SatelliteGroup",
    "SatelliteNode",
    "SceneRef",
    "Uplink",
    "UplinkedModel",
    "Window",
    "make_chip",
    "measure_host_ms_per_tile",
    "parse_chip",
]
