"""Ships and sub-pixel active fires for the Sentinel-2-like scene, with their truth.

Fires: a fire of temperature T filling a fraction f of one 10 m pixel replaces f of that pixel's
background and adds f times its Planck signal, band by band:
``rho = (1 - f) * rho_bg + fire_reflectance(band, T, f, sun_elevation)``
(:func:`edgeinfer.synth.planck.fire_reflectance`, blackbody, no atmosphere). The 20 m bands then
see the 2x2 block average, i.e. f/4 of a 20 m pixel. T is drawn in 800-1200 K and f so that the
fire is of detectable strength for the Sentinel Hub test of REFERENCE.md,
(B12 - B11) / (B12 + B11) > 0.4, on its 20 m block: f is 1.5-4 times the smallest fraction that
passes, and within 0.5-10 % of the 10 m pixel. The truth records where the fire was put and its
f and T, not what any detector says.
"""

from __future__ import annotations

import math

import numpy as np
from _textures import F64, Bool, bbox_of, box_coverage, dilate, paste_max
from _writers import TruthObject
from scipy import ndimage

from edgeinfer.scene.bands import SENTINEL2_MSI
from edgeinfer.synth.planck import fire_reflectance

FIRE_T_RANGE_K = (800.0, 1200.0)
FIRE_FRACTION_RANGE = (0.005, 0.10)  # of a 10 m pixel
FIRE_MARGIN_RANGE = (1.5, 4.0)  # times the smallest detectable fraction
FRONT_FIRES = 5  # a line of fires 5 px apart (a flaming front)
ISOLATED_FIRES = 7
PIER_SHIPS = 4
OPEN_SEA_SHIPS = 10
SHIP_LENGTH_M = (20.0, 80.0)  # 2-8 px at 10 m
PIER_SHIP_LENGTH_M = (20.0, 45.0)
PIXEL_M = 10.0


