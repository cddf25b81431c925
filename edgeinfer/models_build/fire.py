"""Active-fire detectors as ONNX graphs: ``fire_landsat`` (OLI) and ``fire_sentinel2`` (MSI).

Every threshold below is the published one (../shared/REFERENCE.md lists them with their
sources); none was fitted to the data in ../shared/data.

``fire_landsat`` (Landsat-8/9 OLI TOA reflectance, bands B1, B4, B5, B6, B7) combines three
algorithms:

- Schroeder et al. 2016 (RSE 185): unambiguous fire if (R75 > 2.5 and rho7 - rho5 > 0.3 and
  rho7 > 0.5) or (rho6 > 0.8 and rho1 < 0.2 and (rho5 > 0.4 or rho7 < 0.1)); candidate if
  R75 > 1.8 and rho7 - rho5 > 0.17 and R76 > 1.6, confirmed if R75 > mean + max(3 sd, 0.8)
  and rho7 > mean + max(3 sd, 0.08) over the valid background of the 61x61 window.
  Water: rho4 > rho5 > rho6 > rho7 and rho1 - rho7 < 0.2.
- Murphy et al. 2016 (GOLI/HOTMAP): unambiguous if R76 >= 1.4 and R75 >= 1.4 and
  rho7 >= 0.15; a pixel in the 3x3 neighbourhood of one is fire if (rho6/rho5 >= 2 and
  rho6 >= 0.5) or its SWIR is saturated.
- Kumar & Roy 2018: unambiguous if rho4 <= 0.53 rho7 - 0.214, and in its 3x3 neighbourhood
  if rho4 <= 0.35 rho6 - 0.044; potential if rho4 <= 0.53 rho7 - 0.125 or
  rho6 <= 1.08 rho7 - 0.048, confirmed by the same contextual test over the smallest window
  of 5x5, 7x7, ... 61x61 whose valid background is >= 25 % of its valid pixels.

How they are combined (our choice, documented in docs/detectors.md): class 2 (unambiguous)
= any algorithm's unambiguous test, plus the pixels in the 3x3 neighbourhood of such a pixel
that pass Murphy's or Kumar & Roy's neighbourhood test; class 1 (candidate) = a Schroeder or
Kumar & Roy potential fire confirmed by its contextual test. Valid background (both
contextual tests) = valid, not water, rho7 > 0, and not flagged by any unambiguous or
potential test. (Every Schroeder candidate also passes Murphy's unambiguous test, since
R75 > 1.8 and R76 > 1.6 with rho7 > rho5 + 0.17 >= 0.15; so class 1 comes from Kumar & Roy's
potential fires in practice.)

Saturation: Level-1 DN 65535 is saturated and its reflectance (65535 M + A)/sin(elev) is a
lower bound. With the Collection 1/2 rescaling (M = 2e-5, A = -0.1, REFERENCE.md) that bound
is at least 1.2107 whatever the sun elevation, and no unlit surface reaches a SWIR TOA
reflectance that high, so rho6 or rho7 >= 1.2107 is read as saturated (fire evidence, as
Murphy et al. use it). The reader must keep such pixels valid.

Confidence: from the SWIR contrast d = rho7 - rho5 against Schroeder's thresholds:
class 2 -> 0.75 + 0.25 clip((d - 0.3) / 0.3, 0, 1); class 1 -> 0.4 + 0.35 clip((d - 0.17) /
0.13, 0, 1); class 0 -> 0.

``fire_sentinel2`` (Sentinel-2 MSI TOA reflectance, B8A, B11, B12):

- Liu et al. 2021, thermal anomaly index TAI = (rho12 - rho11) / rho8A: seeds where
  TAI - mean15x15(TAI) > 0.45 (mean over the valid pixels of the window); fire within a
  15-pixel buffer of a seed (a 31x31 square) if TAI >= 0.45 and rho12 - rho11 > rho11 - rho8A
  and rho12 > 0.15.
- Sentinel Hub active-fire script: (rho12 - rho11)/(rho12 + rho11) > 0.4 or rho12 > 1. The
  normalised-difference arm is noise where both SWIR bands are near zero (water), so it is
  applied only where rho12 > 0.15 (Liu's own floor on rho12).

Combined: class 2 = both algorithms; class 1 = exactly one. Confidence from TAI against
Liu's 0.45: class 2 -> 0.75 + 0.25 clip((TAI - 0.45) / 0.45, 0, 1); class 1 -> 0.4 + 0.35
clip(...); class 0 -> 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from edgeinfer.models_build.onnx_ops import GraphBuilder, IntegralImage, PixelSet, Tensor
from edgeinfer.models_build.registry import finalize

VERSION = "1.0.0"
OUTPUTS = {"0": "none", "1": "candidate", "2": "unambiguous"}

# Saturated OLI Level-1 DN 65535 in TOA reflectance before the sun-elevation division:
# 65535 * 2.0e-5 - 0.1 (REFLECTANCE_MULT/ADD, REFERENCE.md "Active fire, Landsat").
LANDSAT_SATURATED_RHO = 65535 * 2.0e-5 - 0.1

# Schroeder et al. 2016 (RSE 185): unambiguous (un_*), candidate (cand_*), contextual
# (ctx_*) and water tests (REFERENCE.md "Active fire, Landsat").
SCHROEDER: dict[str, float] = {
    "un_r75": 2.5,
    "un_d75": 0.3,
    "un_rho7": 0.5,
    "un_rho6": 0.8,
    "un_rho1": 0.2,
    "un_rho5": 0.4,
    "un_rho7_low": 0.1,
    "cand_r75": 1.8,
    "cand_d75": 0.17,
    "cand_r76": 1.6,
    "ctx_window": 61,
    "ctx_k_sd": 3.0,
    "ctx_r75_excess": 0.8,
    "ctx_rho7_excess": 0.08,
    "water_rho1_minus_rho7": 0.2,
}
# Murphy et al. 2016 (GOLI/HOTMAP): unambiguous and 3x3-neighbour (nb_*) tests.
MURPHY: dict[str, float] = {
    "un_r76": 1.4,
    "un_r75": 1.4,
    "un_rho7": 0.15,
    "nb_r65": 2.0,
    "nb_rho6": 0.5,
}
# Kumar & Roy 2018: rho4 <= slope * rho + offset lines, and the growing contextual window.
KUMAR_ROY: dict[str, float] = {
    "un_slope7": 0.53,
    "un_offset7": -0.214,
    "nb_slope6": 0.35,
    "nb_offset6": -0.044,
    "pot_slope7": 0.53,
    "pot_offset7": -0.125,
    "pot_slope76": 1.08,
    "pot_offset76": -0.048,
    "ctx_window_min": 5,
    "ctx_window_max": 61,
    "ctx_window_step": 2,
    "ctx_min_background_fraction": 0.25,
}
# Liu et al. 2021 TAI test (REFERENCE.md "Active fire, Sentinel-2").
LIU: dict[str, float] = {
    "tai_excess": 0.45,
    "window": 15,
    "buffer_px": 15,
    "tai": 0.45,
    "rho12": 0.15,
}
# Sentinel Hub active-fire custom script.
SENTINEL_HUB: dict[str, float] = {"nd_12_11": 0.4, "rho12": 1.0}
KR_WINDOWS = list(range(5, 62, 2))  # 5x5, 7x7 ... 61x61 (ctx_window_min/max/step)
SCHROEDER_WINDOW = 61  # ctx_window
LIU_WINDOW = 15
LIU_BUFFER_PX = 15


def _contextual(
    g: GraphBuilder,
    r75: Tensor,
    r7: Tensor,
    stats: tuple[Tensor, ...],
) -> Tensor:
    """Schroeder's contextual test given (mean R75, sd R75, mean rho7, sd rho7)."""
    c = SCHROEDER
    m75, s75, m7, s7 = stats
    t75 = g.add(m75, g.maximum(g.mul(s75, c["ctx_k_sd"]), c["ctx_r75_excess"]))
    t7 = g.add(m7, g.maximum(g.mul(s7, c["ctx_k_sd"]), c["ctx_rho7_excess"]))
    return g.and_(g.gt(r75, t75), g.gt(r7, t7))


