"""Independent NumPy implementations of the fire and cloud algorithms (test truth).

Written from the published descriptions (../shared/REFERENCE.md), not from the ONNX graph
code: tests are per pixel, contextual statistics are computed window by window over the
background pixels with ``np.mean``/``np.std`` (float64), neighbourhoods with
``scipy.ndimage``. Inputs are float32 reflectance arrays ``(bands, h, w)`` and a bool valid
mask; outputs uint8 classes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SAT = 65535 * 2.0e-5 - 0.1  # reflectance of Landsat DN 65535 before the sun division


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a / np.maximum(b, np.float32(1e-4))


def _context_pass(value75: float, value7: float, win75: np.ndarray, win7: np.ndarray) -> bool:
    if win75.size == 0:
        return False
    m75, s75 = win75.mean(), win75.std()
    m7, s7 = win7.mean(), win7.std()
    return bool(value75 > m75 + max(3 * s75, 0.8) and value7 > m7 + max(3 * s7, 0.08))


def fire_landsat(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Schroeder 2016 + Murphy 2016 + Kumar & Roy 2018, combined as documented in
    edgeinfer.models_build.fire. ``x`` bands: B1, B4, B5, B6, B7."""
    r1, r4, r5, r6, r7 = (x[i].astype(np.float32) for i in range(5))
    f = np.float32
    r75, r76, d75 = _ratio(r7, r5), _ratio(r7, r6), r7 - r5
    water = (r4 > r5) & (r5 > r6) & (r6 > r7) & (r1 - r7 < f(0.2))
    sat = (r6 >= f(SAT)) | (r7 >= f(SAT))
    schroeder = ((r75 > f(2.5)) & (d75 > f(0.3)) & (r7 > f(0.5))) | (
        (r6 > f(0.8)) & (r1 < f(0.2)) & ((r5 > f(0.4)) | (r7 < f(0.1)))
    )
    murphy = (r76 >= f(1.4)) & (r75 >= f(1.4)) & (r7 >= f(0.15))
    kumar = r4 <= r7 * f(0.53) + f(-0.214)
    seeds = valid & (schroeder | murphy | kumar)
    near = ndimage.binary_dilation(seeds, np.ones((3, 3), bool))
    murphy_nb = ((_ratio(r6, r5) >= f(2.0)) & (r6 >= f(0.5))) | sat
    kumar_nb = r4 <= r6 * f(0.35) + f(-0.044)
    strong = seeds | (valid & near & (murphy_nb | kumar_nb))

    s_pot = valid & ~strong & (r75 > f(1.8)) & (d75 > f(0.17)) & (r76 > f(1.6))
    k_pot = valid & ~strong & ((r4 <= r7 * f(0.53) + f(-0.125)) | (r6 <= r7 * f(1.08) + f(-0.048)))
    background = valid & ~water & (r7 > 0) & ~strong & ~s_pot & ~k_pot
    h, w = valid.shape
    weak = np.zeros_like(valid)
    r75d, r7d = r75.astype(np.float64), r7.astype(np.float64)
    for y, xx in zip(*np.nonzero(s_pot | k_pot), strict=True):
        ok = False
        if s_pot[y, xx]:
            sl = (slice(max(0, y - 30), y + 31), slice(max(0, xx - 30), xx + 31))
            bg = background[sl]
            ok = _context_pass(r75d[y, xx], r7d[y, xx], r75d[sl][bg], r7d[sl][bg])
        if not ok and k_pot[y, xx]:
            for size in range(5, 62, 2):
                r = size // 2
                sl = (
                    slice(max(0, y - r), min(h, y + r + 1)),
                    slice(max(0, xx - r), min(w, xx + r + 1)),
                )
                bg = background[sl]
                n_bg, n_valid = int(bg.sum()), int(valid[sl].sum())
                if n_bg >= 1 and 4 * n_bg >= n_valid:
                    ok = _context_pass(r75d[y, xx], r7d[y, xx], r75d[sl][bg], r7d[sl][bg])
                    break
        weak[y, xx] = ok
    cls = np.zeros(valid.shape, np.uint8)
    cls[weak] = 1
    cls[strong] = 2
    return cls


def fire_sentinel2(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Liu 2021 TAI + Sentinel Hub script, combined as documented. Bands: B8A, B11, B12."""
    a, s1, s2 = (x[i].astype(np.float32) for i in range(3))
    f = np.float32
    tai = (s2 - s1) / np.maximum(a, f(1e-4))
    taid = np.where(valid, tai.astype(np.float64), 0.0)
    sums = ndimage.uniform_filter(taid, 15, mode="constant")
    counts = ndimage.uniform_filter(valid.astype(np.float64), 15, mode="constant")
    mean15 = np.where(counts > 0.5 / 225, sums / np.maximum(counts, 1e-12), 0.0)
    seeds = valid & (tai - mean15 > 0.45)
    near = ndimage.binary_dilation(seeds, np.ones((31, 31), bool))
    liu = valid & near & (tai >= f(0.45)) & ((s2 - s1) > (s1 - a)) & (s2 > f(0.15))
    nd = (s2 - s1) / np.maximum(s2 + s1, f(1e-4))
    sh = valid & (((nd > f(0.4)) & (s2 > f(0.15))) | (s2 > f(1.0)))
    cls = np.zeros(valid.shape, np.uint8)
    cls[liu ^ sh] = 1
    cls[liu & sh] = 2
    return cls


def cloud_fmask(
    blue: np.ndarray,
    green: np.ndarray,
    red: np.ndarray,
    nir: np.ndarray,
    swir1: np.ndarray | None,
    swir2: np.ndarray | None,
    valid: np.ndarray,
) -> np.ndarray:
    """Zhu & Woodcock 2012 potential cloud pixel test without the thermal arm."""
    f = np.float32
    mean = (blue + green + red) / f(3)
    white = (np.abs(blue - mean) + np.abs(green - mean) + np.abs(red - mean)) / np.maximum(
        mean, f(1e-4)
    )
    ndvi = (nir - red) / np.maximum(nir + red, f(1e-4))
    cloud = valid & (ndvi < f(0.8)) & (white < f(0.7)) & (blue - red * f(0.5) - f(0.08) > 0)
    if swir1 is not None and swir2 is not None:
        ndsi = (green - swir1) / np.maximum(green + swir1, f(1e-4))
        cloud &= (swir2 > f(0.03)) & (ndsi < f(0.8)) & (nir / np.maximum(swir1, f(1e-4)) > f(0.75))
    return cloud.astype(np.uint8)
