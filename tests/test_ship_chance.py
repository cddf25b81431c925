"""The positional null of `eval ship` (edgeinfer.eval.chance) on scenes whose answer follows
from geometry alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeinfer.eval.chance import SHORE_PX, chance_tp, zones


def half_water(h: int = 60, w: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns < w/2 water (green > NIR: NDWI > 0), the rest land (NIR > green)."""
    green = np.full((h, w), 0.05, np.float32)
    nir = np.full((h, w), 0.02, np.float32)
    green[:, w // 2 :], nir[:, w // 2 :] = 0.08, 0.30
    return green, nir, np.ones((h, w), bool)


def test_zones_follow_the_waterline() -> None:
    green, nir, valid = half_water()
    z = zones(green, nir, valid)
    edge = 40  # first land column
    # shore: within SHORE_PX of the other class, on either side of the waterline
    assert (z[:, edge - SHORE_PX : edge + SHORE_PX] == 1).all()
    assert (z[:, : edge - SHORE_PX - 1] == 2).all() and (z[:, edge + SHORE_PX + 1 :] == 3).all()
    valid[:5] = False
    assert (zones(green, nir, valid)[:5] == 0).all()


def test_chance_is_certain_where_ships_line_the_whole_shore() -> None:
    green, nir, valid = half_water()
    z = zones(green, nir, valid)
    ships = np.zeros(z.shape, np.int32)
    for k, r0 in enumerate(range(0, 60, 10)):  # six ships moored end to end along the quay
        ships[r0 : r0 + 10, 36:44] = k + 1
    shore_box = (38, 20, 42, 24)  # on the quay: any place on the shore touches some ship
    assert chance_tp([shore_box], ships, z) == 1.0
    # matching stays one-to-one: two boxes can land on the same ship, never count twice
    assert 1.0 < chance_tp([shore_box] * 2, ships, z) <= 2.0
    assert chance_tp([], ships, z) == 0.0


def test_chance_matches_the_fraction_of_the_zone_a_ship_covers() -> None:
    green, nir, valid = half_water(200, 200)
    z = zones(green, nir, valid)
    ships = np.zeros(z.shape, np.int32)
    ships[0:4, 20:24] = 1  # one 4x4 ship in open water; a 1x1 box matches within 10 px
    box = (50, 100, 51, 101)
    n = int((z == 2).sum())
    # centres within 10 px of the ship centre (22, 2) or inside it, inside the open water
    rr, cc = np.nonzero(z == 2)
    near = ((np.hypot(cc + 0.5 - 22.0, rr + 0.5 - 2.0) <= 10) | (ships[rr, cc] > 0)).sum()
    expected = near / n
    got = chance_tp([box], ships, z, repeats=4000, seed=1)
    assert abs(got - expected) < 4 * np.sqrt(expected * (1 - expected) / 4000)
    assert chance_tp([box], ships, z, seed=3) == chance_tp([box], ships, z, seed=3)


def test_record_keeps_a_card_free_of_results_that_scored_nothing(tmp_path: Path) -> None:
    import json
    import shutil

    from edgeinfer.detect import default_models_dir
    from edgeinfer.eval.scenes import save_results

    for name in ("ship_optical", "ship_optical_cnn"):
        shutil.copy(default_models_dir() / f"{name}.onnx", tmp_path)
    results = {
        "ship_optical": {"images": 2, "recall": 0.5},
        "ship_optical_cnn": {"images": 0, "recall": 0.0},  # trained on every item here
    }
    save_results(results, tmp_path / "out.json", True, tmp_path, "eval_ship_x")
    assert json.loads((tmp_path / "out.json").read_text()) == results  # JSON: everything
    recorded = json.loads((tmp_path / "scores" / "ship_optical.json").read_text())
    assert recorded == {"eval_ship_x": results["ship_optical"]}
    assert "eval_ship_x" in (tmp_path / "ship_optical.md").read_text()
    assert not (tmp_path / "scores" / "ship_optical_cnn.json").exists()
    assert not (tmp_path / "ship_optical_cnn.md").exists()
