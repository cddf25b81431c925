"""The ``[faults]`` and ``[uplink]`` tables of a mission (issue 6): what goes wrong on
purpose, how it is mitigated, and which model updates are uplinked when.

Everything here is seeded from ``mission.seed``: the same config gives the same kills, the
same lost and corrupted packets and the same upsets. Rates and probabilities are validated
here; the times that must lie inside the mission are checked by
:class:`edgeinfer.mission.config.MissionConfig` (it knows the duration).

Radiation: ``seu_rate_factor`` multiplies the reference 4.04e-7 upsets per bit per day of
commercial memory in LEO (Alsat-1, ../shared/REFERENCE.md "Radiation";
:data:`edgeinfer.faults.REFERENCE_SEU_PER_BIT_DAY`); 0 switches upsets off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edgeinfer.faults.seu import MAX_RATE_FACTOR
from edgeinfer.mission.schema import Table, resolve_path

SeuTarget = Literal["weights", "tiles", "records"]
SEU_TARGETS: tuple[SeuTarget, ...] = ("weights", "tiles", "records")


class FaultsSection(Table):
    """``[faults]``: actor kills, link faults, radiation upsets and their mitigations."""

    kill_every_orbit: bool = False
    kill_times_h: list[float] = Field(default_factory=list, max_length=10_000)
    kill_rate_per_day: float = Field(default=0.0, ge=0.0, le=1440.0)
    packet_loss_prob: float = Field(default=0.0, ge=0.0, lt=1.0)
    packet_corrupt_prob: float = Field(default=0.0, ge=0.0, lt=1.0)
    ack_loss_prob: float = Field(default=0.0, ge=0.0, lt=1.0)
    # CRC-16/CCITT catches every 1-3 bit error of a packet up to 4,095 octets (docs/link.md).
    max_bit_flips: int = Field(default=1, ge=1, le=64)
    seu_rate_factor: float = Field(default=0.0, ge=0.0, le=MAX_RATE_FACTOR)
    seu_targets: list[SeuTarget] = Field(default_factory=lambda: list(SEU_TARGETS))
    scrubbing: bool = False
    scrub_interval_s: float = Field(default=0.0, ge=0.0)
    tmr: bool = False
    record_crc: bool = True

    @field_validator("kill_times_h")
    @classmethod
    def _positive_times(cls, value: list[float]) -> list[float]:
        bad = [t for t in value if not t > 0.0]
        if bad:
            raise ValueError(f"kill time {bad[0]} h must be > 0 (hours from the mission start)")
        return sorted(value)

    @property
    def kills(self) -> bool:
        """Whether any actor kill is configured."""
        return self.kill_every_orbit or bool(self.kill_times_h) or self.kill_rate_per_day > 0

    @property
    def link(self) -> bool:
        """Whether the link drops, corrupts or loses acknowledgements."""
        return (self.packet_loss_prob + self.packet_corrupt_prob + self.ack_loss_prob) > 0

    @property
    def seu(self) -> bool:
        return self.seu_rate_factor > 0 and bool(self.seu_targets)

    @property
    def any(self) -> bool:
        """Whether this table injects anything at all."""
        return self.kills or self.link or self.seu


class ModelUplink(Table):
    """``[[uplink.models]]``: a model file (and its detached signature) uplinked to the
    satellites at their first ground contact at or after ``at_h`` hours."""

    at_h: float = Field(ge=0.0)
    model: str = Field(min_length=1)
    signature: str | None = None
    satellites: list[str] | None = None

    @field_validator("model", "signature")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info)

    @property
    def signature_path(self) -> str:
        return self.signature if self.signature is not None else self.model + ".sig"


class UplinkSection(Table):
    """``[uplink]``: the public keys the satellites trust (PEM files; none: the development
    key, models/keys/edgeinfer-dev.pub) and the model updates to uplink."""

    trusted_keys: list[str] = Field(default_factory=list)
    models: list[ModelUplink] = Field(default_factory=list, max_length=1000)

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [str(resolve_path(v, info)) for v in value]

    @model_validator(mode="after")
    def _names(self) -> UplinkSection:
        for i, m in enumerate(self.models):
            if not m.model.endswith(".onnx"):
                raise ValueError(f"models[{i}].model = {m.model!r}: give the path of a .onnx file")
        return self
