"""From a mission's ``[faults]`` and ``[uplink]`` tables to what the satellite groups are
given: hazard settings, kill times per group, the model updates and their uplink events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgeinfer.errors import ConfigError
from edgeinfer.link import LinkFaults
from edgeinfer.mission.chaos import Kill, kill_schedule, orbit_period_s
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.node.events import Uplink
from edgeinfer.node.settings import HazardSettings, NodeSettings
from edgeinfer.node.uplinks import UplinkedModel
from edgeinfer.orbit import Constellation

logger = logging.getLogger(__name__)

#: Restarts Ray may make of a group beyond its scheduled kills (an unplanned crash).
SPARE_RESTARTS = 1


def mission_settings(settings: NodeSettings, config: MissionConfig) -> NodeSettings:
    """``settings`` with the mission's signature policy for installed models and its
    hazards (faults, mitigations, keys for model updates); with guarded weights, ``lanes =
    "auto"`` means one lane."""
    d = config.detection
    hazards = hazard_settings(config)
    detection = replace(
        settings.detection,
        require_signature=d.require_signature,
        trusted_keys=tuple(d.trusted_keys),
    )
    if hazards.guarded_weights and detection.lanes is None:
        # guarded detectors (TMR, weight upsets) run in one lane (edgeinfer.node.engine): the
        # golden sessions they share get every thread of the actor, not one lane's share
        detection = replace(detection, lanes=1)
    return replace(settings, detection=detection, hazards=hazards)


def hazard_settings(config: MissionConfig) -> HazardSettings:
    """The satellites' :class:`HazardSettings` from ``[faults]``, ``[downlink]`` and
    ``[uplink]`` (the link seed is the node's, from ``mission.seed``)."""
    f = config.faults
    return HazardSettings(
        link=LinkFaults(
            packet_loss_prob=f.packet_loss_prob,
            packet_corrupt_prob=f.packet_corrupt_prob,
            ack_loss_prob=f.ack_loss_prob,
            max_bit_flips=f.max_bit_flips,
            seed=config.mission.seed,
        ),
        retransmit_rounds=config.downlink.retransmit_rounds,
        seu_rate_factor=f.seu_rate_factor,
        seu_targets=tuple(dict.fromkeys(f.seu_targets)),
        scrubbing=f.scrubbing,
        scrub_interval_s=f.scrub_interval_s,
        tmr=f.tmr,
        record_crc=f.record_crc,
        trusted_keys=tuple(config.uplink.trusted_keys),
    )


@dataclass
class FaultPlan:
    """Kills (time, group) and model updates of one mission run."""

    kills: list[Kill] = field(default_factory=list)
    updates: list[UplinkedModel] = field(default_factory=list)
    orbit_period_s: float = 0.0

    def kills_of(self, group: int) -> list[float]:
        return [k.t_s for k in self.kills if k.group == group]

    def max_restarts(self, group: int) -> int:
        return len(self.kills_of(group)) + SPARE_RESTARTS

    def summary(self) -> dict[str, Any]:
        return {
            "orbit_period_s": round(self.orbit_period_s, 3),
            "kills_planned": [
                {"t_s": round(k.t_s, 3), "group": k.group, "reason": k.reason} for k in self.kills
            ],
            "model_updates": [
                {"update": u.index, "name": u.name, "source": u.source, "signed": bool(u.signature)}
                for u in self.updates
            ],
        }


def fault_plan(config: MissionConfig, constellation: Constellation, n_groups: int) -> FaultPlan:
    """Kill schedule (seeded by ``mission.seed``) and the model updates read from disk."""
    period = orbit_period_s(constellation)
    kills = kill_schedule(
        config.faults, n_groups, config.mission.duration_s, period, config.mission.seed
    )
    return FaultPlan(kills, read_updates(config), period)


def read_updates(config: MissionConfig) -> list[UplinkedModel]:
    """The model files (and signatures, when present) of ``[[uplink.models]]``. A missing
    model file is the mission's mistake (an error); a missing signature is uplinked as none
    and refused on board."""
    out = []
    for i, spec in enumerate(config.uplink.models):
        path = Path(spec.model)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"uplink.models[{i}].model: cannot read {path} ({exc.strerror or exc}); give "
                "the path of the .onnx file to uplink"
            ) from None
        sig_path = Path(spec.signature_path)
        signature = sig_path.read_bytes() if sig_path.is_file() else b""
        if not signature:
            logger.warning("uplink.models[%d]: %s has no signature %s", i, path, sig_path.name)
        out.append(UplinkedModel(i, path.stem, data, signature, str(path)))
    return out


def uplink_events(
    config: MissionConfig, plan: MissionPlan, satellites: Sequence[str]
) -> list[Uplink]:
    """One :class:`Uplink` per update and target satellite, at the start of the satellite's
    first contact at or after the update's time (none when no contact follows)."""
    index = {name: i for i, name in enumerate(satellites)}
    events: list[Uplink] = []
    for u, spec in enumerate(config.uplink.models):
        names = spec.satellites if spec.satellites is not None else list(satellites)
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ConfigError(
                f"uplink.models[{u}].satellites: {unknown[0]!r} is not a satellite of the "
                f"mission; choose from {', '.join(satellites)}"
            )
        at_s = spec.at_h * 3600.0
        for name in names:
            sat = index[name]
            first = next((p for p in plan.passes if p.sat == sat and p.t_s >= at_s), None)
            if first is None:
                logger.warning("uplink.models[%d]: %s has no contact after %.0f s", u, name, at_s)
                continue
            events.append(Uplink(first.t_s, sat, u, first.station))
    return sorted(events)
