"""Radiation upsets switched on in a mission ([faults] seu_rate_factor, seu_targets) and the
mitigations that answer them (scrubbing, TMR, CRC-32 on stored records).

Independent truths: the clean mission (scrubbing before every inference restores the golden
weights, so it must deliver exactly the clean alerts; TMR must too, at 3x the modelled
accelerator time), the CRC-16 of the ground (a damaged record is never accepted), and the
Poisson mean of the SEU model for tile upsets (4.04e-7 /bit/day, REFERENCE.md "Radiation").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from chaos_helpers import alert_set, mission
from test_detect_helpers import make_tile

from edgeinfer.detect import RuntimeOptions
from edgeinfer.faults import REFERENCE_SEU_PER_BIT_DAY
from edgeinfer.link import LinkFaults
from edgeinfer.mission import MissionResult, run_mission
from edgeinfer.node import HazardSettings, NodeHazards
from edgeinfer.scene import Tile

pytestmark = pytest.mark.slow


def _run(tmp: Path, name: str, **faults: object) -> MissionResult:
    return run_mission(mission(faults=faults), tmp / name, use_ray=False)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seu")


@pytest.fixture(scope="module")
def clean(tmp: Path) -> MissionResult:
    return _run(tmp, "clean")


def test_weight_upsets_with_scrubbing_and_tmr_change_nothing_but_compute(
    clean: MissionResult, tmp: Path
) -> None:
    # the detectors are small threshold graphs (ship_sar_vv: 2,736 weight bits), so 1000x
    # gives 0.07 upsets before the capture at 1.5 h; 1e5x gives ~7
    result = _run(
        tmp, "scrub", seu_rate_factor=1e5, seu_targets=["weights"], scrubbing=True, tmr=True
    )
    t = result.total
    assert t["seu_weight_upsets"] > 0 and t["scrubs"] > 0 and t["tmr_votes"] > 0
    assert alert_set(result) == alert_set(clean)
    assert len(alert_set(clean)) == clean.total["alerts_raised"] > 0
    assert t["inference_modelled_s"] == pytest.approx(3 * clean.total["inference_modelled_s"])
    assert t["alerts_lost"] == t["corrupted_accepted"] == 0


def test_weight_upsets_without_scrubbing_are_measured(clean: MissionResult, tmp: Path) -> None:
    result = _run(tmp, "raw", seu_rate_factor=1e5, seu_targets=["weights"])
    t = result.total
    assert t["seu_weight_upsets"] > 0 and t["seu_weight_bits"] >= t["seu_weight_upsets"]
    assert t["scrubs"] == 0 and t["tmr_votes"] == 0
    assert t["inference_modelled_s"] == pytest.approx(clean.total["inference_modelled_s"])


def test_record_upsets_are_caught_by_the_store_crc(tmp: Path) -> None:
    result = _run(tmp, "crc", seu_rate_factor=1e5, seu_targets=["records"], record_crc=True)
    t = result.total
    assert t["seu_record_upsets"] > 0
    # a damaged record is reported and never sent: lost, never accepted corrupted
    assert t["alerts_lost"] == t["store_crc_failures"] > 0
    assert t["alerts_delivered"] == t["alerts_raised"] - t["alerts_lost"]
    assert t["corrupted_accepted"] == 0 and t["ground_crc_failures"] == 0


def test_without_the_store_crc_the_ground_crc_still_refuses(tmp: Path) -> None:
    result = _run(tmp, "nocrc", seu_rate_factor=1e5, seu_targets=["records"], record_crc=False)
    t = result.total
    assert t["store_crc_failures"] == 0 and t["ground_crc_failures"] > 0
    assert t["alerts_lost"] > 0 and t["corrupted_accepted"] == 0
    assert t["retransmissions"] > 0  # damaged packets are sent again and again in vain


def _tile() -> Tile:
    return make_tile(np.ones((3, 512, 512), np.float32), bands=("B1", "B2", "B3"))


def test_tile_upsets_follow_the_poisson_mean_and_the_seed() -> None:
    h = HazardSettings(LinkFaults(), seu_rate_factor=1000.0, seu_targets=("tiles",))
    bits = 3 * 512 * 512 * 32
    exposure_s = 600.0
    mean = REFERENCE_SEU_PER_BIT_DAY * 1000.0 * bits * exposure_s / 86_400.0  # ~70
    counts = []
    for job in range(40):
        hazards = NodeHazards(h, seed=5, sat_index=1, options=RuntimeOptions("cpu"))
        out = hazards.tile(_tile(), job, exposure_s)
        counts.append(hazards.counters["seu_tile_upsets"])
        assert (out.data != 1.0).any() == (counts[-1] > 0)
    assert abs(np.mean(counts) - mean) < 4 * np.sqrt(mean / len(counts))
    again = NodeHazards(h, seed=5, sat_index=1, options=RuntimeOptions("cpu"))
    same = again.tile(_tile(), 3, exposure_s)
    first = NodeHazards(h, seed=5, sat_index=1, options=RuntimeOptions("cpu")).tile(
        _tile(), 3, exposure_s
    )
    assert np.array_equal(same.data, first.data, equal_nan=True)
    off = NodeHazards(HazardSettings(), seed=5, sat_index=1, options=RuntimeOptions("cpu"))
    assert off.tile(_tile(), 3, exposure_s).data is not None and off.counters.total() == 0
