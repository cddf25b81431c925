"""Learned ship segmenters as ONNX graphs, from trained weights (no torch needed).

``ship_sar_cnn`` (one SAR band) and ``ship_optical_cnn`` (Sentinel-2 B02, B03, B04, B08,
B11). The weights (``train/ship_<kind>_cnn.npz``) come from
:mod:`edgeinfer.models_build.train.ship_cnn` (CPU torch, seed 0, the development items of
HRSID or sen2ships with every third item held out; the file records the split). This module
rebuilds the network layer by layer with ONNX operators, so ``edgeinfer models build`` is
byte-identical without torch:

- normalisation per band ``z = (ln max(x, 1e-3 mean(x)) - mean) / sd`` over the tile's
  valid pixels (invariant to a gain and to amplitude vs intensity);
- U-Net: two 3x3 Conv + Relu per level, MaxPool 2x2 (ceil), nearest Resize to the skip
  connection's size (``asymmetric``/``floor``, PyTorch's ``nearest``), Concat, 1x1 head;
- ship (class 2) where ``sigmoid(logit) > 0.5``; confidence = that probability.

They are shipped beside the classical models at a lower version (0.x), so the registry
keeps choosing ``ship_sar`` / ``ship_optical`` unless a CNN is asked for by name: a CNN is the
default only if ``edgeinfer eval ship`` shows it better on items it was not trained on
(docs/detectors.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor
from edgeinfer.models_build.registry import finalize
from edgeinfer.scene.bands import SAR_UNITS

VERSION = "0.1.0"
TRAIN_DIR = Path(__file__).parent / "train"
PROBABILITY = 0.5  # decision threshold on the sigmoid output
PRODUCTS = {"sar": "sar", "optical": "sentinel2"}
UNITS = {"sar": "amplitude", "optical": "reflectance"}


def _load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path) as npz:
        weights = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files if k != "provenance"}
        provenance = json.loads(str(npz["provenance"]))
    return weights, provenance


def _sum_hw(g: GraphBuilder, t: Tensor) -> Tensor:
    return g.op("ReduceSum", t, g.ints(2, 3), keepdims=1)


def _normalise(g: GraphBuilder, x: Tensor, v: Tensor) -> Tensor:
    """Per-tile standardised log of ``x`` over the valid pixels ``v`` (float 0/1)."""
    n = g.maximum(_sum_hw(g, v), 1.0)
    mean_x = g.div(_sum_hw(g, g.mul(x, v)), n)
    lx = g.op("Log", g.maximum(x, g.add(g.mul(mean_x, 1e-3), 1e-30)))
    mu = g.div(_sum_hw(g, g.mul(lx, v)), n)
    d = g.sub(lx, mu)
    var = g.div(_sum_hw(g, g.mul(g.mul(d, d), v)), n)
    return g.mul(g.div(d, g.maximum(g.sqrt(var), 1e-6)), v)


class _Net:
    """The U-Net's layers as ONNX nodes, weights by their torch state_dict names."""

    def __init__(self, g: GraphBuilder, weights: dict[str, np.ndarray]) -> None:
        self.g = g
        self.w = weights

    def conv(self, t: Tensor, name: str) -> Tensor:
        kernel = self.w[f"{name}.weight"]
        pad = kernel.shape[-1] // 2
        w, b = self.g.const(kernel), self.g.const(self.w[f"{name}.bias"])
        return self.g.op("Conv", t, w, b, pads=[pad] * 4, kernel_shape=list(kernel.shape[-2:]))

    def block(self, t: Tensor, name: str) -> Tensor:
        relu = self.g.op("Relu", self.conv(t, f"{name}.0"))
        return self.g.op("Relu", self.conv(relu, f"{name}.2"))

    def pool(self, t: Tensor) -> Tensor:
        return self.g.op("MaxPool", t, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)

    def up_to(self, t: Tensor, like: Tensor) -> Tensor:
        g = self.g
        sizes = g.op(
            "Concat",
            g.op("Slice", g.op("Shape", t), g.ints(0), g.ints(2), g.ints(0)),
            g.op("Slice", g.op("Shape", like), g.ints(2), g.ints(4), g.ints(0)),
            axis=0,
        )
        return g.op(
            "Resize",
            t,
            "",
            "",
            sizes,
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )

    def levels(self) -> int:
        """The U-Net's depth: its encoder blocks ``enc1`` .. ``enc{n-1}`` plus ``mid``."""
        n = 1
        while f"enc{n}.0.weight" in self.w:
            n += 1
        return n

    def forward(self, z: Tensor) -> Tensor:
        """The network of :func:`.train.ship_cnn.unet`, of any depth, node by node in the
        same order (a 3-level model builds byte-identically to the former fixed graph)."""
        g = self.g
        levels = self.levels()
        t, skips = z, []
        for i in range(1, levels):
            t = self.block(t if i == 1 else self.pool(t), f"enc{i}")
            skips.append(t)
        t = self.block(self.pool(t), "mid")
        for i in range(levels - 1, 0, -1):
            skip = skips[i - 1]
            t = self.block(g.op("Concat", self.up_to(t, skip), skip, axis=1), f"dec{i}")
        return self.conv(t, "head")


