"""Power budget: energy conservation (property test), clamps, and the inference gate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.budget import PowerBudget, PowerConfig, get_accelerator
from edgeinfer.errors import ConfigError

configs = st.builds(
    PowerConfig,
    solar_array_w=st.floats(0.0, 500.0),
    battery_capacity_wh=st.floats(1.0, 1000.0),
    initial_soc=st.floats(0.0, 1.0),
    min_soc=st.floats(0.0, 1.0),
    bus_w=st.floats(0.0, 100.0),
    imager_w=st.floats(0.0, 100.0),
    radio_tx_w=st.floats(0.0, 100.0),
    accelerator_active_w=st.floats(0.0, 700.0),
    accelerator_idle_w=st.just(0.0),
    charge_efficiency=st.floats(0.5, 1.0),
)
steps = st.lists(
    st.tuples(
        st.floats(0.0, 3600.0),  # dt_s
        st.floats(0.0, 1.0),  # sunlit fraction
        st.floats(0.0, 1.0),  # imager duty
        st.floats(0.0, 1.0),  # accelerator duty
        st.floats(0.0, 1.0),  # radio duty
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(config=configs, seq=steps)
def test_energy_in_minus_energy_out_is_the_change_of_stored_energy(
    config: PowerConfig, seq: list
) -> None:  # type: ignore[type-arg]
    pb = PowerBudget(config)
    cap = config.battery_capacity_wh
    start = float(pb.stored_wh)
    total_delta = 0.0
    tol = 1e-9 * max(1.0, cap)
    for dt, lit, img, acc, tx in seq:
        before = float(pb.stored_wh)
        s = pb.step(dt, lit, img, acc, tx)
        after = float(pb.stored_wh)
        # energy in - energy out = change of stored energy, per step
        assert float(s.solar_wh - s.curtailed_wh - s.loss_wh - s.supplied_wh) == pytest.approx(
            after - before, abs=tol
        )
        assert float(s.stored_delta_wh) == pytest.approx(after - before, abs=tol)
        assert float(s.supplied_wh + s.unmet_wh) == pytest.approx(float(s.load_wh), abs=tol)
        assert 0.0 <= after <= cap
        assert min(float(s.curtailed_wh), float(s.unmet_wh), float(s.loss_wh)) >= -tol
        # clamps: solar is thrown away only at full, load goes unmet only at empty
        if float(s.curtailed_wh) > tol:
            assert after == pytest.approx(cap, abs=tol)
        if float(s.unmet_wh) > tol:
            assert after == pytest.approx(0.0, abs=tol)
        total_delta += after - before
    assert float(pb.stored_wh) == pytest.approx(start + total_delta, abs=tol * len(seq))


def test_hand_computed_eclipse_drain_and_sunlit_charge() -> None:
    cfg = PowerConfig(
        solar_array_w=100.0,
        battery_capacity_wh=50.0,
        initial_soc=0.5,
        bus_w=20.0,
        imager_w=0.0,
        radio_tx_w=0.0,
        accelerator_active_w=15.0,
        accelerator_idle_w=7.0,
    )
    pb = PowerBudget(cfg)
    s = pb.step(3600.0, False, accelerator=1.0)  # 35 W for an hour in eclipse
    assert float(s.load_wh) == pytest.approx(35.0) and float(pb.stored_wh) == pytest.approx(0.0)
    assert float(s.unmet_wh) == pytest.approx(10.0)  # 25 Wh were there
    s = pb.step(1800.0, True)  # 100 W in, 27 W out, for half an hour: +36.5 Wh
    assert float(pb.stored_wh) == pytest.approx(36.5)
    s = pb.step(1800.0, True)  # +36.5 more, but only 13.5 fit
    assert float(pb.stored_wh) == pytest.approx(50.0)
    assert float(s.curtailed_wh) == pytest.approx(23.0)


def test_charge_losses() -> None:
    cfg = PowerConfig(
        solar_array_w=110.0,
        battery_capacity_wh=1000.0,
        initial_soc=0.0,
        bus_w=10.0,
        imager_w=0.0,
        radio_tx_w=0.0,
        accelerator_active_w=0.0,
        accelerator_idle_w=0.0,
        charge_efficiency=0.9,
    )
    pb = PowerBudget(cfg)
    s = pb.step(3600.0, True)
    assert float(pb.stored_wh) == pytest.approx(90.0)
    assert float(s.loss_wh) == pytest.approx(10.0)


def test_inference_only_while_the_energy_is_there() -> None:
    orin = get_accelerator("jetson_orin_nano")
    cfg = PowerConfig.with_accelerator(
        orin,
        solar_array_w=100.0,
        battery_capacity_wh=100.0,
        initial_soc=0.31,
        min_soc=0.3,
        bus_w=45.0,
        imager_w=0.0,
        radio_tx_w=0.0,
    )
    pb = PowerBudget(cfg)
    # eclipse: 45 + 15 = 60 W; 1 Wh available above the 30 Wh floor = 60 s
    assert pb.can_infer(59.0)
    assert not pb.can_infer(61.0)
    assert pb.can_infer(3600.0, sunlit=True)  # 100 W of sun covers it
    pb.step(61.0, False, accelerator=1.0)
    assert not pb.can_infer(1.0)
    assert float(pb.soc) < 0.3


def test_vectorised_state_steps_satellites_independently() -> None:
    pb = PowerBudget(PowerConfig(initial_soc=0.5), shape=(3,))
    s = pb.step(600.0, np.array([True, False, True]), accelerator=np.array([0.0, 1.0, 1.0]))
    assert s.load_wh.shape == (3,)
    single = PowerBudget(PowerConfig(initial_soc=0.5))
    single.step(600.0, False, accelerator=1.0)
    assert float(pb.stored_wh[1]) == pytest.approx(float(single.stored_wh))


@pytest.mark.parametrize(
    "kwargs,text",
    [
        ({"battery_capacity_wh": 0.0}, "battery_capacity_wh"),
        ({"min_soc": 1.5}, "fractions"),
        ({"charge_efficiency": 0.0}, "charge_efficiency"),
        ({"bus_w": -1.0}, "load"),
        ({"accelerator_active_w": 1.0, "accelerator_idle_w": 2.0}, "accelerator_active_w"),
    ],
)
def test_bad_config(kwargs: dict, text: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=text):
        PowerConfig(**kwargs)