def _candidates(allowed: Bool, rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(allowed)
    pick = rng.choice(idx, size=min(n, idx.size), replace=False)
    w = allowed.shape[1]
    return [(int(i // w), int(i % w)) for i in pick]


def place_ships(
    rng: np.random.Generator,
    allowed: Bool,
    pier_cover: F64,
    pier_end: tuple[float, float],
    land: Bool,
) -> tuple[F64, F64, list[TruthObject]]:
    """Put ships on clear sea: a few moored near the pier end, the rest in open water.

    Returns the ship coverage (0..1 per pixel), a per-pixel brightness factor for the ship
    spectrum, and one truth object per ship (bbox of every pixel the hull touches).
    """
    shape = allowed.shape
    cover = np.zeros(shape)
    bright = np.ones(shape)
    ok = allowed & (ndimage.distance_transform_edt(~land) > 6) & ~dilate(pier_cover > 0, 2)
    occupied = np.zeros(shape, dtype=bool)
    objects: list[TruthObject] = []
    plans = [True] * PIER_SHIPS + [False] * OPEN_SEA_SHIPS
    for near_pier in plans:
        for _ in range(500):
            if near_pier:
                ang, rad = rng.uniform(0, 2 * math.pi), rng.uniform(5.0, 16.0)
                centre = (pier_end[0] + rad * math.cos(ang), pier_end[1] + rad * math.sin(ang))
                length_m = rng.uniform(*PIER_SHIP_LENGTH_M)
                heading = 165.0 + rng.uniform(-20.0, 20.0)
            else:
                (r, c) = _candidates(ok, rng, 1)[0]
                centre = (r + rng.random(), c + rng.random())
                length_m = rng.uniform(*SHIP_LENGTH_M)
                heading = rng.uniform(0.0, 180.0)
            width_m = max(length_m / rng.uniform(4.5, 6.5), 4.0)
            row0, col0, cov = box_coverage(centre, length_m / PIXEL_M, width_m / PIXEL_M, heading)
            patch = np.zeros(shape)
            paste_max(patch, row0, col0, cov)
            foot = patch > 0
            if not foot.any() or not ok[foot].all() or occupied[foot].any():
                continue
            brightness = rng.uniform(0.7, 1.3)
            cover = np.maximum(cover, patch)
            bright[foot] = brightness
            occupied |= dilate(foot, 4)
            objects.append(
                TruthObject(
                    "ship",
                    bbox_of(foot),
                    {
                        "length_m": length_m,
                        "width_m": width_m,
                        "heading_deg": heading % 360.0,
                        "near_pier": near_pier,
                        "brightness": brightness,
                    },
                )
            )
            break
    return cover, bright, objects


def _fire_positions(rng: np.random.Generator, allowed: Bool) -> list[tuple[int, int]]:
    """A front of fires 5 px apart in the top-left tile, then isolated fires >= 30 px apart."""
    h, w = allowed.shape
    top_left = np.zeros_like(allowed)
    top_left[:512, :512] = True
    positions: list[tuple[int, int]] = []
    for _ in range(500):
        r, c = _candidates(allowed & top_left, rng, 1)[0]
        ang = rng.uniform(0, math.pi)
        line = [
            (round(r + 5 * k * math.sin(ang)), round(c + 5 * k * math.cos(ang)))
            for k in range(FRONT_FIRES)
        ]
        if all(0 <= p < h and 0 <= q < w and allowed[p, q] for p, q in line):
            positions.extend(line)
            break
    for r, c in _candidates(allowed, rng, 4000):
        if len(positions) >= FRONT_FIRES + ISOLATED_FIRES:
            break
        if all(math.hypot(r - p, c - q) >= 30 for p, q in positions):
            positions.append((r, c))
    return positions


def place_fires(
    rng: np.random.Generator,
    allowed: Bool,
    background: F64,
    band_names: tuple[str, ...],
    sun_elevation_deg: float,
) -> tuple[F64, list[TruthObject]]:
    """Inject sub-pixel fires; returns the reflectance to add (bands, rows, cols) and the truth."""
    bands = [SENTINEL2_MSI[n] for n in band_names]
    i11, i12 = band_names.index("B11"), band_names.index("B12")
    delta = np.zeros_like(background)
    objects: list[TruthObject] = []
    for k, (r, c) in enumerate(_fire_positions(rng, allowed)):
        br, bc = r - r % 2, c - c % 2  # the 20 m pixel holding the fire
        block = background[:, br : br + 2, bc : bc + 2].mean(axis=(1, 2))
        pixel = background[:, r, c]
        for _ in range(50):
            temp = rng.uniform(*FIRE_T_RANGE_K)
            unit = np.array([fire_reflectance(b, temp, 1.0, sun_elevation_deg) for b in bands])
            # 20 m block value per unit fraction: block + f (unit - pixel) / 4; the test
            # 0.6 B12 - 1.4 B11 > 0 is (B12-B11)/(B12+B11) > 0.4 rearranged, linear in f
            g0 = 0.6 * block[i12] - 1.4 * block[i11]
            g1 = (0.6 * (unit[i12] - pixel[i12]) - 1.4 * (unit[i11] - pixel[i11])) / 4
            if g1 <= 0:
                continue
            f_min = max(-g0 / g1, 0.0)
            frac = max(f_min * rng.uniform(*FIRE_MARGIN_RANGE), FIRE_FRACTION_RANGE[0])
            if frac <= FIRE_FRACTION_RANGE[1]:
                break
        else:
            raise RuntimeError(f"no detectable fire fraction found at pixel ({r}, {c})")
        delta[:, r, c] = frac * (unit - pixel)
        objects.append(
            TruthObject(
                "fire",
                (c, r, c + 1, r + 1),
                {
                    "fraction": frac,
                    "area_m2": frac * PIXEL_M * PIXEL_M,
                    "temperature_k": temp,
                    "pixel_m": PIXEL_M,
                    "bbox_px_20m": [bc, br, bc + 2, br + 2],
                    "group": "front" if k < FRONT_FIRES else "isolated",
                },
            )
        )
    return delta, objects