def _grade(
    g: GraphBuilder, strong: Tensor, weak: Tensor, score: Tensor, lo: float, hi: float
) -> tuple[Tensor, Tensor]:
    """Class (float 0/1/2) and confidence from the class masks and a score with the
    candidate (``lo``) and unambiguous (``hi``) thresholds: class 2 ramps 0.75 -> 1 over
    [hi, 2 hi], class 1 0.4 -> 0.75 over [lo, hi] (over [lo, 2 lo] when lo == hi)."""
    cls = g.add(g.to_float(weak), g.mul(g.to_float(strong), 2.0))
    up = g.clip(g.div(g.sub(score, hi), hi), 0.0, 1.0)
    mid = g.clip(g.div(g.sub(score, lo), (hi - lo) or lo), 0.0, 1.0)
    conf2 = g.add(g.mul(up, 0.25), 0.75)
    conf1 = g.add(g.mul(mid, 0.35), 0.4)
    conf = g.where(strong, conf2, g.where(weak, conf1, 0.0))
    return cls, conf


def _confirm(
    g: GraphBuilder, r75: Tensor, r7: Tensor, background: Tensor, s_pot: Tensor, k_pot: Tensor
) -> Tensor:
    """Schroeder's and Kumar & Roy's contextual tests, evaluated only at their potential
    fires (bool ``[N, 1, H, W]`` of the confirmed ones).

    Two summed-area tables over the tile (exact int32 counts of valid and background pixels;
    float64 background sums of 1, R75, R75^2, rho7, rho7^2) answer any window at any pixel
    with four gathers: Schroeder's 61x61 window, and Kumar & Roy's smallest of 5x5, 7x7 ...
    61x61 whose valid background is >= 25 % of its valid pixels (4 * background >= valid).
    """
    bg = g.to_float(background)
    pixels = PixelSet.of(g, g.or_(s_pot, k_pot))
    counts = IntegralImage(
        g, g.op("Concat", g.to_float(g.valid), bg, axis=1), KR_WINDOWS[-1], TensorProto.INT32
    )
    radii = g.const([w // 2 for w in KR_WINDOWS], np.int64)
    n_valid, n_bg = g.split_channels(
        counts.sums_at(pixels, g.op("Unsqueeze", radii, g.ints(1))), 2, axis=0
    )  # [1, S, K] each
    four, one = g.const(4, np.int32), g.const(1, np.int32)
    ok = g.to_float(g.and_(g.ge(g.mul(n_bg, four), n_valid), g.ge(n_bg, one)))
    first = g.op("ArgMax", ok, axis=1, keepdims=0, select_last_index=0)  # smallest window
    found = g.gt(g.op("ReduceMax", ok, axes=[1], keepdims=0), 0.5)  # [1, K]
    b75, b7 = g.mul(bg, r75), g.mul(bg, r7)
    stack = g.op("Concat", bg, b75, g.mul(b75, r75), b7, g.mul(b7, r7), axis=1)
    values = IntegralImage(g, stack, SCHROEDER_WINDOW)
    at75, at7 = pixels.gather(g, r75), pixels.gather(g, r7)
    tests = []
    schroeder_radius = g.const(np.array([[SCHROEDER_WINDOW // 2]]), np.int64)
    for radius in (schroeder_radius, g.op("Gather", radii, first)):
        n, s75, q75, s7, q7 = g.split_channels(values.sums_at(pixels, radius), 5, axis=0)
        a, b = g.stats_from_sums(n, s75, q75), g.stats_from_sums(n, s7, q7)
        passed = _contextual(g, at75, at7, (a.mean, a.std, b.mean, b.std))
        tests.append((g.gt(a.count, 0.5), passed))
    s_ok = g.and_(g.gt(pixels.gather(g, g.to_float(s_pot)), 0.5), *tests[0])
    k_ok = g.and_(g.gt(pixels.gather(g, g.to_float(k_pot)), 0.5), found, tests[1][1])
    weak = g.to_float(g.op("Reshape", g.or_(s_ok, k_ok), g.ints(-1)))
    return g.gt(pixels.scatter(g, weak), 0.5)


def build_fire_landsat() -> onnx.ModelProto:
    """Schroeder + Murphy + Kumar & Roy on OLI TOA reflectance (see module doc)."""
    bands = ("B1", "B4", "B5", "B6", "B7")
    g = GraphBuilder("fire_landsat", bands)
    r1, r4, r5, r6, r7 = (g.band(b) for b in bands)
    valid = g.valid
    r75, r76, d75 = g.ratio(r7, r5), g.ratio(r7, r6), g.sub(r7, r5)
    s = SCHROEDER
    water = g.and_(
        g.gt(r4, r5), g.gt(r5, r6), g.gt(r6, r7), g.lt(g.sub(r1, r7), s["water_rho1_minus_rho7"])
    )
    sat = g.or_(g.ge(r6, LANDSAT_SATURATED_RHO), g.ge(r7, LANDSAT_SATURATED_RHO))

    s_un = g.or_(
        g.and_(g.gt(r75, s["un_r75"]), g.gt(d75, s["un_d75"]), g.gt(r7, s["un_rho7"])),
        g.and_(
            g.gt(r6, s["un_rho6"]),
            g.lt(r1, s["un_rho1"]),
            g.or_(g.gt(r5, s["un_rho5"]), g.lt(r7, s["un_rho7_low"])),
        ),
    )
    m = MURPHY
    m_un = g.and_(g.ge(r76, m["un_r76"]), g.ge(r75, m["un_r75"]), g.ge(r7, m["un_rho7"]))
    k = KUMAR_ROY
    k_un = g.le(r4, g.linear(r7, k["un_slope7"], k["un_offset7"]))
    seeds = g.and_(valid, g.or_(s_un, m_un, k_un))
    m_nb = g.or_(
        g.and_(g.ge(g.ratio(r6, r5), m["nb_r65"]), g.ge(r6, m["nb_rho6"])),
        sat,
    )
    k_nb = g.le(r4, g.linear(r6, k["nb_slope6"], k["nb_offset6"]))
    strong = g.or_(seeds, g.and_(valid, g.dilate(seeds, 3), g.or_(m_nb, k_nb)))
    not_strong = g.not_(strong)

    s_pot = g.and_(
        valid,
        not_strong,
        g.gt(r75, s["cand_r75"]),
        g.gt(d75, s["cand_d75"]),
        g.gt(r76, s["cand_r76"]),
    )
    k_pot = g.and_(
        valid,
        not_strong,
        g.or_(
            g.le(r4, g.linear(r7, k["pot_slope7"], k["pot_offset7"])),
            g.le(r6, g.linear(r7, k["pot_slope76"], k["pot_offset76"])),
        ),
    )
    background = g.and_(
        valid, g.not_(water), g.gt(r7, 0.0), not_strong, g.not_(g.or_(s_pot, k_pot))
    )
    weak = _confirm(g, r75, r7, background, s_pot, k_pot)

    cls, conf = _grade(g, strong, weak, d75, s["cand_d75"], s["un_d75"])
    g.set_outputs(cls, conf)
    return finalize(g.model(__doc__ or ""), _landsat_metadata(bands))


def build_fire_sentinel2() -> onnx.ModelProto:
    """Liu et al. 2021 TAI + Sentinel Hub script on MSI TOA reflectance (see module doc)."""
    bands = ("B8A", "B11", "B12")
    g = GraphBuilder("fire_sentinel2", bands)
    a, s1, s2 = (g.band(b) for b in bands)
    valid = g.valid
    tai = g.ratio(g.sub(s2, s1), a)
    vf = g.to_float(valid)
    ctx = g.masked_stats(tai, vf, LIU_WINDOW)
    seeds = g.and_(valid, g.gt(g.sub(tai, ctx.mean), LIU["tai_excess"]))
    near = g.dilate(seeds, 2 * LIU_BUFFER_PX + 1)
    liu = g.and_(
        valid,
        near,
        g.ge(tai, LIU["tai"]),
        g.gt(g.sub(s2, s1), g.sub(s1, a)),
        g.gt(s2, LIU["rho12"]),
    )
    sh = g.and_(
        valid,
        g.or_(
            g.and_(g.gt(g.norm_diff(s2, s1), SENTINEL_HUB["nd_12_11"]), g.gt(s2, LIU["rho12"])),
            g.gt(s2, SENTINEL_HUB["rho12"]),
        ),
    )
    strong = g.and_(liu, sh)
    weak = g.and_(g.or_(liu, sh), g.not_(strong))
    cls, conf = _grade(g, strong, weak, tai, LIU["tai"], LIU["tai"])
    g.set_outputs(cls, conf)
    return finalize(g.model(__doc__ or ""), _sentinel2_metadata(bands))


def _common(name: str, product: str, bands: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "detector": "fire",
        "version": VERSION,
        "product": product,
        "bands": list(bands),
        "units": ["reflectance"] * len(bands),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": [],
        "outputs": OUTPUTS,
        "min_pixels": "1",
        "builder": f"edgeinfer.models_build.fire:build_{name}",
    }


def _landsat_metadata(bands: tuple[str, ...]) -> dict[str, Any]:
    meta = _common("fire_landsat", "landsat", bands)
    meta.update(
        {
            "thresholds": {
                "schroeder_2016": SCHROEDER,
                "murphy_2016": MURPHY,
                "kumar_roy_2018": KUMAR_ROY,
                "saturated_rho_min": round(LANDSAT_SATURATED_RHO, 6),
            },
            "context_px": "30",
            "source": (
                "Schroeder et al. 2016, RSE 185, doi:10.1016/j.rse.2015.08.032; Murphy et al. "
                "2016, RSE 177, doi:10.1016/j.rse.2016.02.027; Kumar & Roy 2018, Int. J. "
                "Digital Earth 11(2), doi:10.1080/17538947.2017.1391341"
            ),
            "description": (
                "Landsat-8/9 OLI daytime active fire: per-pixel unambiguous (2) and "
                "contextually confirmed candidate (1) fires from TOA reflectance."
            ),
            "algorithm": (
                "Class 2 = any of the Schroeder, Murphy or Kumar & Roy unambiguous tests, "
                "plus 3x3 neighbours passing Murphy's (rho6/rho5 >= 2 and rho6 >= 0.5, or "
                "saturated SWIR) or Kumar & Roy's (rho4 <= 0.35 rho6 - 0.044) neighbour test. "
                "Class 1 = Schroeder candidates confirmed over the 61x61 window and Kumar & "
                "Roy potential fires confirmed over the smallest 5x5..61x61 window with >= "
                "25 % valid background (mean + max(3 sd, 0.8) on rho7/rho5, mean + max(3 sd, "
                "0.08) on rho7). Background = valid, not water, rho7 > 0, no fire test "
                "passed. Saturation: rho6 or rho7 >= 1.2107 (DN 65535 at any sun "
                "elevation). Window statistics are computed only at potential fires, by "
                "four gathers per window from summed-area tables (int32 counts, float64 "
                "sums), for the 61x61 and every growing window alike. Confidence "
                "from rho7 - rho5 against 0.17/0.3. Exact context needs 30 px around each "
                "tile core (tile overlap >= 60 px when neighbouring cores split it)."
            ),
        }
    )
    return meta


def _sentinel2_metadata(bands: tuple[str, ...]) -> dict[str, Any]:
    meta = _common("fire_sentinel2", "sentinel2", bands)
    meta.update(
        {
            "thresholds": {"liu_2021": LIU, "sentinel_hub": SENTINEL_HUB},
            "context_px": "22",
            "source": (
                "Liu et al. 2021, 'Detecting high-temperature anomalies from Sentinel-2 MSI "
                "images', ISPRS J. Photogramm. Remote Sens. 177 (thermal anomaly index); Sentinel "
                "Hub custom script 'Active fire detection' (sentinel-hub.github.io/"
                "custom-scripts)"
            ),
            "description": (
                "Sentinel-2 MSI daytime active fire: fires found by both Liu's TAI test and "
                "the Sentinel Hub script (2) or by one of them (1), from TOA reflectance."
            ),
            "algorithm": (
                "TAI = (rho12 - rho11)/rho8A; seeds TAI - mean15x15 > 0.45; fire within 15 px "
                "of a seed if TAI >= 0.45, rho12 - rho11 > rho11 - rho8A and rho12 > 0.15 "
                "(Liu). Sentinel Hub: (rho12 - rho11)/(rho12 + rho11) > 0.4 (only where "
                "rho12 > 0.15) or rho12 > 1. Class 2 = both, class 1 = one. Confidence "
                "from TAI against 0.45. Windows are in pixels of the input grid: Liu's "
                "15x15 window and 15 px buffer are meant for the 20 m bands; on a 10 m grid "
                "they span half the ground distance."
            ),
        }
    )
    return meta


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {
    "fire_landsat": build_fire_landsat,
    "fire_sentinel2": build_fire_sentinel2,
}
