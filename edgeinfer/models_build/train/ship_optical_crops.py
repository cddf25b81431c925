"""The training data of ``ship_optical_cnn``: the sen2ships windows as ``edgeinfer eval
ship`` reads them, the training target (ship pixels minus those where two ships touch), and
the augmented crops (:func:`crops`: ship-centred sampling, rotations and flips, common and
per-band gains, optional sun-glint offsets). Split from :mod:`.ship_optical_cnn`, whose
docstring explains the sampling and the constants below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from edgeinfer.models_build.train.ship_cnn import Batch, Chip, CropBatch, load_items

CROP = 96
P_SHIP = 0.7
GAIN_LOG10 = (-0.9, 0.3)  # common gain 0.13x-2x (6.5 = 65535 / 10000 inside)
BAND_GAIN_LOG10 = 0.05  # per-band gain 0.89x-1.12x
P_GLINT = 0.5  # share of crops given a sun-glint offset when --glint > 0 (add_glint)
GLINT_SPECTRAL = (0.8, 1.2)  # per-band factor of the glint offset


def target_mask(instances: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
    """Ship pixels (instance id > 0) minus those with a different ship in their 3x3
    neighbourhood."""
    ids = np.asarray(instances)
    ship = ids > 0
    big = np.where(ship, ids, 0).astype(np.int64)
    hi = ndimage.maximum_filter(big, size=3)
    lo = -ndimage.maximum_filter(np.where(ship, -big, -(10**9)), size=3)
    touching = ship & ((hi != big) | (lo != big))
    return np.asarray(ship & ~touching, dtype=bool)


def load_windows(data_dir: Path) -> dict[str, Chip]:
    """stem -> (reflectance (5, h, w), valid, training target) as eval ship reads them."""
    from edgeinfer.eval.ship import find_items, read_instances

    chips = load_items(data_dir, "optical")
    masks = {item.stem: read_instances(item.mask)[0] for item in find_items(data_dir)}
    return {stem: (x, v, target_mask(masks[stem])) for stem, (x, v, _) in chips.items()}


def crops(chips: list[Chip], rng: np.random.Generator, batch: int, glint: float = 0.0) -> Batch:
    """A batch of augmented (x, valid, target) crops, ``CROP`` px square. ``glint`` > 0: with
    probability ``P_GLINT`` a crop gets a sun-glint offset on every band before the gains
    (:func:`add_glint`); 0 draws nothing (the committed weights' random stream)."""
    out = CropBatch()
    for _ in range(batch):
        x, valid, y = chips[int(rng.integers(len(chips)))]
        h, w = y.shape
        ships = np.argwhere(y)
        if len(ships) and rng.random() < P_SHIP:
            cy, cx = ships[int(rng.integers(len(ships)))] + rng.integers(
                -CROP // 3, CROP // 3 + 1, 2
            )
        else:
            cy, cx = rng.integers(0, h), rng.integers(0, w)
        r0 = int(np.clip(cy - CROP // 2, 0, max(h - CROP, 0)))
        c0 = int(np.clip(cx - CROP // 2, 0, max(w - CROP, 0)))
        xc = np.zeros((x.shape[0], CROP, CROP), np.float32)
        vc = np.zeros((CROP, CROP), np.float32)
        yc = np.zeros((CROP, CROP), np.float32)
        part = x[:, r0 : r0 + CROP, c0 : c0 + CROP]
        ph, pw = part.shape[1:]
        xc[:, :ph, :pw] = part
        vc[:ph, :pw] = valid[r0 : r0 + CROP, c0 : c0 + CROP]
        yc[:ph, :pw] = y[r0 : r0 + CROP, c0 : c0 + CROP]
        if glint > 0 and rng.random() < P_GLINT:
            xc = add_glint(xc, rng, glint)
        gain = 10 ** (
            rng.uniform(*GAIN_LOG10)
            + rng.uniform(-BAND_GAIN_LOG10, BAND_GAIN_LOG10, (x.shape[0], 1, 1))
        )
        xc = xc * gain.astype(np.float32)
        out.add(xc, yc, vc, rng)
    return out.stack()


def add_glint(
    x: npt.NDArray[np.float32], rng: np.random.Generator, most: float
) -> npt.NDArray[np.float32]:
    """``x`` (bands, h, w, reflectance) plus a sun-glint offset ``g * s_b``: ``g`` uniform in
    [0, ``most``], ``s_b`` in ``GLINT_SPECTRAL`` per band. Glint is specular reflection,
    nearly flat from the visible to the SWIR (Kay, Hedley & Lavender 2009, Remote Sensing 1,
    697-730); the per-band spread stands for the residuals of atmospheric correction. Over
    land the same offset is a haze (path radiance) error."""
    g = rng.uniform(0.0, most)
    s = rng.uniform(*GLINT_SPECTRAL, (x.shape[0], 1, 1))
    return (x + np.float32(g) * s.astype(np.float32)).astype(np.float32)
