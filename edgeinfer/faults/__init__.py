"""Fault injection and its mitigations: radiation upsets in model weights, input tiles and
stored alert records; weight scrubbing, triple modular redundancy, CRC-checked records; and
the campaign that measures what each costs and buys (docs/reliability.md).

Plain classes, no Ray: a satellite node wraps its detectors in :class:`FaultedDetector` and
calls :meth:`FaultedDetector.advance_to` with its clock; :func:`run_campaign` drives the
same classes over scenes with known truth.
"""

from __future__ import annotations

import logging

from edgeinfer.faults.campaign import run_campaign
from edgeinfer.faults.guard import FaultedDetector, FaultStats, Mitigations, majority_vote
from edgeinfer.faults.plan import Arm, CampaignConfig, default_arms
from edgeinfer.faults.records import RecordReport, store_and_send
from edgeinfer.faults.results import ArmResult, CampaignResult
from edgeinfer.faults.scenes import CampaignScene, load_scene, match_alerts, sample_scenes
from edgeinfer.faults.seu import (
    REFERENCE_SEU_PER_BIT_DAY,
    SINGLE_BIT_FRACTION,
    SEUModel,
    Upsets,
    flip_bits,
    upset_array,
    upset_bytes,
    upset_queue,
    upset_tile,
)
from edgeinfer.faults.weights import WeightMemory

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "REFERENCE_SEU_PER_BIT_DAY",
    "SINGLE_BIT_FRACTION",
    "Arm",
    "ArmResult",
    "CampaignConfig",
    "CampaignResult",
    "CampaignScene",
    "FaultStats",
    "FaultedDetector",
    "Mitigations",
    "RecordReport",
    "SEUModel",
    "Upsets",
    "WeightMemory",
    "default_arms",
    "flip_bits",
    "load_scene",
    "majority_vote",
    "match_alerts",
    "run_campaign",
    "sample_scenes",
    "store_and_send",
    "upset_array",
    "upset_bytes",
    "upset_queue",
    "upset_tile",
]
