"""Independent NumPy/SciPy implementations of the ship detectors (test truth).

Written from the algorithm descriptions (edgeinfer/models_build/ship_sar.py and
ship_optical.py docstrings, ../shared/REFERENCE.md), not from the graph code: window sums
with ``scipy.ndimage.uniform_filter`` (zero outside the image, so windows are clipped to
it), morphology with ``scipy.ndimage`` minimum/maximum filters, radii recomputed here from
the published window sizes in metres.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.special import erfcinv

# ESA SNAP AdaptiveThresholding / Crisp 2004 (REFERENCE.md "Ships"); the target window is
# ship_sar's 30 m (the smallest ship of interest), guard and background SNAP's.
TARGET_M, GUARD_M, BACKGROUND_M = 30.0, 500.0, 800.0
T_SNAP = math.sqrt(2.0) * erfcinv(2.0 * 10.0**-6.5)  # 4.98
MIN_BACKGROUND = 16
# SNAP Object-Discrimination: clusters of size sqrt(length^2 + width^2) in [30, 800] m.
MIN_TARGET_M, MAX_TARGET_M = 30.0, 800.0
CENSORING_PASSES = 2  # after the first detection (An, Xie & Yuan 2014)
# ship_sar_land: 200 m mean, 10 % quantile, ratio 2, regions over 400 m, grown 2 radii.
LAND_WINDOW_M, LAND_QUANTILE, LAND_RATIO, LAND_MIN_M, LAND_STRIDE = 200.0, 0.1, 2.0, 400.0, 4


def radii(pixel_size_m: float, extent: int) -> tuple[int, int, int]:
    """Target, guard and background radii (float32 arithmetic, as the graph's inputs are)."""
    ps = np.float32(max(np.float32(pixel_size_m), np.float32(0.01)))
    r_t, r_g, r_b = (
        int(np.floor(np.float32(s / 2) / ps)) for s in (TARGET_M, GUARD_M, BACKGROUND_M)
    )
    r_b = min(r_b, extent // 2)
    r_g = min(r_g, int(np.floor(np.float32(r_b) * np.float32(GUARD_M / BACKGROUND_M))))
    r_t = min(r_t, max(r_g - 1, 0))
    return r_t, r_g, r_b


def box_sum(v: np.ndarray, r: int) -> np.ndarray:
    """Sum over the (2r+1)^2 window, clipped to the image (float64)."""
    size = 2 * r + 1
    return np.asarray(
        ndimage.uniform_filter(v.astype(np.float64), size, mode="constant") * size * size
    )


def _radius(size_m: float, pixel_size_m: float) -> int:
    ps = np.float32(max(np.float32(pixel_size_m), np.float32(0.01)))
    return int(np.floor(np.float32(size_m / 2) / ps))


def sar_land(x: np.ndarray, valid: np.ndarray, pixel_size_m: float) -> np.ndarray:
    """Land estimated from the band alone (ship_sar_land docstring)."""
    v = valid.astype(np.float64)
    y = x.astype(np.float64) * v
    r_m = _radius(LAND_WINDOW_M, pixel_size_m)
    mean = box_sum(y, r_m) / np.maximum(box_sum(v, r_m), 1.0)
    sample = mean[::LAND_STRIDE, ::LAND_STRIDE][valid[::LAND_STRIDE, ::LAND_STRIDE]]
    if sample.size == 0:
        return np.zeros(valid.shape, bool)
    ordered = np.sort(sample)
    level = ordered[min(int(np.floor(sample.size * LAND_QUANTILE)), sample.size - 1)]
    candidate = valid & (mean > level * LAND_RATIO)
    r_o = _radius(LAND_MIN_M, pixel_size_m)
    inside = box_sum(candidate.astype(np.float64), r_o)
    core = candidate & (inside >= (2 * r_o + 1) ** 2 - 0.5)
    opened = box_sum(core.astype(np.float64), r_o) > 0.5
    return valid & (box_sum((opened & valid).astype(np.float64), 2 * r_m) > 0.5)


def discriminate(det: np.ndarray, pixel_size_m: float) -> np.ndarray:
    """Keep 8-connected clusters of size sqrt(L^2 + W^2) * pixel in [30, 800] m, L and W the
    principal-axis extents (rectangle-equivalent, sqrt(12 var + 1))."""
    ps = float(np.float32(max(np.float32(pixel_size_m), np.float32(0.01))))
    labels, n = ndimage.label(det, structure=np.ones((3, 3), bool))
    keep = np.zeros(n + 1, bool)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = np.nonzero(labels[sl] == k)
        cov = np.cov(np.stack([rows, cols]).astype(np.float64), bias=True) if rows.size > 1 else 0
        eig = np.linalg.eigvalsh(cov) if rows.size > 1 else np.zeros(2)
        length = math.sqrt(12 * max(float(eig[1]), 0.0) + 1)
        width = math.sqrt(12 * max(float(eig[0]), 0.0) + 1)
        keep[k] = MIN_TARGET_M <= math.hypot(length, width) * ps <= MAX_TARGET_M
    return det & keep[labels]


def sar_cfar(
    x: np.ndarray, valid: np.ndarray, pixel_size_m: float
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Two-pass two-parameter CFAR on one band ``x`` (h, w) over the valid pixels that are not
    estimated land, then object discrimination. Returns (class uint8, z of the second pass,
    radii)."""
    extent = min(int(valid.any(axis=1).sum()), int(valid.any(axis=0).sum()))
    r_t, r_g, r_b = radii(pixel_size_m, extent)
    valid = valid & ~sar_land(x, valid, pixel_size_m)
    v = valid.astype(np.float64)
    y = x.astype(np.float64) * v
    target = box_sum(y, r_t) / np.maximum(box_sum(v, r_t), 1.0)

    def detect(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = box_sum(weight, r_b) - box_sum(weight, r_g)
        s1 = box_sum(weight * y, r_b) - box_sum(weight * y, r_g)
        s2 = box_sum(weight * y * y, r_b) - box_sum(weight * y * y, r_g)
        mean = s1 / np.maximum(n, 1.0)
        sd = np.sqrt(np.maximum(s2 / np.maximum(n, 1.0) - mean * mean, 0.0))
        det = valid & (target - mean > T_SNAP * sd) & (n >= MIN_BACKGROUND)
        z = (target - mean) / np.maximum(sd, 1e-30)
        return det, z

    det, z = detect(v)
    censored = det
    for _ in range(CENSORING_PASSES):
        det, z = detect(v * ~censored)
        censored = censored | det
    det = discriminate(det, pixel_size_m)
    return np.where(det, 2, 0).astype(np.uint8), z, (r_t, r_g, r_b)


# -- optical (edgeinfer/models_build/ship_optical.py docstring) ---------------------------------
def _dilate(mask: np.ndarray, size: int) -> np.ndarray:
    """Square dilation; pixels outside the image are ignored."""
    return np.asarray(ndimage.maximum_filter(mask, size, mode="constant", cval=False))


def _erode(mask: np.ndarray, size: int) -> np.ndarray:
    """Square erosion; pixels outside the image are ignored."""
    return np.asarray(ndimage.minimum_filter(mask, size, mode="constant", cval=True))


def _open(mask: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Opening with invalid pixels ignored by both steps."""
    return np.asarray(_dilate(_erode(mask | ~valid, size) & valid, size) & valid)


def _masked_stats(v: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    m = mask.astype(np.float64)
    n = box_sum(m, size // 2)
    s1 = box_sum(m * v, size // 2)
    s2 = box_sum(m * v * v, size // 2)
    mean = s1 / np.maximum(n, 1.0)
    sd = np.sqrt(np.maximum(s2 / np.maximum(n, 1.0) - mean * mean, 0.0))
    return mean, sd, n


def _reconstruct(seeds: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` 8-connected to a pixel of ``seeds`` (labelling, not dilation)."""
    lab, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
    keep = np.unique(lab[seeds & mask])
    return np.isin(lab, keep[keep > 0])


def _water_z(band: np.ndarray, background: np.ndarray, p: dict[str, float]) -> np.ndarray:
    size = int(p["background_px"])
    mean, sd, count = _masked_stats(band.astype(np.float64), background, size)
    sd = np.maximum(np.maximum(sd, 1e-3 * np.abs(mean)), 1e-5)
    z = (band - mean) / sd
    return np.where(count >= p["min_background_fraction"] * size * size, z, 0.0)


def optical_objects(
    x: np.ndarray, valid: np.ndarray, p: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate objects of ship_optical (steps 1-4 of its docstring): (labels, z, water)."""
    f = np.float32
    b, g, r, n, s = (x[i].astype(np.float32) * valid for i in range(5))
    floor = f(p["ratio_floor"])
    ndwi = (g - n) / np.maximum(g + n, floor) > 0
    mndwi = (g - s) / np.maximum(g + s, floor) > 0
    seeds = _open(valid & ndwi & mndwi, valid, int(p["seed_water_px"]))
    water = _reconstruct(seeds, valid & (ndwi | mndwi))
    land = valid & ~water
    body = _open(land, valid, int(p["land_body_px"]))
    shore = 2 * int(p["shore_px"]) + 1
    background = water & ndwi & ~_dilate(land, shore)
    vis = (b + g + r) / f(3.0)
    z = np.maximum(_water_z(n, background, p), _water_z(vis, background, p))
    # further passes without the previous pass's anomalies and their rim (censoring)
    for _ in range(int(p["censor_passes"])):
        background &= ~_dilate(z > p["k_lo"], 3)
        z = np.maximum(_water_z(n, background, p), _water_z(vis, background, p))
    allowed = ~body & (~_dilate(body, shore) | land)
    cand = valid & _dilate(water, 3) & allowed & (z > p["k_lo"])
    c = int(p["closing_px"])
    closed = _erode(_dilate(cand, c) | ~valid, c) & valid
    labels, _ = ndimage.label(closed, structure=np.ones((3, 3), bool))
    return labels, z, water


def optical_ships(x: np.ndarray, valid: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Ships from B02, B03, B04, B08, B11 ``(5, h, w)``; ``p`` holds the parameters
    (ship_optical.PARAMS). Returns class uint8 (2 = ship). Objects measured by their pixel
    coordinates' principal axes (rectangle-equivalent length and width)."""
    labels, z, _ = optical_objects(x, valid, p)
    n_obj = int(labels.max())
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    area = np.bincount(lab, minlength=n_obj + 1).astype(np.float64)

    def mean_of(v: np.ndarray) -> np.ndarray:
        return np.bincount(lab, weights=v, minlength=n_obj + 1) / np.maximum(area, 1.0)

    y, xx = rows.astype(np.float64), cols.astype(np.float64)
    my, mx = mean_of(y), mean_of(xx)
    vyy, vxx = mean_of(y * y) - my * my, mean_of(xx * xx) - mx * mx
    vxy = mean_of(y * xx) - my * mx
    half = (vyy + vxx) / 2
    disc = np.sqrt(np.maximum(half * half - (vyy * vxx - vxy * vxy), 0.0))
    length = np.sqrt(12 * (half + disc) + 1)
    width = np.sqrt(12 * np.maximum(half - disc, 0.0) + 1)
    strong = np.bincount(lab, weights=(z[rows, cols] >= p["k_hi"]), minlength=n_obj + 1)
    ship = (
        (area >= p["min_area_px"])
        & (length <= p["max_length_px"])
        & (width <= p["max_width_px"])
        & (strong > 0)
    )
    ship[0] = False
    return np.where(ship[labels], 2, 0).astype(np.uint8)
