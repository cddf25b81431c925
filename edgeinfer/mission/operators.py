"""The operator's figures of a mission run: relays over crosslinks (when ``[crosslinks]
enabled``), the latency split of every delivered alert, and the economics of the onboard
compute (every mission). Glue between the driver and :mod:`edgeinfer.relay` /
:mod:`edgeinfer.budget.economics`; docs/operators.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.budget import get_accelerator
from edgeinfer.budget.economics import EconomicsConfig, compute_economics
from edgeinfer.link import DeliveredAlert
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.orbit.constellation import Constellation
from edgeinfer.relay.config import CrosslinksConfig

if TYPE_CHECKING:  # the relay modules import edgeinfer.mission: imported where used
    from edgeinfer.relay.drive import RelayRun


def crosslinks_of(config: MissionConfig) -> CrosslinksConfig:
    """The mission's ``[crosslinks]`` table (defaults: off)."""
    value = getattr(config, "crosslinks", None)
    return value if isinstance(value, CrosslinksConfig) else CrosslinksConfig()


def economics_of(config: MissionConfig) -> EconomicsConfig:
    """The mission's ``[economics]`` table (defaults: edgeinfer/data/economics.toml)."""
    value = getattr(config, "economics", None)
    return value if isinstance(value, EconomicsConfig) else EconomicsConfig()


def prepare_relays(
    config: MissionConfig, constellation: Constellation, plan: MissionPlan
) -> RelayRun | None:
    """The relay run of a mission with crosslinks enabled, else None."""
    cross = crosslinks_of(config)
    if not cross.enabled:
        return None
    from edgeinfer.relay.drive import RelayRun

    return RelayRun.prepare(cross, constellation, plan)


def orbit_period_s(constellation: Constellation) -> float:
    """Mean Keplerian period of the satellites from their SGP4 mean motion (rad/min)."""
    periods = [2.0 * math.pi / s.no_kozai * 60.0 for s in constellation.satrecs if s.no_kozai > 0]
    return float(np.mean(periods)) if periods else 0.0


def add_operator_figures(
    metrics: dict[str, Any],
    config: MissionConfig,
    plan: MissionPlan,
    delivered: Sequence[DeliveredAlert],
    period_s: float,
    relay: RelayRun | None = None,
) -> None:
    """Add ``crosslinks`` (latency split, hops, crosslink traffic) and ``economics`` to
    ``metrics`` (and their per-satellite and total figures)."""
    from edgeinfer.relay.metrics import merge_into, relay_metrics

    cross = relay.config if relay is not None else crosslinks_of(config)
    figures = relay_metrics(
        delivered,
        plan,
        config.mission.start.timestamp(),
        cross,
        relay.schedule if relay is not None else None,
        relay.log if relay is not None else None,
    )
    merge_into(metrics, figures)
    total = metrics["total"]
    n = max(len(plan.satellites), 1)
    duty = float(total.get("inference_modelled_s") or 0.0) / (plan.duration_s * n)
    eclipse_fraction = float(1.0 - np.mean(plan.sunlit)) if plan.sunlit.size else 0.0
    rates = [s.downlink_rate_bps for s in config.ground_stations]
    metrics["economics"] = compute_economics(
        economics_of(config),
        get_accelerator(config.accelerator.profile),
        n_satellites=n,
        duration_s=plan.duration_s,
        alerts_delivered=int(total.get("alerts_delivered") or 0),
        raw_bytes=int(total.get("raw_bytes_captured") or 0),
        compressed_bytes=int(total.get("compressed_bytes_captured") or 0),
        bytes_downlinked=int(total.get("bytes_downlinked") or 0),
        measured_duty=min(duty, 1.0),
        eclipse_s=eclipse_fraction * period_s,
        orbit_period_s=period_s if period_s > 0 else plan.duration_s,
        downlink_rate_bps=float(np.mean(rates)),
        link_efficiency=config.budgets.link_efficiency,
    )
    econ = metrics["economics"]
    total["break_even_launch_price_usd_per_kg"] = econ["break_even_launch_price_usd_per_kg"]
    total["compute_added_mass_kg"] = econ["added_mass_kg"]
