"""The ``[downlink]`` table of a mission: what is sent (alerts, image chips) and how (batches,
priorities, ARQ rounds inside a pass)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edgeinfer.mission.schema import Table

DETECTOR_NAMES = ("fire", "ship", "cloud")


class DownlinkSection(Table):
    """``[downlink]``: ``alerts`` only, or ``alerts+chips`` (image chips of the
    highest-priority alerts of each capture, sent only with capacity to spare)."""

    policy: Literal["alerts", "alerts+chips"] = "alerts"
    chip_size_px: int = Field(default=32, ge=4, le=512)
    max_chips_per_capture: int = Field(default=4, ge=0, le=10_000)
    max_chip_bytes_per_pass: int | None = Field(default=None, gt=0)
    min_chip_priority: int = Field(default=0, ge=0, le=255)
    batch_packets: int = Field(default=1024, ge=1, le=100_000)
    # ARQ inside a pass: unacknowledged packets are resent up to this many more times while
    # the pass has capacity left (edgeinfer.link.Downlink; docs/link.md).
    retransmit_rounds: int = Field(default=2, ge=0, le=100)
    priority: dict[str, int] = Field(default_factory=lambda: {"fire": 200, "ship": 150})

    @field_validator("priority")
    @classmethod
    def _priorities(cls, value: dict[str, int]) -> dict[str, int]:
        for name, prio in value.items():
            if name not in DETECTOR_NAMES:
                raise ValueError(
                    f"priority.{name}: unknown detector; use {', '.join(DETECTOR_NAMES)}"
                )
            if not 0 <= prio <= 205:
                raise ValueError(
                    f"priority.{name} = {prio} must be in 0..205 (confidence adds 0..50)"
                )
        return value
