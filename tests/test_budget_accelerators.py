"""Accelerator profiles are data with sources; numbers agree with REFERENCE.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinfer.budget import get_accelerator, load_accelerators
from edgeinfer.errors import ConfigError, UnknownNameError


def test_all_profiles_present_with_sources() -> None:
    profiles = load_accelerators()
    expected = {"jetson_orin_nano", "jetson_orin_nx", "jetson_agx_orin", "myriad_x", "h100", "host"}
    assert set(profiles) == expected
    for p in profiles.values():
        assert p.source and 0 <= p.idle_w <= p.active_w and p.relative_speed > 0
    assert profiles["host"].relative_speed == 1.0


@pytest.mark.parametrize(
    "name,active_w,tops",
    # REFERENCE.md "Power and thermal": upper ends of the power ranges, TOPS where given
    [
        ("jetson_orin_nano", 15.0, 40.0),
        ("jetson_agx_orin", 60.0, 275.0),
        ("jetson_orin_nx", 25.0, None),
        ("myriad_x", 1.5, None),
        ("h100", 700.0, None),
    ],
)
def test_numbers_from_reference(name: str, active_w: float, tops: float | None) -> None:
    p = get_accelerator(name)
    assert p.active_w == active_w
    if tops is not None:
        assert p.tops == tops


def test_lookup_normalises_and_unknown_lists_known() -> None:
    assert get_accelerator("Jetson-Orin-Nano").name == "jetson_orin_nano"
    with pytest.raises(UnknownNameError) as info:
        get_accelerator("tpu_v4")
    assert str(info.value) == (
        "unknown accelerator 'tpu_v4'; known accelerators: h100, host, jetson_agx_orin, "
        "jetson_orin_nano, jetson_orin_nx, myriad_x"
    )


def test_time_and_energy_helpers() -> None:
    p = get_accelerator("jetson_agx_orin")
    assert p.inference_time_s(275.0) == pytest.approx(1.0)
    assert p.energy_wh(60.0) == pytest.approx(1.0)


def test_custom_file_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "acc.toml"
    good.write_text(
        '[npu]\nactive_w = 5.0\nidle_w = 1.0\nrelative_speed = 3.0\ntops = 6.0\nsource = "mine"\n'
    )
    assert get_accelerator("npu", load_accelerators(good)).tops == 6.0
    missing = tmp_path / "bad.toml"
    missing.write_text("[npu]\nactive_w = 5.0\n")
    with pytest.raises(ConfigError, match="lacks idle_w"):
        load_accelerators(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[npu\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_accelerators(broken)
    inverted = tmp_path / "inv.toml"
    inverted.write_text(
        '[x]\nactive_w = 1.0\nidle_w = 2.0\nrelative_speed = 1.0\ntops = 1.0\nsource = "s"\n'
    )
    with pytest.raises(ConfigError, match="idle_w <= active_w"):
        load_accelerators(inverted)
