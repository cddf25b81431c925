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

# ESA SNAP AdaptiveThresholding / Crisp 2004 (REFERENCE.md "Ships").
TARGET_M, GUARD_M, BACKGROUND_M = 50.0, 500.0, 800.0
T_SNAP = math.sqrt(2.0) * erfcinv(2.0 * 10.0**-6.5)  # 4.98
MIN_BACKGROUND = 16


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


def sar_cfar(
    x: np.ndarray, valid: np.ndarray, pixel_size_m: float
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Two-pass two-parameter CFAR on one band ``x`` (h, w). Returns (class uint8, z of the
    second pass, radii)."""
    v = valid.astype(np.float64)
    y = x.astype(np.float64) * v
    extent = min(int(valid.any(axis=1).sum()), int(valid.any(axis=0).sum()))
    r_t, r_g, r_b = radii(pixel_size_m, extent)
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

    first, _ = detect(v)
    det, z = detect(v * ~first)
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


def _grey_open(v: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    big = np.float32(3e38)
    low = ndimage.minimum_filter(np.where(valid, v, big), size, mode="constant", cval=big)
    return np.asarray(
        ndimage.maximum_filter(np.where(valid, low, -big), size, mode="constant", cval=-big)
    )


def _grey_close(v: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    return -_grey_open(-v, valid, size)


def _masked_stats(v: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    m = mask.astype(np.float64)
    n = box_sum(m, size // 2)
    s1 = box_sum(m * v, size // 2)
    s2 = box_sum(m * v * v, size // 2)
    mean = s1 / np.maximum(n, 1.0)
    sd = np.sqrt(np.maximum(s2 / np.maximum(n, 1.0) - mean * mean, 0.0))
    return mean, sd, n


def optical_ships(x: np.ndarray, valid: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Ships on/beside water from B02, B03, B04, B08, B11 ``(5, h, w)``; ``p`` holds the
    parameters (ship_optical.PARAMS). Returns class uint8 (2 on water, 1 at the shore)."""
    f = np.float32
    b, g, r, n, s = (x[i].astype(np.float32) * valid for i in range(5))
    floor = f(p["ratio_floor"])
    ndwi = (g - n) / np.maximum(g + n, floor)
    mndwi = (g - s) / np.maximum(g + s, floor)
    water = valid & ((ndwi > 0) | (mndwi > 0))
    open_water = _open(water, valid, int(p["open_water_px"]))
    not_water = valid & ~open_water
    land = _open(not_water, valid, int(p["land_body_px"]))
    for _ in range(int(p["land_connect_px"])):
        land = _dilate(land, 3) & not_water
    near = _dilate(open_water, 2 * int(p["near_water_px"]) + 1)
    anomaly = np.zeros(valid.shape, bool)
    size = int(p["background_px"])
    vis = (b + g + r) / f(3.0)
    for band in (n, vis):
        mean, sd, count = _masked_stats(band.astype(np.float64), open_water, size)
        z = np.abs(band - mean) / np.maximum(np.maximum(sd, 1e-3 * np.abs(mean)), 1e-5)
        enough = count >= p["min_background_fraction"] * size * size
        anomaly |= (z > p["k_sd"]) & enough
    on_water = anomaly & near & ~land & valid
    log_n = np.log(np.maximum(n, floor))
    k = int(p["tophat_px"])
    bright = log_n - _grey_open(log_n, valid, k)
    dark = _grey_close(log_n, valid, k) - log_n
    shore = not_water & near & ((bright > p["tophat_log"]) | (dark > p["tophat_log"]))
    c = int(p["closing_px"])
    union = on_water | shore
    closed = _erode(_dilate(union, c) | ~valid, c) & valid
    return np.where(closed & _dilate(on_water, c), 2, np.where(closed, 1, 0)).astype(np.uint8)
