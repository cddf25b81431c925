"""Is computing in orbit worth its launch mass? The economics section of every mission report.

Cost side, per satellite (per-unit figures and sources: edgeinfer/data/economics.toml):

* the accelerator module's mass (by accelerator profile);
* the radiator its heat needs: all of the accelerator's active power ends as heat, rejected at
  q = eps * sigma * (T^4 - T_sink^4) per m2 (REFERENCE.md: ~491 W/m2 at eps 0.9 and 40 C),
  times the radiator's areal mass;
* the solar array and battery its energy needs, sized as in SMAD (Wertz & Larson, Space
  Mission Analysis and Design, 3rd ed., sec. 11.4) for the compute's orbit-average power P
  (idle power plus the active increment times the mission's measured inference duty):
  array P_sa = (P T_e / X_e + P T_d / X_d) / T_d over an orbit of eclipse T_e and daylight
  T_d, battery C = P T_e / (DoD n); their masses from stated W/kg and Wh/kg;

all times a launch price per kg, as a range (low and high).

Savings side: the bytes the mission did not downlink (the ``baseline`` it would otherwise have
sent, lossless DEFLATE GeoTIFF by default, minus what the radios sent) are ground-station time
not bought: minutes = bytes x 8 / (station rate x link efficiency) / 60, at a price per
minute. Mission figures are scaled to a day and to the satellites' lifetime.

Results: the cost of launching the compute per delivered alert over the lifetime, and the
break-even launch price (the $/kg at which the ground time saved pays the launch mass).
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgeinfer.budget.accelerators import AcceleratorProfile
from edgeinfer.budget.thermal import ZERO_C_IN_K, radiated_w
from edgeinfer.errors import ConfigError

SECONDS_PER_YEAR = 365.25 * 86400.0  # Julian year (IAU)


def load_economics_data() -> dict[str, Any]:
    """The packaged per-unit figures: ``{key: {"value": ..., "source": ...}}`` (module masses
    under ``accelerator_mass_kg.PROFILE``)."""
    text = resources.files("edgeinfer").joinpath("data/economics.toml").read_text("utf-8")
    return tomllib.loads(text)


_DATA = load_economics_data()


def _default(key: str) -> Any:
    return _DATA[key]["value"]


class EconomicsConfig(BaseModel):
    """``[economics]``: every figure of the economics section (defaults and sources in
    edgeinfer/data/economics.toml); ``accelerator_mass_kg`` None takes the profile's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    launch_price_low_usd_per_kg: float = Field(
        default=_default("launch_price_low_usd_per_kg"), gt=0.0
    )
    launch_price_high_usd_per_kg: float = Field(
        default=_default("launch_price_high_usd_per_kg"), gt=0.0
    )
    ground_cost_per_minute_usd: float = Field(
        default=_default("ground_cost_per_minute_usd"), ge=0.0
    )
    lifetime_years: float = Field(default=_default("lifetime_years"), gt=0.0, le=50.0)
    radiator_temperature_c: float = Field(
        default=_default("radiator_temperature_c"), gt=-273.15, le=500.0
    )
    radiator_emissivity: float = Field(default=_default("radiator_emissivity"), gt=0.0, le=1.0)
    radiator_sink_temperature_k: float = Field(
        default=_default("radiator_sink_temperature_k"), ge=0.0
    )
    radiator_areal_mass_kg_per_m2: float = Field(
        default=_default("radiator_areal_mass_kg_per_m2"), ge=0.0
    )
    solar_specific_power_w_per_kg: float = Field(
        default=_default("solar_specific_power_w_per_kg"), gt=0.0
    )
    battery_specific_energy_wh_per_kg: float = Field(
        default=_default("battery_specific_energy_wh_per_kg"), gt=0.0
    )
    battery_depth_of_discharge: float = Field(
        default=_default("battery_depth_of_discharge"), gt=0.0, le=1.0
    )
    battery_efficiency: float = Field(default=_default("battery_efficiency"), gt=0.0, le=1.0)
    eclipse_path_efficiency: float = Field(
        default=_default("eclipse_path_efficiency"), gt=0.0, le=1.0
    )
    daylight_path_efficiency: float = Field(
        default=_default("daylight_path_efficiency"), gt=0.0, le=1.0
    )
    baseline: Literal["compressed", "raw"] = _default("baseline")
    accelerator_mass_kg: float | None = Field(default=None, ge=0.0)
    compute_duty: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> EconomicsConfig:
        """Bounds that involve two figures (checked with the defaults too, so setting one
        of a pair alone is checked against the other's default)."""
        low, high = self.launch_price_low_usd_per_kg, self.launch_price_high_usd_per_kg
        if high < low:
            raise ValueError(
                f"launch_price_high_usd_per_kg ({high:g}) must be >= "
                f"launch_price_low_usd_per_kg ({low:g}); set both"
            )
        radiator_k = self.radiator_temperature_c + ZERO_C_IN_K
        if self.radiator_sink_temperature_k >= radiator_k:
            raise ValueError(
                f"radiator_sink_temperature_k ({self.radiator_sink_temperature_k:g} K) must be "
                f"below the radiator's temperature (radiator_temperature_c = "
                f"{self.radiator_temperature_c:g} C = {radiator_k:g} K): a radiator rejects heat "
                "only to a colder sink; lower the sink or raise the radiator temperature"
            )
        return self

    def module_mass_kg(self, profile: str) -> tuple[float, str]:
        """The compute module's mass and where it comes from."""
        if self.accelerator_mass_kg is not None:
            return self.accelerator_mass_kg, "mission [economics] accelerator_mass_kg"
        table = _DATA["accelerator_mass_kg"]
        if profile not in table:
            raise ConfigError(
                f"no module mass for accelerator profile {profile!r} in "
                "edgeinfer/data/economics.toml; set economics.accelerator_mass_kg"
            )
        return float(table[profile]["value"]), str(table[profile]["source"])

    def assumptions(self, profile: str) -> list[dict[str, Any]]:
        """Every figure used, with its value and source (an override names the mission)."""
        out = []
        for key in type(self).model_fields:
            if key in ("accelerator_mass_kg", "compute_duty"):
                continue
            value = getattr(self, key)
            source = (
                "mission [economics] table"
                if key in self.model_fields_set
                else str(_DATA[key]["source"])
            )
            out.append({"key": key, "value": value, "source": source})
        mass, source = self.module_mass_kg(profile)
        out.append({"key": f"accelerator_mass_kg ({profile})", "value": mass, "source": source})
        duty = self.compute_duty
        out.append(
            {
                "key": "compute_duty",
                "value": duty,
                "source": "mission [economics] table"
                if duty is not None
                else "measured: modelled inference time / mission time, mean over satellites",
            }
        )
        return out


