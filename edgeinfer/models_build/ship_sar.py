"""SAR ship detector as an ONNX graph: the two-parameter CFAR of ESA SNAP's
AdaptiveThresholding operator (after Crisp 2004, DSTO-RR-0272), with iterative censoring of
the background (An, Xie & Yuan 2014, IEEE TGRS 52(8)).

Per pixel (../shared/REFERENCE.md "Ships"; SNAP ``AdaptiveThresholdingOp``):

- three square windows given in METRES: target 30 m, guard 500 m, background 800 m. Their
  radius in pixels is ``floor(size_m / (2 * pixel_size_m))`` (side ``2r + 1``; SNAP uses
  ``(int)(size / spacing) + 1`` and a half-width of ``(side - 1) / 2``, the same radii at
  10 m). ``pixel_size_m`` is the contract's aux input, so one model serves every sensor and
  the windows are sized inside the graph (summed-area tables read at computed offsets,
  :mod:`edgeinfer.models_build.ship_ops`). Guard and background are SNAP's defaults; the
  target window is 30 m instead of SNAP's 50 m: Crisp (2004, sec. 3.2) sizes it to the
  smallest target of interest, and the smallest ships we look for are about 30 m (the
  minimum target size of SNAP's Object-Discrimination as commonly run, below). A 50 m window
  averages a 2-3 px boat at 10 m with twice its area of sea.
- background = the valid pixels of the background window outside the guard window; a
  pixel is a target when the mean of the target window exceeds ``mu_b + t * sd_b`` with
  ``t = sqrt(2) * erfinv(1 - 2 * pfa)`` = Phi^-1(1 - pfa) for pfa = 10^-6.5, t = 4.9818
  (SNAP's Gaussian design parameter; REFERENCE.md: t ~ 4.98).
- iterative censoring (An et al. 2014): two more passes each recompute ``mu_b`` and ``sd_b``
  without every pixel detected so far, so a neighbouring ship does not inflate the background
  and hide another one (a ship found only in the second pass is censored in the third).

Small chips (our decision): a chip can be smaller than the windows (a 30 x 30 px chip at
10 m is 300 m, the background window 800 m). The windows are then shrunk to the valid
extent of the tile, ``E`` = min(valid rows, valid columns): background radius
``min(r_b, floor(E / 2))``, guard ``min(r_g, floor(r_b' * 500 / 800))`` (the published
guard/background ratio), target ``min(r_t, r_g' - 1)``. On full scenes (512 px tiles at
10 m) nothing changes. Background statistics need at least ``MIN_BACKGROUND_PX`` pixels.

Domain (our decision): the test runs on the band as given, amplitude or intensity (sigma0),
as SNAP does. Mean and sd scale with any gain, so the result is the same for calibrated
sigma0, uncalibrated DN and chips normalised by their maximum; it is not the same for
amplitude and its square, which the card reports measured on both kinds of data.

Land: pixels marked invalid (nodata, a land mask supplied as the scene's mask) are left out
of every window sum, so a coast does not inflate the background, and are never detected.
Without a mask, land is estimated from the band itself (:mod:`ship_sar_land`: regions over
400 m whose 200 m mean is more than twice the darkest tenth of the tile) and treated the same.

Object discrimination (SNAP ``ObjectDiscriminationOp``): detections are grouped into
8-connected clusters (inside the graph, :mod:`ship_components`) and a cluster is kept when its
size ``sqrt(length**2 + width**2)`` lies in [30, 800] m (values used in SNAP ship-detection
graphs; the operator's code default is 80-400 m). SNAP measures length and width along the
image axes; we use the principal axes (as the runtime measures alerts). A lone bright pixel at
10 m (14 m) is dropped; so is land the estimate missed if it forms a cluster over 800 m.

Output: class 2 where the second pass detects (no candidate class); confidence
``sigmoid(z - t)`` with ``z = (target mean - mu_b) / sd_b`` (0.5 at the threshold), 0
elsewhere. The runtime measures each object's length along its major axis (alert extra).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from edgeinfer.models_build import ship_sar_land as land
from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor
from edgeinfer.models_build.registry import finalize
from edgeinfer.models_build.ship_components import Components, extents
from edgeinfer.models_build.ship_ops import (
    DynamicBoxSum,
    radius_px,
    ring_stats,
    to_index,
    valid_extent,
)
from edgeinfer.scene.bands import SAR_UNITS

VERSION = "1.2.1"
OUTPUTS = {"0": "none", "1": "candidate (not produced)", "2": "ship"}

# ESA SNAP AdaptiveThresholding defaults (REFERENCE.md "Ships", after Crisp DSTO-RR-0272).
TARGET_WINDOW_M = 30.0
GUARD_WINDOW_M = 500.0
BACKGROUND_WINDOW_M = 800.0
PFA_EXPONENT = 6.5  # pfa = 10^-6.5
MIN_TARGET_M = 30.0
MAX_TARGET_M = 800.0
# Censoring passes after the first detection (An, Xie & Yuan 2014, iterative censoring): each
# recomputes the background without every pixel detected so far. With one pass, a ship missed
# at first (its ring holding a brighter ship) still sits, uncensored, in the ring of a smaller
# neighbour and inflates its sd; the second pass removes it too.
CENSORING_PASSES = 2


def design_t(pfa_exponent: float = PFA_EXPONENT) -> float:
    """SNAP's detector design parameter ``t = sqrt(2) erfinv(1 - 2 pfa)`` = Phi^-1(1 - pfa),
    the Gaussian tail threshold in background standard deviations (4.9818 at 10^-6.5)."""
    from scipy.special import erfcinv

    return float(math.sqrt(2.0) * erfcinv(2.0 * 10.0 ** (-pfa_exponent)))


T_DESIGN = design_t()
# Fewest background pixels whose mean and sd we trust (our choice: a 4 x 4 patch).
MIN_BACKGROUND_PX = 16
# Smallest pixel size the graph accepts; smaller (or 0) is read as this, so the windows
# stay finite (they are then clamped to the tile).
MIN_PIXEL_SIZE_M = 0.01
_TINY = 1e-30


def window_radii(pixel_size_m: float, extent_px: int | None = None) -> tuple[int, int, int]:
    """(target, guard, background) radii in pixels for ``pixel_size_m``, shrunk to a chip
    whose valid extent is ``extent_px`` (the graph computes the same; documented above)."""
    ps = max(float(np.float32(pixel_size_m)), MIN_PIXEL_SIZE_M)
    r_t, r_g, r_b = (
        math.floor(np.float32(size / 2.0) / np.float32(ps))
        for size in (TARGET_WINDOW_M, GUARD_WINDOW_M, BACKGROUND_WINDOW_M)
    )
    if extent_px is not None:
        r_b = min(r_b, extent_px // 2)
        r_g = min(
            r_g, math.floor(np.float32(r_b) * np.float32(GUARD_WINDOW_M / BACKGROUND_WINDOW_M))
        )
        r_t = min(r_t, max(r_g - 1, 0))
    return r_t, r_g, r_b


def _radii(g: GraphBuilder, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """int64 ``[N, 1, 1, 1]`` radii of the target, guard and background windows."""
    ps = g.maximum("pixel_size_m", MIN_PIXEL_SIZE_M)
    extent = valid_extent(g, valid)
    r_b = g.minimum(radius_px(g, BACKGROUND_WINDOW_M, ps), g.op("Floor", g.mul(extent, 0.5)))
    ratio = GUARD_WINDOW_M / BACKGROUND_WINDOW_M
    r_g = g.minimum(radius_px(g, GUARD_WINDOW_M, ps), g.op("Floor", g.mul(r_b, ratio)))
    r_t = g.minimum(radius_px(g, TARGET_WINDOW_M, ps), g.maximum(g.sub(r_g, 1.0), 0.0))
    return to_index(g, r_t), to_index(g, r_g), to_index(g, r_b)


def _exceeds(g: GraphBuilder, target: Tensor, mean: Tensor, sd: Tensor, count: Tensor) -> Tensor:
    """``target - mean > t * sd`` with enough background pixels (float64 operands)."""
    t = g.const(T_DESIGN, np.float64)
    enough = g.ge(count, g.const(float(MIN_BACKGROUND_PX), np.float64))
    return g.and_(g.gt(g.sub(target, mean), g.mul(t, sd)), enough)


def _discriminate(g: GraphBuilder, det: Tensor) -> Tensor:
    """SNAP Object-Discrimination: keep the 8-connected clusters whose size sqrt(length**2 +
    width**2) in metres lies in [MIN_TARGET_M, MAX_TARGET_M] (principal-axis extents)."""
    f64 = np.float64
    cc = Components(g, det)
    _, length, width = extents(g, cc)
    ps = g.cast(g.maximum("pixel_size_m", MIN_PIXEL_SIZE_M), TensorProto.DOUBLE)
    size_m = g.mul(g.sqrt(g.add(g.mul(length, length), g.mul(width, width))), ps)
    keep = g.and_(
        g.ge(size_m, g.const(MIN_TARGET_M, f64)), g.le(size_m, g.const(MAX_TARGET_M, f64))
    )
    dense = cc.to_dense(g.cast(keep, TensorProto.FLOAT), g.const([0.0]))
    return g.and_(det, g.gt(dense, 0.5))


def build_cfar(name: str, band: str) -> onnx.ModelProto:
    """The two-parameter CFAR graph on one SAR band called ``band`` (see module doc)."""
    g = GraphBuilder(name, (band,), aux_inputs=("pixel_size_m",))
    r_t, r_g, r_b = _radii(g, g.to_float(g.valid))
    raw = g.mul(
        g.cast(g.band(band), TensorProto.DOUBLE),
        g.cast(g.to_float(g.valid), TensorProto.DOUBLE),
    )
    sea_land = land.estimate_land(g, raw, g.valid, g.maximum("pixel_size_m", MIN_PIXEL_SIZE_M))
    valid = g.and_(g.valid, g.not_(sea_land))  # sea: the CFAR's domain
    v64 = g.cast(g.to_float(valid), TensorProto.DOUBLE)
    x64 = g.mul(raw, v64)

    target_sums = DynamicBoxSum(g, g.op("Concat", v64, x64, axis=1)).box(r_t)
    t_count, t_sum = g.split_channels(target_sums, 2)
    target = g.div(t_sum, g.maximum(t_count, g.const(1.0, np.float64)))

    stats = ring_stats(g, v64, x64, r_g, r_b)
    det = g.and_(valid, _exceeds(g, target, stats.mean, stats.sd, stats.count))
    censored = det
    for _ in range(CENSORING_PASSES):
        kept = g.mul(v64, g.cast(g.not_(censored), TensorProto.DOUBLE))
        stats = ring_stats(g, kept, x64, r_g, r_b)
        det = g.and_(valid, _exceeds(g, target, stats.mean, stats.sd, stats.count))
        censored = g.or_(censored, det)

    det = _discriminate(g, det)

    z = g.div(g.sub(target, stats.mean), g.maximum(stats.sd, g.const(_TINY, np.float64)))
    z32 = g.clip(g.cast(z, TensorProto.FLOAT), -1e4, 1e4)
    conf = g.where(det, g.op("Sigmoid", g.sub(z32, float(T_DESIGN))), 0.0)
    cls = g.where(det, g.const(2, np.uint8), g.const(0, np.uint8))
    g.set_outputs(cls, conf)
    return finalize(g.model(__doc__ or ""), _metadata(name, band))


def _metadata(name: str, band: str) -> dict[str, Any]:
    return {
        "name": name,
        "detector": "ship",
        "version": VERSION,
        "product": "sar",
        "bands": [band],
        "units": ["sigma0"],
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": ["pixel_size_m"],
        "outputs": OUTPUTS,
        "min_pixels": "1",
        "thresholds": {
            "target_window_m": TARGET_WINDOW_M,
            "guard_window_m": GUARD_WINDOW_M,
            "background_window_m": BACKGROUND_WINDOW_M,
            "pfa": f"1e-{PFA_EXPONENT}",
            "t": round(T_DESIGN, 4),
            "censoring_passes": CENSORING_PASSES,
            "min_background_px": MIN_BACKGROUND_PX,
            "min_target_m": MIN_TARGET_M,
            "max_target_m": MAX_TARGET_M,
            "land_window_m": land.WINDOW_M,
            "land_quantile": land.QUANTILE,
            "land_ratio": land.RATIO,
            "land_min_size_m": land.MIN_SIZE_M,
        },
        "builder": f"edgeinfer.models_build.ship_sar:BUILDERS[{name!r}]",
        "source": (
            "ESA SNAP AdaptiveThresholding (s1tbx AdaptiveThresholdingOp); D. J. Crisp, 'The "
            "state-of-the-art in ship detection in synthetic aperture radar imagery', "
            "DSTO-RR-0272 (2004); censoring: W. An, C. Xie, X. Yuan, 'An improved iterative "
            "censoring scheme for CFAR ship detection with SAR imagery', IEEE TGRS 52(8) 2014; "
            "clusters: SNAP ObjectDiscriminationOp; land estimate: ours (ship_sar_land)"
        ),
        "description": (
            f"SAR ship detection on band {band} (sigma0, intensity or amplitude; any gain): "
            "two-parameter CFAR with windows in metres sized by the pixel_size_m input."
        ),
        "algorithm": (
            "Target 30 m, guard 500 m, background 800 m square windows, radius floor(size / "
            "(2 pixel_size_m)), shrunk to the tile's valid extent E for small chips "
            "(background <= E/2, guard <= 5/8 background, target < guard). Ship where the "
            "target-window mean > mu + t sd of the valid background ring (>= 16 px), t = "
            "Phi^-1(1 - 10^-6.5) = 4.98; two more passes recompute mu, sd without every pixel "
            "detected so far (iterative censoring). Invalid pixels (nodata, land mask) and "
            "estimated land (200 m "
            "mean > 2x the tile's 10 % quantile, regions >= 400 m, grown 400 m) are excluded "
            "from all sums and never detected. Clusters kept if sqrt(length^2 + width^2) is "
            "30-800 m. Confidence sigmoid(z - t). Runs on the band as given (gain-invariant)."
        ),
    }


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {
    "ship_sar": lambda: build_cfar("ship_sar", "SAR"),
    "ship_sar_vv": lambda: build_cfar("ship_sar_vv", "VV"),
}

# Units the band may come in besides edgeinfer.units ("sigma0"): the CFAR compares the target
# window with its own background's mean and sd, so a gain cancels, and amplitude vs intensity
# is tested (docs/detectors.md, "Domain: the band as given"). Read by the runtime's unit check
# (edgeinfer.models_build.registry.accepted_units), so the committed models need no rebuild.
ACCEPTED_UNITS: dict[str, tuple[str, ...]] = {name: SAR_UNITS for name in BUILDERS}
