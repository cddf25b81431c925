"""Vectorised root finding and maximisation over many brackets at once.

Events (a pass's rise, an eclipse entry) are first bracketed on a coarse time grid, then all
brackets of all satellites are refined together: one sgp4 call per satellite per iteration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from edgeinfer.orbit.frames import FloatArray

# f(satellite_index, offsets_s) -> values, all arrays of one length.
Objective = Callable[[NDArray[np.intp], FloatArray], FloatArray]

_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


def bisect(
    f: Objective, sat: NDArray[np.intp], lo: FloatArray, hi: FloatArray, tol_s: float = 1e-3
) -> FloatArray:
    """Zero of ``f`` in each bracket [lo, hi] where ``f`` changes sign (bisection).

    The result is within ``tol_s`` of the crossing for every bracket; a bracket without a sign
    change converges to one of its ends.
    """
    lo = np.asarray(lo, dtype=np.float64).copy()
    hi = np.asarray(hi, dtype=np.float64).copy()
    if lo.size == 0:
        return lo
    f_lo_neg = f(sat, lo) < 0.0
    width = float(np.max(hi - lo))
    n_iter = int(np.ceil(np.log2(max(width, tol_s) / tol_s))) + 1
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        same_as_lo = (f(sat, mid) < 0.0) == f_lo_neg
        lo = np.where(same_as_lo, mid, lo)
        hi = np.where(same_as_lo, hi, mid)
    out: FloatArray = 0.5 * (lo + hi)
    return out


def golden_max(
    f: Objective, sat: NDArray[np.intp], lo: FloatArray, hi: FloatArray, tol_s: float = 1e-2
) -> tuple[FloatArray, FloatArray]:
    """Maximum of a unimodal ``f`` in each bracket (golden-section search): (argmax, max)."""
    a = np.asarray(lo, dtype=np.float64).copy()
    b = np.asarray(hi, dtype=np.float64).copy()
    if a.size == 0:
        return a, a.copy()
    c = b - _INV_PHI * (b - a)
    d = a + _INV_PHI * (b - a)
    fc = f(sat, c)
    fd = f(sat, d)
    width = float(np.max(b - a))
    n_iter = int(np.ceil(np.log(max(width, tol_s) / tol_s) / -np.log(_INV_PHI))) + 1
    for _ in range(n_iter):
        left = fc > fd  # the maximum lies in [a, d], else in [c, b]
        a_new = np.where(left, a, c)
        b_new = np.where(left, d, b)
        c_new = np.where(left, b_new - _INV_PHI * (b_new - a_new), d)
        d_new = np.where(left, c, a_new + _INV_PHI * (b_new - a_new))
        fp = f(sat, np.where(left, c_new, d_new))  # one new evaluation per bracket
        fc, fd = np.where(left, fp, fd), np.where(left, fc, fp)
        a, b, c, d = a_new, b_new, c_new, d_new
    x: FloatArray = 0.5 * (a + b)
    return x, f(sat, x)
