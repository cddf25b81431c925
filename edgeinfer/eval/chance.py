"""Recall by chance: what the same detections would match if placed at random.

Optical ship labels in ports are dense along the quays and incomplete (sen2ships' README), so
a recall figure alone cannot tell a detector that finds ships from one that scatters boxes
along the shore: moored ships cover a large part of every waterline. The positional null
keeps everything about a detector's output except where along its zone each box lies:

1. Water = NDWI = (green - NIR) / (green + NIR) > 0 (McFeeters 1996; REFERENCE.md "Ships").
2. Each valid pixel falls in one zone: *shore* (within ``SHORE_PX`` of the waterline, either
   side), *open water* or *land* (further away).
3. Each detection box keeps its size and zone; its centre moves to a random pixel of that
   zone; the moved boxes are matched with the same rule as the real ones
   (:func:`edgeinfer.eval.matching.match_boxes`), ``REPEATS`` times with a fixed seed.

``chance_tp`` is the mean number of matches. A detector whose recall is near its chance
recall finds ships at the rate its box count and placement zone alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from edgeinfer.eval.matching import Box, match_boxes

SHORE_PX = 3  # the mixed-pixel band along a quay at 10 m (docs/detectors.md, ship_optical)
REPEATS = 20
SEED = 0


def zones(
    green: npt.NDArray[np.floating], nir: npt.NDArray[np.floating], valid: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int8]:
    """Per pixel: 0 invalid, 1 shore, 2 open water, 3 land (module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ndwi = (green - nir) / (green + nir)
    water = valid & (ndwi > 0)
    land = valid & ~water
    near_water = ndimage.distance_transform_edt(~water) <= SHORE_PX
    near_land = ndimage.distance_transform_edt(~land) <= SHORE_PX
    shore = valid & near_water & near_land
    out = np.zeros(valid.shape, dtype=np.int8)
    out[shore] = 1
    out[water & ~shore] = 2
    out[land & ~shore] = 3
    return out


def chance_tp(
    boxes: Sequence[Box],
    instances: npt.NDArray[np.integer],
    zone: npt.NDArray[np.int8],
    repeats: int = REPEATS,
    seed: int = SEED,
) -> float:
    """Mean matches of ``boxes`` moved to random pixels of their own zones (module docstring)."""
    if not boxes or not (instances > 0).any():
        return 0.0
    h, w = zone.shape
    pools = {z: np.flatnonzero(zone == z) for z in (1, 2, 3)}
    own = []
    for c0, r0, c1, r1 in boxes:
        r = int(np.clip((r0 + r1) // 2, 0, h - 1))
        c = int(np.clip((c0 + c1) // 2, 0, w - 1))
        z = int(zone[r, c])
        own.append(z if z in pools and len(pools[z]) else max(pools, key=lambda k: len(pools[k])))
    rng = np.random.default_rng(seed)
    total = 0
    for _ in range(repeats):
        moved: list[Box] = []
        for (c0, r0, c1, r1), z in zip(boxes, own, strict=True):
            flat = int(pools[z][rng.integers(len(pools[z]))]) if len(pools[z]) else 0
            cy, cx = divmod(flat, w)
            bw, bh = c1 - c0, r1 - r0
            moved.append((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
        total += match_boxes(moved, instances).tp
    return total / repeats
