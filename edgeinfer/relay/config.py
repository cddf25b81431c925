"""``[crosslinks]``: inter-satellite links of a mission (validated once at load).

Defaults and their sources:

* ``rate_bps`` 10 Gbit/s and ``max_range_km`` 8,000 km: Tesat SCOT80, the LEO-constellation
  optical terminal (bidirectional 10 Gbit/s up to 8,000 km; Via Satellite, 28 May 2024,
  "MDA Selects Tesat Optical Terminals for Telesat Lightspeed"). REFERENCE.md's EDRS relay runs
  at 1.8 Gbit/s (LEO to GEO).
* ``grazing_height_km`` 100: the Kármán line; see :mod:`edgeinfer.orbit.crosslinks`.
* ``power_w`` 8.5 W: the CubeLCT laser terminal (0.4 kg, 8.5 W; Tesat/DLR, flown 2021; table 1
  of the J. Space Technol. Appl. review of CubeSat lasercom, jstna.org) [assumption: SCOT80's
  power is not in our sources, and a smallsat would carry the smallest class]. It is charged
  to BOTH ends for ``setup_s`` + bits / rate of every transfer; a terminal that holds its links
  permanently draws standby power, which belongs in ``budgets.power.bus_w``.
* ``energy_j_per_bit`` (optional): charge this per bit at each end instead of ``power_w``.
* ``setup_s`` 0: links are held while visible [assumption]; give an acquisition time (tens of
  seconds for a laser terminal) to charge it per transfer.
* ``forward_if_no_contact_within_s`` 600: a satellite keeps its alerts if it will see a ground
  station within 10 minutes [assumption: an operator's choice].
* ``tick_s`` 60: relays happen at multiples of this (the routing's time grid).
* ``relay_horizon_s`` 3600: alerts raised this long after their capture are still routed at
  planned relay barriers (:mod:`edgeinfer.relay.drive`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgeinfer.orbit.crosslinks import DEFAULT_GRAZING_HEIGHT_KM

#: Tesat SCOT80: 10 Gbit/s, 8,000 km (Via Satellite, 2024-05-28).
SCOT80_RATE_BPS = 10e9
SCOT80_RANGE_KM = 8000.0
#: CubeLCT: 8.5 W (jstna.org review of CubeSat lasercom, table 1) [assumption for a smallsat].
CUBELCT_POWER_W = 8.5


class CrosslinksConfig(BaseModel):
    """Crosslink terminals and the relay policy (see the module docstring for sources)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    rate_bps: float = Field(default=SCOT80_RATE_BPS, gt=0.0)
    max_range_km: float = Field(default=SCOT80_RANGE_KM, gt=0.0, le=100_000.0)
    grazing_height_km: float = Field(default=DEFAULT_GRAZING_HEIGHT_KM, ge=0.0, lt=2000.0)
    power_w: float = Field(default=CUBELCT_POWER_W, ge=0.0)
    energy_j_per_bit: float | None = Field(default=None, ge=0.0)
    setup_s: float = Field(default=0.0, ge=0.0)
    forward_if_no_contact_within_s: float = Field(default=600.0, ge=0.0)
    tick_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    relay_horizon_s: float = Field(default=3600.0, ge=0.0)
    search_step_s: float = Field(default=10.0, gt=0.0, le=120.0)

    @model_validator(mode="after")
    def _energy(self) -> CrosslinksConfig:
        if self.energy_j_per_bit is not None and "power_w" in self.model_fields_set:
            raise ValueError("give energy_j_per_bit or power_w, not both")
        return self

    def transfer_s(self, n_bytes: int) -> float:
        """Seconds one end spends on a transfer of ``n_bytes``: setup plus serialisation."""
        return self.setup_s + 8.0 * n_bytes / self.rate_bps

    def energy_wh(self, n_bytes: int) -> float:
        """Energy (Wh) charged to EACH end of a transfer of ``n_bytes``."""
        if self.energy_j_per_bit is not None:
            return self.energy_j_per_bit * 8.0 * n_bytes / 3600.0
        return self.power_w * self.transfer_s(n_bytes) / 3600.0

    def bytes_per_tick(self) -> int:
        """Most bytes one satellite can hand over at one relay tick."""
        return int(self.rate_bps * self.tick_s / 8.0)
