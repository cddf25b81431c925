"""Inter-satellite relays: store-and-forward of alert packets over crosslinks toward the
satellite with the earliest ground contact (docs/operators.md).

* :mod:`edgeinfer.relay.config`: the ``[crosslinks]`` table of a mission;
* :mod:`edgeinfer.relay.routing`: the contact plan, a contact-graph-routing earliest-arrival
  search and the relay schedule of a mission (plain NumPy, no Ray);
* :mod:`edgeinfer.relay.transfer`: what a satellite group does at a relay tick (custody
  transfer of packets between onboard queues, crosslink energy);
* :mod:`edgeinfer.relay.drive`: the mission loop with relay barriers and the relay metrics.
"""

from __future__ import annotations

import logging

from edgeinfer.relay.config import CrosslinksConfig
from edgeinfer.relay.routing import (
    ContactPlan,
    Forward,
    RelaySchedule,
    Route,
    earliest_arrival,
    relay_schedule,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ContactPlan",
    "CrosslinksConfig",
    "Forward",
    "RelaySchedule",
    "Route",
    "earliest_arrival",
    "relay_schedule",
]
