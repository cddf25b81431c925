"""Cloud screens as ONNX graphs: the Fmask spectral cloud test per product.

Fmask's potential cloud pixel test (Zhu & Woodcock 2012, RSE 118, "Object-based cloud and
cloud shadow detection in Landsat imagery", eqs. 1-5; thresholds in ../shared/REFERENCE.md):

- basic test: SWIR2 > 0.03 and NDSI < 0.8 and NDVI < 0.8
  (NDSI = (green - SWIR1)/(green + SWIR1), NDVI = (NIR - red)/(NIR + red));
- whiteness = sum over blue, green, red of |band - mean| / mean < 0.7;
- haze-optimised transform: blue - 0.5 red - 0.08 > 0;
- NIR / SWIR1 > 0.75.

The brightness-temperature arm of the basic test (BT < 27 C) is left out: the models take
reflective bands only, as the labelled data here has no thermal band in the 38-Cloud patch.

Models:

- ``cloud_landsat`` (OLI B2, B3, B4, B5, B6, B7): all of the tests above.
- ``cloud_sentinel2`` (MSI B02, B03, B04, B8A, B11, B12): the same tests on the equivalent
  MSI bands (Fmask for Sentinel-2, Zhu et al. 2015 RSE 159 and Qiu et al. 2019 RSE 231, keeps
  these spectral tests).
- ``cloud_vnir`` (product ``any``; blue, green, red, NIR named as OLI B2, B3, B4, B5, as in
  the 38-Cloud dataset): the tests that need no SWIR band (NDVI, whiteness, HOT). Without
  SWIR the NDSI, SWIR2 and NIR/SWIR1 tests cannot reject bright soil, snow or haze, so it
  flags more clear pixels; its measured scores are in its card.

Output: class 1 = cloud, 0 = clear. Confidence of a cloud pixel = 0.5 + 0.5 clip(HOT / 0.08,
0, 1), where HOT = blue - 0.5 red - 0.08 is the haze test's margin (0.08 is the test's own
offset); 0 for clear pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import onnx

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor
from edgeinfer.models_build.registry import finalize

VERSION = "1.0.0"
OUTPUTS = {"0": "clear", "1": "cloud"}

# Zhu & Woodcock 2012 (Fmask) potential cloud pixel thresholds (REFERENCE.md "Clouds").
FMASK = {
    "swir2_min": 0.03,
    "ndsi_max": 0.8,
    "ndvi_max": 0.8,
    "whiteness_max": 0.7,
    "hot_red_weight": 0.5,
    "hot_offset": 0.08,
    "nir_swir1_min": 0.75,
}
SOURCE = (
    "Zhu & Woodcock 2012, RSE 118:83-94, doi:10.1016/j.rse.2011.10.028 (Fmask potential cloud "
    "pixel test); Zhu, Wang & Woodcock 2015, RSE 159 (Fmask for Sentinel-2)"
)


def _cloud_graph(
    name: str, blue: str, green: str, red: str, nir: str, swir1: str | None, swir2: str | None
) -> GraphBuilder:
    bands = [blue, green, red, nir] + [b for b in (swir1, swir2) if b]
    g = GraphBuilder(name, bands)
    b, gr, r, n = (g.band(x) for x in (blue, green, red, nir))
    mean_vis = g.div(g.add(g.add(b, gr), r), 3.0)
    dev = g.add(
        g.add(g.abs(g.sub(b, mean_vis)), g.abs(g.sub(gr, mean_vis))), g.abs(g.sub(r, mean_vis))
    )
    whiteness = g.ratio(dev, mean_vis)
    hot = g.sub(g.sub(b, g.mul(r, FMASK["hot_red_weight"])), FMASK["hot_offset"])
    tests: list[Tensor] = [
        g.valid,
        g.lt(g.norm_diff(n, r), FMASK["ndvi_max"]),
        g.lt(whiteness, FMASK["whiteness_max"]),
        g.gt(hot, 0.0),
    ]
    if swir1 and swir2:
        s1, s2 = g.band(swir1), g.band(swir2)
        tests += [
            g.gt(s2, FMASK["swir2_min"]),
            g.lt(g.norm_diff(gr, s1), FMASK["ndsi_max"]),
            g.gt(g.ratio(n, s1), FMASK["nir_swir1_min"]),
        ]
    cloud = g.and_(*tests)
    conf = g.where(
        cloud, g.add(g.mul(g.clip(g.div(hot, FMASK["hot_offset"]), 0.0, 1.0), 0.5), 0.5), 0.0
    )
    g.set_outputs(cloud, conf)
    return g


def _metadata(name: str, product: str, bands: list[str], tests: str, extra: str) -> dict[str, Any]:
    return {
        "name": name,
        "detector": "cloud",
        "version": VERSION,
        "product": product,
        "bands": bands,
        "units": ["reflectance"] * len(bands),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": [],
        "outputs": OUTPUTS,
        "thresholds": {"fmask": FMASK, "tests": tests.split(", ")},
        "min_pixels": "1",
        "context_px": "0",
        "source": SOURCE,
        "description": f"Per-pixel cloud mask from the Fmask spectral cloud test{extra}.",
        "algorithm": (
            f"Cloud where all of: {tests} (Zhu & Woodcock 2012 potential cloud pixel test, "
            "without its brightness-temperature arm). Confidence 0.5 + 0.5 clip(HOT/0.08, 0, "
            "1) on cloud pixels, HOT = blue - 0.5 red - 0.08. Limits: this is Fmask's "
            "first pass only (no thermal test, no cloud-probability stage, no object "
            "matching), so thin cloud edges and haze next to clouds are called cloud; "
            "against conservative labels its false-positive rate is above CloudScout's 1 % "
            "and most of those false positives sit within 3 px of a labelled cloud (see "
            "the measured scores)."
        ),
        "builder": f"edgeinfer.models_build.cloud:build_{name}",
    }


FULL_TESTS = "NDVI < 0.8, whiteness < 0.7, HOT > 0, SWIR2 > 0.03, NDSI < 0.8, NIR/SWIR1 > 0.75"
VNIR_TESTS = "NDVI < 0.8, whiteness < 0.7, HOT > 0"


def build_cloud_landsat() -> onnx.ModelProto:
    """Fmask spectral cloud test on OLI B2-B7 TOA reflectance."""
    g = _cloud_graph("cloud_landsat", "B2", "B3", "B4", "B5", "B6", "B7")
    meta = _metadata("cloud_landsat", "landsat", list(g.bands), FULL_TESTS, " (Landsat-8/9 OLI)")
    return finalize(g.model(__doc__ or ""), meta)


def build_cloud_sentinel2() -> onnx.ModelProto:
    """Fmask spectral cloud test on MSI B02, B03, B04, B8A, B11, B12 TOA reflectance."""
    g = _cloud_graph("cloud_sentinel2", "B02", "B03", "B04", "B8A", "B11", "B12")
    meta = _metadata("cloud_sentinel2", "sentinel2", list(g.bands), FULL_TESTS, " (Sentinel-2 MSI)")
    return finalize(g.model(__doc__ or ""), meta)


def build_cloud_vnir() -> onnx.ModelProto:
    """The Fmask tests that need no SWIR, on blue/green/red/NIR named OLI B2-B5."""
    g = _cloud_graph("cloud_vnir", "B2", "B3", "B4", "B5", None, None)
    extra = " without SWIR (blue, green, red, NIR named as OLI B2-B5, e.g. the 38-Cloud patches)"
    return finalize(
        g.model(__doc__ or ""), _metadata("cloud_vnir", "any", list(g.bands), VNIR_TESTS, extra)
    )


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {
    "cloud_landsat": build_cloud_landsat,
    "cloud_sentinel2": build_cloud_sentinel2,
    "cloud_vnir": build_cloud_vnir,
}