def build_cnn(kind: str, path: Path | None = None) -> onnx.ModelProto:
    """The learned ``kind`` (sar|optical) ship model from its weights (see module doc)."""
    weights, provenance = _load(path or TRAIN_DIR / f"ship_{kind}_cnn.npz")
    bands = tuple(provenance.get("bands", ["SAR"]))
    name = f"ship_{kind}_cnn"
    g = GraphBuilder(name, bands)
    v = g.to_float(g.valid)
    x = g.mul(g.x, v)
    z = _normalise(g, x, v)
    prob = g.op("Sigmoid", _Net(g, weights).forward(z))
    ship = g.and_(g.valid, g.gt(prob, PROBABILITY))
    cls = g.where(ship, g.const(2, np.uint8), g.const(0, np.uint8))
    g.set_outputs(cls, g.where(ship, prob, 0.0))
    return finalize(g.model(__doc__ or ""), _metadata(kind, name, bands, provenance))


def _metadata(
    kind: str, name: str, bands: tuple[str, ...], provenance: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "detector": "ship",
        "version": VERSION,
        "product": PRODUCTS[kind],
        "bands": list(bands),
        "units": [UNITS[kind]] * len(bands),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": [],
        "outputs": {"0": "none", "2": "ship"},
        "min_pixels": "4",
        "thresholds": {"probability": PROBABILITY},
        "training": provenance,
        "builder": f"edgeinfer.models_build.ship_cnn:build_cnn({kind!r})",
        "source": (
            "Small U-Net (O. Ronneberger et al., MICCAI 2015) trained by "
            f"edgeinfer/models_build/train/ship_cnn.py on {provenance.get('data')}: "
            + _DATA_SOURCES[kind]
        ),
        "description": _DESCRIPTIONS[kind],
        "algorithm": (
            "z = per-band standardised ln value over the tile's valid pixels; "
            f"{len(provenance['widths'])}-level U-Net (widths {provenance['widths']}), ship "
            "where sigmoid > 0.5. Trained on "
            f"{len(provenance.get('train_items', []))} chips, seed {provenance.get('seed')}; "
            "the held-out chips are listed in the training metadata."
        ),
    }


_DATA_SOURCES = {
    "sar": "HRSID, S. Wei et al., IEEE Access 8, 2020 (GPL-3.0 data)",
    "optical": "sen2ships (MIT; Copernicus Sentinel-2 data 2022-2023)",
}
_DESCRIPTIONS = {
    "sar": (
        "Learned SAR ship segmenter for high-resolution (0.5-3 m) single-band SAR; gain- and "
        "power-invariant input; not the default ship model."
    ),
    "optical": (
        "Learned Sentinel-2 ship segmenter (10 m, B02/B03/B04/B08/B11), gain-invariant "
        "input; not the default ship model."
    ),
}


def build_ship_sar_cnn() -> onnx.ModelProto:
    return build_cnn("sar")


# A learned model is listed once its weights are committed (train/ship_<kind>_cnn.npz).
# ship_optical_cnn has its own input transform and builder (models_build/ship_optical_cnn.py).
BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {
    name: builder
    for name, builder in (("ship_sar_cnn", build_ship_sar_cnn),)
    if (TRAIN_DIR / f"{name}.npz").is_file()
}

# Units the SAR band may come in besides edgeinfer.units ("amplitude"): the per-tile
# standardised log cancels a gain and the factor 2 between amplitude and intensity (module doc).
ACCEPTED_UNITS: dict[str, tuple[str, ...]] = {"ship_sar_cnn": SAR_UNITS}