def _sig(value: float, digits: int = 6) -> float:
    """``value`` to ``digits`` significant figures (costs span many orders of magnitude)."""
    return float(f"{value:.{digits}g}")


def radiator_flux_w_m2(config: EconomicsConfig) -> float:
    """Heat one m2 of radiator rejects: eps * sigma * (T^4 - T_sink^4)."""
    t_k = config.radiator_temperature_c + ZERO_C_IN_K
    return float(
        radiated_w(t_k, 1.0, config.radiator_emissivity, config.radiator_sink_temperature_k)
    )


def compute_mass_kg(
    config: EconomicsConfig,
    profile: AcceleratorProfile,
    duty: float,
    eclipse_s: float,
    orbit_period_s: float,
) -> dict[str, float]:
    """Mass one satellite carries for its compute (module, radiator, array, battery)."""
    module, _ = config.module_mass_kg(profile.name)
    heat = profile.active_w
    area = heat / radiator_flux_w_m2(config)
    avg_w = profile.idle_w + (profile.active_w - profile.idle_w) * duty
    t_e = min(max(eclipse_s, 0.0), orbit_period_s)
    t_d = max(orbit_period_s - t_e, 1e-9)
    array_w = (
        avg_w * t_e / config.eclipse_path_efficiency + avg_w * t_d / config.daylight_path_efficiency
    ) / t_d
    battery_wh = (
        avg_w * t_e / 3600.0 / (config.battery_depth_of_discharge * config.battery_efficiency)
    )
    out = {
        "accelerator_kg": module,
        "heat_w": heat,
        "radiator_m2": area,
        "radiator_kg": area * config.radiator_areal_mass_kg_per_m2,
        "compute_average_w": avg_w,
        "solar_array_w": array_w,
        "solar_array_kg": array_w / config.solar_specific_power_w_per_kg,
        "battery_wh": battery_wh,
        "battery_kg": battery_wh / config.battery_specific_energy_wh_per_kg,
    }
    out["added_mass_kg"] = (
        out["accelerator_kg"] + out["radiator_kg"] + out["solar_array_kg"] + out["battery_kg"]
    )
    return out


