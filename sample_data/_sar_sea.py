"""The SAR scene: calibrated VV sigma0 (linear) of sea clutter, a coast and ships.

Placement: UTM zone 54N (EPSG:32654), 10.24 km x 10.24 km at 10 m, centred at 35.20 N,
139.57 E in Sagami Bay, off the west coast of the Miura peninsula (Tokyo Bay approaches, one of
the OpenSARShip scenes). Land lies to the east, as there; the coastline itself is synthetic.
The grid is that of a terrain-corrected Sentinel-1 IW GRD high-resolution product (10 m pixels).
Acquisition 2023-10-25T20:43Z: 06:01 local mean solar time, a descending Sentinel-1 pass (the
orbit is dawn-dusk sun-synchronous).

Sea clutter is K-distributed: intensity = mean x texture x speckle, with
- mean sea sigma0 -17.5 dB VV: the median sea level measured on the Sentinel-1 IW GRD VV chips
  of OpenSARShip (Huang et al. 2018, IEEE JSTARS 11(1); ../shared/data/
  ships_sar_sentinel1_opensarship_grd_cal/README.md: median -17.5 dB, 5-95 % -19.0 to -10.0 dB),
  varied by +-0.8 dB (1 sd) over kilometres (wind),
- texture Gamma(nu = 10), mean 1, correlated along swell crests (the K-distribution's texture;
  Ward, Tough & Watts, Sea Clutter, IET 2006; nu of a few to tens at moderate resolution),
- speckle Gamma(L = 4.4), mean 1: the equivalent number of looks of IW GRDH (ESA Sentinel-1
  User Guide, product table: GRDH IW 20 x 22 m resolution, ENL 4.4). Speckle is drawn
  independently per 10 m pixel (real GRDH pixels are correlated over about 2 pixels).
Land: -7 dB mean, +-2 dB texture, same speckle, with sparse strong urban scatterers
(typical C-band VV for vegetated land, Ulaby & Long 2014, Microwave Radar and Radiometric
Remote Sensing [approximate]).
Ships: every pixel the hull touches gets a deterministic target return (no speckle, point-like
scatterers) added to the clutter. A ship's brightest pixel lies 10-30 dB above the local mean
sea sigma0 (SHIP_PEAK_CONTRAST_DB), longer ships brighter; OpenSARShip's ship peaks (median
+10.7 dB on a -17.5 dB sea, i.e. ~28 dB, mostly cargo and tankers > 100 m) bound the upper end.
Its other pixels lie 0-10 dB below its peak. Sidelobes, wakes and azimuth shifts of moving
ships are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from _textures import (
    F64,
    Bool,
    bbox_of,
    box_coverage,
    dilate,
    gamma_texture,
    paste_max,
    smooth_noise,
    smooth_profile,
)
from _writers import TruthObject
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

SHAPE = (1024, 1024)
PIXEL_M = 10.0
CRS_SAR = CRS.from_epsg(32654)
TRANSFORM = Affine(PIXEL_M, 0.0, 364700.0, 0.0, -PIXEL_M, 3901280.0)
ACQUIRED_UTC = "2023-10-25T20:43:00Z"
SEA_SIGMA0_DB = -17.5
SEA_WIND_SD_DB = 0.8
TEXTURE_NU = 10.0
ENL = 4.4
LAND_SIGMA0_DB = -7.0
LAND_SD_DB = 2.0
URBAN_DENSITY = 0.004  # share of coastal land pixels with a strong scatterer [assumed]
SHIP_PEAK_CONTRAST_DB = (10.0, 30.0)
SHIP_PIXEL_SPREAD_DB = 10.0
# 30 m: the smallest ship the sample lists as truth. SNAP's Object-Discrimination minimum target
# size (the default ship_sar's lower size bound, models/ship_sar.md) and ~1.5 resolution cells of
# IW GRDH (20 x 22 m, ESA Sentinel-1 User Guide); smaller boats are below what the simulated
# sensor and detector are specified for.
SHIP_LENGTH_M = (30.0, 250.0)
SHIP_COUNT = 16
SHIP_MIN_LAND_DISTANCE_PX = 30


@dataclass
class SarSea:
    """The generated scene and its truth."""

    sigma0: npt.NDArray[np.float32]
    sea_mean: F64  # local mean sea sigma0 (linear) before texture and speckle
    land: Bool
    ship_mask: Bool
    objects: list[TruthObject]


def db(x: float | F64) -> F64:
    return np.asarray(10.0 * np.log10(x), dtype=np.float64)


def _ships(
    rng: np.random.Generator, sea_ok: Bool, sea_mean: F64
) -> tuple[F64, Bool, list[TruthObject]]:
    """Ship targets (linear sigma0 to add), their footprint and truth objects."""
    target = np.zeros(SHAPE)
    footprint = np.zeros(SHAPE, dtype=bool)
    occupied = np.zeros(SHAPE, dtype=bool)
    objects: list[TruthObject] = []
    idx = np.flatnonzero(sea_ok)
    lo, hi = math.log(SHIP_LENGTH_M[0]), math.log(SHIP_LENGTH_M[1])
    while len(objects) < SHIP_COUNT:
        i = int(rng.choice(idx))
        centre = (i // SHAPE[1] + rng.random(), i % SHAPE[1] + rng.random())
        length_m = math.exp(rng.uniform(lo, hi))
        width_m = max(length_m / rng.uniform(5.0, 8.0), 5.0)
        heading = rng.uniform(0.0, 180.0)
        r0, c0, cov = box_coverage(centre, length_m / PIXEL_M, width_m / PIXEL_M, heading)
        patch = np.zeros(SHAPE)
        paste_max(patch, r0, c0, cov)
        foot = patch > 0
        if not sea_ok[foot].all() or occupied[foot].any():
            continue
        size = (math.log(length_m) - lo) / (hi - lo)
        peak_db = float(
            np.clip(
                SHIP_PEAK_CONTRAST_DB[0] + 20.0 * size + rng.normal(0.0, 3.0),
                *SHIP_PEAK_CONTRAST_DB,
            )
        )
        rows, cols = np.nonzero(foot)
        contrast = peak_db - rng.uniform(0.0, SHIP_PIXEL_SPREAD_DB, rows.size)
        k = int(rng.integers(rows.size))  # the brightest scatterer (superstructure, cranes)
        contrast[k] = peak_db
        target[rows, cols] = sea_mean[rows, cols] * 10.0 ** (contrast / 10.0)
        footprint |= foot
        occupied |= dilate(foot, 20)
        objects.append(
            TruthObject(
                "ship",
                bbox_of(foot),
                {
                    "length_m": length_m,
                    "width_m": width_m,
                    "heading_deg": heading,
                    "peak_contrast_db": peak_db,
                    "peak_px": [int(cols[k]), int(rows[k])],
                    "pixels": int(rows.size),
                },
            )
        )
    return target, footprint, objects


def build(seed: int) -> SarSea:
    """Generate the scene for ``seed`` (a pure function of the seed)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    coast_col = (
        860
        + 40 * smooth_profile(streams[0], SHAPE[0], 90)
        + 8 * smooth_profile(streams[0], SHAPE[0], 10)
    )
    cols = np.arange(SHAPE[1])[None, :]
    land = np.asarray(cols > coast_col[:, None], dtype=bool)

    wind_db = SEA_WIND_SD_DB * smooth_noise(streams[1], SHAPE, 150)
    sea_mean = 10.0 ** ((SEA_SIGMA0_DB + wind_db) / 10.0)
    swell = smooth_noise(streams[1], SHAPE, 2.0, stretch=(4.0, 0.6))
    texture = gamma_texture(swell, TEXTURE_NU)
    speckle = streams[2].gamma(ENL, 1.0 / ENL, SHAPE)

    land_db = LAND_SIGMA0_DB + LAND_SD_DB * smooth_noise(streams[3], SHAPE, 12)
    coastal = land & (ndimage.distance_transform_edt(land) < 150)
    urban = coastal & (streams[3].random(SHAPE) < URBAN_DENSITY)
    land_db = np.where(urban, land_db + streams[3].uniform(5.0, 15.0, SHAPE), land_db)
    land_sigma = 10.0 ** (land_db / 10.0)

    sigma0 = np.where(land, land_sigma, sea_mean * texture) * speckle
    sea_ok = ~land & (ndimage.distance_transform_edt(~land) > SHIP_MIN_LAND_DISTANCE_PX)
    sea_ok[:8, :] = sea_ok[-8:, :] = False
    sea_ok[:, :8] = sea_ok[:, -8:] = False
    target, ship_mask, objects = _ships(streams[4], sea_ok, sea_mean)
    sigma0 = sigma0 + target
    return SarSea(sigma0.astype(np.float32), sea_mean, land, ship_mask, objects)
