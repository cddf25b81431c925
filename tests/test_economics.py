"""Economics: the radiator law against REFERENCE.md, array and battery sizing by hand (SMAD's
formulas), break-even price, configuration errors, and that every figure names a source."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgeinfer.budget import get_accelerator
from edgeinfer.budget.economics import (
    EconomicsConfig,
    compute_economics,
    compute_mass_kg,
    load_economics_data,
    radiator_flux_w_m2,
)
from edgeinfer.errors import ConfigError

SIGMA = 5.670374419e-8  # CODATA 2018


def test_radiator_flux_is_reference_value() -> None:
    # REFERENCE.md: ~491 W/m2 at eps 0.9, 40 C to deep space
    assert radiator_flux_w_m2(EconomicsConfig()) == pytest.approx(491.0, rel=0.005)
    hot = EconomicsConfig(radiator_temperature_c=80.0, radiator_emissivity=0.8)
    assert radiator_flux_w_m2(hot) == pytest.approx(0.8 * SIGMA * (353.15**4 - 2.7**4))


def test_mass_by_hand() -> None:
    cfg = EconomicsConfig()
    nano = get_accelerator("jetson_orin_nano")  # 15 W active, 7 W idle
    m = compute_mass_kg(cfg, nano, duty=0.5, eclipse_s=2000.0, orbit_period_s=6000.0)
    avg = 7.0 + 8.0 * 0.5
    array = (avg * 2000 / 0.65 + avg * 4000 / 0.85) / 4000
    battery = avg * 2000 / 3600 / (0.3 * 0.9)
    assert m["compute_average_w"] == pytest.approx(avg)
    assert m["solar_array_w"] == pytest.approx(array)
    assert m["solar_array_kg"] == pytest.approx(array / 80.0)
    assert m["battery_wh"] == pytest.approx(battery)
    assert m["battery_kg"] == pytest.approx(battery / 120.0)
    assert m["radiator_m2"] == pytest.approx(15.0 / radiator_flux_w_m2(cfg))
    total = 0.5 + m["radiator_m2"] * 5.0 + array / 80.0 + battery / 120.0
    assert m["added_mass_kg"] == pytest.approx(total)
    h100 = compute_mass_kg(cfg, get_accelerator("h100"), 0.0, 2000.0, 6000.0)
    assert h100["radiator_m2"] == pytest.approx(700.0 / 491.0, rel=0.01)  # ~1.4 m2
    assert h100["added_mass_kg"] > 10 * m["added_mass_kg"]


def _run(cfg: EconomicsConfig, profile: str = "jetson_orin_nano", **kw: float) -> dict:  # type: ignore[type-arg]
    args = {
        "n_satellites": 4,
        "duration_s": 86400.0,
        "alerts_delivered": 100,
        "raw_bytes": 20_000_000_000,
        "compressed_bytes": 12_000_000_000,
        "bytes_downlinked": 10_000,
        "measured_duty": 0.01,
        "eclipse_s": 2100.0,
        "orbit_period_s": 6030.0,
        "downlink_rate_bps": 220e6,
        "link_efficiency": 0.85,
    }
    args.update(kw)
    return compute_economics(cfg, get_accelerator(profile), **args)  # type: ignore[arg-type]


def test_savings_cost_per_alert_and_break_even() -> None:
    cfg = EconomicsConfig()
    e = _run(cfg)
    minutes = (12e9 - 1e4) * 8 / (220e6 * 0.85) / 60
    assert e["pass_minutes_saved"] == pytest.approx(minutes, rel=1e-6)
    assert e["ground_savings_usd"] == pytest.approx(minutes * 22.0, rel=1e-6)
    days = 5 * 365.25
    assert e["lifetime_ground_savings_usd"] == pytest.approx(minutes * 22.0 * days, rel=1e-6)
    kg = e["added_mass_kg"]
    assert kg == pytest.approx(4 * e["per_satellite"]["added_mass_kg"], rel=1e-5)
    assert e["cost_per_alert_usd"]["low"] == pytest.approx(kg * 200 / (100 * days), rel=1e-4)
    assert e["cost_per_alert_usd"]["high"] == pytest.approx(kg * 2000 / (100 * days), rel=1e-4)
    # at the break-even price the launch of the compute costs exactly the ground time saved
    p = e["break_even_launch_price_usd_per_kg"]
    at = _run(EconomicsConfig(launch_price_low_usd_per_kg=p, launch_price_high_usd_per_kg=p))
    assert at["launch_cost_usd"]["low"] == pytest.approx(e["lifetime_ground_savings_usd"], rel=1e-5)
    raw = _run(EconomicsConfig(baseline="raw"))
    assert raw["bytes_not_downlinked"] == 20_000_000_000 - 10_000
    # the ground-time price per GB follows from the per-minute price and the pass rate
    assert e["ground_cost_per_gb_usd"] == pytest.approx(
        22.0 / (220e6 * 0.85 * 60 / 8 / 1e9), rel=1e-5
    )
    none = _run(cfg, alerts_delivered=0)
    assert none["cost_per_alert_usd"] == {"low": None, "high": None}


def test_h100_pays_off_less_than_a_jetson() -> None:
    cfg = EconomicsConfig()
    jetson, h100 = _run(cfg), _run(cfg, "h100")
    assert h100["break_even_launch_price_usd_per_kg"] < jetson["break_even_launch_price_usd_per_kg"]
    assert h100["cost_per_alert_usd"]["high"] > jetson["cost_per_alert_usd"]["high"]


def test_configuration_and_sources() -> None:
    with pytest.raises(ValidationError, match=r"Extra inputs"):
        EconomicsConfig.model_validate({"launch_price": 3})
    with pytest.raises(ValidationError, match="must be >= launch_price_low"):
        EconomicsConfig(launch_price_low_usd_per_kg=500.0, launch_price_high_usd_per_kg=100.0)
    with pytest.raises(ConfigError, match=r"set economics\.accelerator_mass_kg"):
        EconomicsConfig().module_mass_kg("tpu")
    cfg = EconomicsConfig(ground_cost_per_minute_usd=3.0, accelerator_mass_kg=2.0)
    listed = {a["key"]: a for a in cfg.assumptions("h100")}
    assert listed["ground_cost_per_minute_usd"]["source"] == "mission [economics] table"
    assert listed["accelerator_mass_kg (h100)"]["value"] == 2.0
    data = load_economics_data()
    for key, entry in data.items():
        entries = entry.values() if key == "accelerator_mass_kg" else [entry]
        for e in entries:
            src = str(e["source"])
            assert "[assumption" in src or "(" in src or "REFERENCE.md" in src, (key, src)
    for a in EconomicsConfig().assumptions("jetson_orin_nano"):
        assert a["source"], a


def test_pairs_of_figures_are_checked_together() -> None:
    """A radiator rejects heat only to a colder sink (eps sigma (T^4 - Ts^4) > 0): a sink at
    or above its temperature is refused at load, not a division by zero or a negative mass
    after the mission ran (audit 14, D4); one launch price alone is checked against the
    other's default."""
    default_radiator_k = EconomicsConfig().radiator_temperature_c + 273.15
    for sink in (default_radiator_k, 320.0):
        with pytest.raises(ValidationError, match="must be below the radiator's temperature"):
            EconomicsConfig(radiator_sink_temperature_k=sink)
    with pytest.raises(ValidationError, match="must be below the radiator's temperature"):
        EconomicsConfig(radiator_temperature_c=-271.0)  # 2.15 K, under the 2.7 K sky
    assert radiator_flux_w_m2(EconomicsConfig(radiator_sink_temperature_k=300.0)) > 0
    high = EconomicsConfig().launch_price_high_usd_per_kg
    with pytest.raises(ValidationError, match=r"launch_price_high_usd_per_kg \(.*\) must be >="):
        EconomicsConfig(launch_price_low_usd_per_kg=high * 2.5)