def compute_economics(
    config: EconomicsConfig,
    profile: AcceleratorProfile,
    *,
    n_satellites: int,
    duration_s: float,
    alerts_delivered: int,
    raw_bytes: int,
    compressed_bytes: int,
    bytes_downlinked: int,
    measured_duty: float,
    eclipse_s: float,
    orbit_period_s: float,
    downlink_rate_bps: float,
    link_efficiency: float,
) -> dict[str, Any]:
    """The ``economics`` object of metrics.json (see the module docstring)."""
    if duration_s <= 0 or n_satellites < 1:
        raise ConfigError("economics needs a mission of > 0 s and >= 1 satellite")
    duty = config.compute_duty if config.compute_duty is not None else measured_duty
    sat = compute_mass_kg(config, profile, duty, eclipse_s, orbit_period_s)
    fleet_kg = sat["added_mass_kg"] * n_satellites
    low, high = config.launch_price_low_usd_per_kg, config.launch_price_high_usd_per_kg
    base = compressed_bytes if config.baseline == "compressed" else raw_bytes
    saved_bytes = max(base - bytes_downlinked, 0)
    minutes = saved_bytes * 8.0 / (downlink_rate_bps * link_efficiency) / 60.0
    per_day = 86400.0 / duration_s
    savings = minutes * config.ground_cost_per_minute_usd
    days = config.lifetime_years * SECONDS_PER_YEAR / 86400.0
    lifetime_savings = savings * per_day * days
    lifetime_alerts = alerts_delivered * per_day * days
    gb_cost = config.ground_cost_per_minute_usd / (
        downlink_rate_bps * link_efficiency * 60.0 / 8.0 / 1e9
    )

    def per_alert(price: float) -> float | None:
        return _sig(fleet_kg * price / lifetime_alerts) if lifetime_alerts > 0 else None

    break_even = lifetime_savings / fleet_kg if fleet_kg > 0 else math.inf
    return {
        "per_satellite": {k: round(v, 6) for k, v in sat.items()},
        "compute_duty": round(duty, 9),
        "radiator_flux_w_m2": round(radiator_flux_w_m2(config), 3),
        "added_mass_kg": round(fleet_kg, 6),
        "launch_cost_usd": {"low": round(fleet_kg * low, 2), "high": round(fleet_kg * high, 2)},
        "baseline": config.baseline,
        "bytes_not_downlinked": int(saved_bytes),
        "pass_minutes_saved": round(minutes, 6),
        "ground_cost_per_gb_usd": _sig(gb_cost),
        "ground_savings_usd": round(savings, 4),
        "ground_savings_per_day_usd": round(savings * per_day, 4),
        "lifetime_years": config.lifetime_years,
        "lifetime_ground_savings_usd": round(lifetime_savings, 2),
        "alerts_per_day": round(alerts_delivered * per_day, 3),
        "cost_per_alert_usd": {"low": per_alert(low), "high": per_alert(high)},
        "break_even_launch_price_usd_per_kg": None if math.isinf(break_even) else _sig(break_even),
        "pays_off": {
            "low": lifetime_savings >= fleet_kg * low,
            "high": lifetime_savings >= fleet_kg * high,
        },
        "assumptions": config.assumptions(profile.name),
    }
