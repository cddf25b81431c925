"""What a fault campaign runs: its rates, exposures and sizes (:class:`CampaignConfig`) and
its rows (:class:`Arm`: what takes upsets, which mitigation runs). See
:mod:`edgeinfer.faults.campaign` for the time model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edgeinfer.detect.pipeline import DEFAULT_CLOUD_THRESHOLD
from edgeinfer.errors import ConfigError
from edgeinfer.faults.guard import DEFAULT_MEMORY_LIMIT_MB, Mitigations
from edgeinfer.faults.seu import MAX_RATE_FACTOR, SECONDS_PER_DAY, SEUModel
from edgeinfer.orbit.elements import EARTH_RADIUS_WGS72_KM, MU_KM3_S2

# One orbit at 786 km (Sentinel-2's altitude, REFERENCE.md "Downlink and packets"): Kepler's
# third law with SGP4's WGS-72 constants [derived]: ~6,035 s (100.6 min).
ORBIT_786_KM_S = 2 * math.pi * math.sqrt((EARTH_RADIUS_WGS72_KM + 786.0) ** 3 / MU_KM3_S2)
OBJECT_DETECTORS: tuple[str, ...] = ("fire", "ship")
TARGETS: tuple[str, ...] = ("none", "weights", "inputs", "records")


#: Upper bounds of a campaign's durations: past them a run would not end (or the upset draws
#: overflow): a century of days or exposure, a year aboard for a tile, a day between scrubs.
_LIMITS: dict[str, float] = {
    "days": 36_525.0,
    "tile_exposure_s": 365.25 * SECONDS_PER_DAY,
    "record_exposure_days": 36_525.0,
    "scrub_interval_s": SECONDS_PER_DAY,
}
MAX_CAPTURES = 100_000


@dataclass(frozen=True)
class CampaignConfig:
    """Rates, exposures and sizes of a campaign (see the module docstring)."""

    rate_factor: float = 1000.0
    days: float = 1.0
    captures_per_day: int = 4
    trials: int = 8
    input_trials: int = 2
    tile_exposure_s: float = 600.0
    record_exposure_days: float = 0.25
    scrub_interval_s: float = round(ORBIT_786_KM_S)
    seed: int = 0
    provider: str = "cpu"
    threads: int | None = 1
    batch_size: int = 8
    cloud_threshold: float = DEFAULT_CLOUD_THRESHOLD
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB

    def __post_init__(self) -> None:
        for key, most in _LIMITS.items():
            value = getattr(self, key)
            if not (math.isfinite(value) and 0 < value <= most):
                raise ConfigError(
                    f"campaign {key} = {value!r}: expected a finite number > 0 and <= {most:g}"
                )
        for key in ("captures_per_day", "trials", "input_trials", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"campaign {key} = {value!r}: expected an integer >= 1")
        if not (math.isfinite(self.rate_factor) and 0 <= self.rate_factor <= MAX_RATE_FACTOR):
            raise ConfigError(
                f"campaign rate_factor = {self.rate_factor!r}: expected a finite number in "
                f"0..{MAX_RATE_FACTOR:g} (a multiple of the reference upset rate)"
            )
        captures = self.captures_per_day * self.days
        if captures > MAX_CAPTURES:
            raise ConfigError(
                f"campaign of {captures:,.0f} captures ({self.captures_per_day} a day for "
                f"{self.days:g} days): at most {MAX_CAPTURES:,}; lower --days or --captures"
            )

    @property
    def seu(self) -> SEUModel:
        return SEUModel(factor=self.rate_factor)

    def capture_times_s(self) -> list[float]:
        n = max(1, round(self.captures_per_day * self.days))
        return [(k + 0.5) / n * self.days * SECONDS_PER_DAY for k in range(n)]


@dataclass(frozen=True)
class Arm:
    """One row of the campaign: what takes upsets (``target``) and which mitigation runs."""

    name: str
    target: str
    mitigations: Mitigations = field(default_factory=Mitigations)
    record_crc: bool = True

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"arm target {self.target!r}: expected one of {', '.join(TARGETS)}")


def default_arms(config: CampaignConfig) -> list[Arm]:
    """Clean; weights unmitigated, reloaded on error, scrubbed before each use, scrubbed
    every orbit, under TMR, under TMR scrubbed every orbit; inputs unmitigated; records
    without and with the CRC-32 check."""
    every = config.scrub_interval_s
    orbit = f"{every:.0f} s" if every >= 10 else f"{every:.3g} s"
    return [
        Arm("clean", "none"),
        Arm("weights: unmitigated", "weights"),
        Arm("weights: reload on error", "weights", Mitigations(reload_on_error=True)),
        Arm("weights: scrub before use", "weights", Mitigations(scrub=True)),
        Arm(
            f"weights: scrub every {orbit}",
            "weights",
            Mitigations(scrub=True, scrub_interval_s=config.scrub_interval_s),
        ),
        Arm("weights: TMR", "weights", Mitigations(tmr=True)),
        Arm(
            f"weights: TMR + scrub every {orbit}",
            "weights",
            Mitigations(tmr=True, scrub=True, scrub_interval_s=config.scrub_interval_s),
        ),
        Arm("inputs: unmitigated", "inputs"),
        Arm("records: no CRC-32 check", "records", record_crc=False),
        Arm("records: CRC-32 check", "records", record_crc=True),
    ]
