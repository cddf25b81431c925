"""Deterministic texture and shape helpers for the sample scenes (numpy and scipy only).

Every function takes its random numbers from the ``numpy.random.Generator`` it is given, so a
scene is a pure function of its seed. Nothing here reads the clock or the environment.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage, special

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

# 8-connectivity, as the alert contract in docs/design.md uses for objects.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale_px: float,
    stretch: tuple[float, float] = (1.0, 1.0),
) -> F64:
    """A zero-mean, unit-variance Gaussian random field with correlation length ``scale_px``.

    White noise is low-pass filtered with a Gaussian of standard deviation ``scale_px`` (times
    ``stretch`` along rows and columns, for elongated patterns such as swell). Large scales are
    made on a coarser grid and interpolated up, which keeps every field well under 0.1 s.
    """
    factor = max(1, int(scale_px // 4))
    coarse = (shape[0] // factor + 3, shape[1] // factor + 3)
    white = rng.standard_normal(coarse)
    sigma = (scale_px * stretch[0] / factor, scale_px * stretch[1] / factor)
    field = ndimage.gaussian_filter(white, sigma, mode="wrap")
    if factor > 1:
        field = ndimage.zoom(field, factor, order=1)
    field = field[: shape[0], : shape[1]]
    std = float(field.std())
    return np.asarray((field - field.mean()) / (std if std > 0 else 1.0), dtype=np.float64)


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scales_px: tuple[float, ...],
    weights: tuple[float, ...],
) -> F64:
    """Sum of :func:`smooth_noise` octaves, renormalised to zero mean and unit variance."""
    total = np.zeros(shape, dtype=np.float64)
    for scale, weight in zip(scales_px, weights, strict=True):
        total += weight * smooth_noise(rng, shape, scale)
    return np.asarray((total - total.mean()) / total.std(), dtype=np.float64)


def smooth_profile(rng: np.random.Generator, length: int, scale_px: float) -> F64:
    """A 1-D zero-mean, unit-variance smooth random profile (for coastlines)."""
    white = rng.standard_normal(length + 8 * int(scale_px) + 8)
    smooth = ndimage.gaussian_filter1d(white, scale_px, mode="wrap")
    off = 4 * int(scale_px) + 4
    prof = smooth[off : off + length]
    return np.asarray((prof - prof.mean()) / prof.std(), dtype=np.float64)


def gamma_texture(gaussian: F64, shape_nu: float) -> F64:
    """Map a unit Gaussian field to a spatially correlated Gamma(nu, 1/nu) field (mean 1).

    A Gaussian copula: ``u = Phi(z)`` then the Gamma quantile of ``u``. The marginal is exactly
    Gamma with shape ``nu`` (variance ``1/nu``), the spatial correlation that of ``z``.
    """
    u = special.ndtr(gaussian)
    return np.asarray(special.gammaincinv(shape_nu, u) / shape_nu, dtype=np.float64)


def box_coverage(
    center_rc: tuple[float, float],
    length_px: float,
    width_px: float,
    heading_deg: float,
    supersample: int = 8,
) -> tuple[int, int, F64]:
    """Fractional pixel coverage of an oriented rectangle (a ship's or pier's footprint).

    ``center_rc`` is the centre in fractional pixel coordinates (row, col; a pixel's centre is
    ``index + 0.5``), ``heading_deg`` the long axis clockwise from north (up). Returns
    ``(row0, col0, coverage)`` with ``coverage`` the fraction of each pixel of the window starting
    at (row0, col0) that the rectangle covers, estimated on a ``supersample``-squared grid.
    """
    half = 0.5 * math.hypot(length_px, width_px) + 1.0
    row0 = math.floor(center_rc[0] - half)
    col0 = math.floor(center_rc[1] - half)
    n = math.ceil(2 * half) + 1
    sub = (np.arange(n * supersample, dtype=np.float64) + 0.5) / supersample
    rr, cc = np.meshgrid(row0 + sub, col0 + sub, indexing="ij")
    theta = math.radians(heading_deg)
    # unit vector of the long axis: north is -row, east is +col
    ax_r, ax_c = -math.cos(theta), math.sin(theta)
    dr, dc = rr - center_rc[0], cc - center_rc[1]
    along = dr * ax_r + dc * ax_c
    across = -dr * ax_c + dc * ax_r
    inside = (np.abs(along) <= length_px / 2) & (np.abs(across) <= width_px / 2)
    cov = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    return row0, col0, np.asarray(cov, dtype=np.float64)


def paste_max(canvas: F64, row0: int, col0: int, patch: F64) -> None:
    """``canvas = max(canvas, patch)`` over the patch's window, clipped to the canvas."""
    h, w = canvas.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + patch.shape[0], h), min(col0 + patch.shape[1], w)
    if r0 >= r1 or c0 >= c1:
        return
    sub = patch[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    np.maximum(canvas[r0:r1, c0:c1], sub, out=canvas[r0:r1, c0:c1])


def shift(field: F64, drow: int, dcol: int) -> F64:
    """``field`` moved by (drow, dcol) pixels, zero-filled (no wrap-around)."""
    out = np.zeros_like(field)
    h, w = field.shape
    src_r = slice(max(0, -drow), min(h, h - drow))
    src_c = slice(max(0, -dcol), min(w, w - dcol))
    dst_r = slice(max(0, drow), min(h, h + drow))
    dst_c = slice(max(0, dcol), min(w, w + dcol))
    out[dst_r, dst_c] = field[src_r, src_c]
    return out


def bbox_of(mask: Bool) -> tuple[int, int, int, int]:
    """``[col_min, row_min, col_max, row_max]`` of a non-empty mask (max exclusive)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def dilate(mask: Bool, radius_px: int) -> Bool:
    """Binary dilation by a square of half-size ``radius_px``."""
    if radius_px <= 0:
        return mask.copy()
    size = 2 * radius_px + 1
    return np.asarray(ndimage.maximum_filter(mask, size=size, mode="constant"), dtype=bool)


def block_mean_2x2(band: F64) -> F64:
    """Average 2x2 blocks and replicate back: a 20 m band seen on the 10 m grid.

    Sentinel-2 B8A/B11/B12 are sampled at 20 m (ESA Sentinel-2 User Handbook); stacks at 10 m
    (e.g. Sentinel Hub exports) repeat each 20 m pixel over its 2x2 block. The boxcar average
    stands in for the 20 m detector footprint.
    """
    h, w = band.shape
    blocks = band.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return np.asarray(np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1), dtype=np.float64)
