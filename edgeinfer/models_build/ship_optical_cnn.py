"""``ship_optical_cnn``: the learned Sentinel-2 ship segmenter as an ONNX graph, from its
committed weights (``train/ship_optical_cnn.npz``; no torch needed, byte-identical rebuild).

The weights come from :mod:`edgeinfer.models_build.train.ship_optical_cnn` (CPU torch, seed
0, the nine sen2ships development windows; the file records the data, split and settings).
Graph: ``z = (ln max(x, floor) - ln_centre) / ln_scale`` per band with the constants stored
in the weights' provenance, zeroed where invalid; the U-Net layers of
:mod:`edgeinfer.models_build.ship_cnn` (two 3x3 Conv + Relu per level, MaxPool 2x2 ceil,
nearest Resize, Concat, 1x1 head); ship (class 2) where ``sigmoid > 0.5``, confidence = that
probability; the runtime keeps 8-connected objects of >= 2 px.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor
from edgeinfer.models_build.registry import finalize
from edgeinfer.models_build.ship_cnn import TRAIN_DIR, _load, _Net

NAME = "ship_optical_cnn"
VERSION = "0.1.0"
PROBABILITY = 0.5  # decision threshold on the sigmoid output, fixed a priori
MIN_PIXELS = 2  # smallest object kept, fixed a priori (a single bright pixel is not a ship)

#: One weights file, or several networks of one recipe (an ensemble, combined by
#: :data:`COMBINE`).
Weights = Path | Sequence[Path]
#: How an ensemble's probabilities are combined: ``mean`` (a ship where the networks on
#: average say so) or ``max`` (where any of them does: the OR of their masks).
COMBINE = {"mean": "Mean", "max": "Max"}


def load_members(
    path: Weights | None = None, combine: str = "mean"
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """The networks in ``path`` (default: the committed weights) and the first one's
    provenance (for several, with the seeds and ``combine``); several networks must share
    their bands, input constants and training windows (the windows ``edgeinfer eval ship``
    leaves out)."""
    if combine not in COMBINE:
        raise ValueError(f"ensemble combine {combine!r}: use one of {sorted(COMBINE)}")
    if path is None:
        paths = [TRAIN_DIR / f"{NAME}.npz"]
    else:
        paths = [path] if isinstance(path, Path) else list(path)
    if not paths:
        raise ValueError("no weights given: pass one weights file or several (an ensemble)")
    loaded = [_load(p) for p in paths]
    first = loaded[0][1]
    for p, (_, provenance) in zip(paths[1:], loaded[1:], strict=True):
        for key in ("bands", "input", "train_items"):
            if provenance[key] != first[key]:
                raise ValueError(
                    f"{p}: its {key} {provenance[key]} differ from {paths[0]}'s {first[key]}; "
                    "the networks of an ensemble must share their inputs and training windows"
                )
    if len(loaded) > 1:
        seeds = [prov.get("seed") for _, prov in loaded]
        first = {**first, "ensemble_seeds": seeds, "ensemble_combine": combine}
    return [w for w, _ in loaded], first


def build_ship_optical_cnn(path: Weights | None = None, combine: str = "mean") -> onnx.ModelProto:
    """The learned optical ship model from ``path`` (default: the committed weights; several:
    an ensemble whose probabilities are combined by ``combine``, :data:`COMBINE`)."""
    members, provenance = load_members(path, combine)
    bands = tuple(provenance["bands"])
    g = GraphBuilder(NAME, bands)
    ship, prob = ship_pixels(g, members, provenance, combine)
    cls = g.where(ship, g.const(2, np.uint8), g.const(0, np.uint8))
    g.set_outputs(cls, g.where(ship, prob, 0.0))
    return finalize(g.model(__doc__ or ""), _metadata(bands, provenance))


def ship_pixels(
    g: GraphBuilder,
    members: Sequence[dict[str, np.ndarray]],
    provenance: dict[str, Any],
    combine: str = "mean",
) -> tuple[Tensor, Tensor]:
    """(bool ship pixels, float probability) of the networks ``members`` in graph ``g``
    (module doc; several: their probabilities combined by ``combine``, :data:`COMBINE`);
    ``ship_optical_union`` combines them with the classical detector's."""
    constants = provenance["input"]
    v = g.to_float(g.valid)
    lx = g.op("Log", g.maximum(g.x, float(constants["floor"])))
    z = g.mul(g.div(g.sub(lx, float(constants["ln_centre"])), float(constants["ln_scale"])), v)
    probs = [g.op("Sigmoid", _Net(g, weights).forward(z)) for weights in members]
    prob = probs[0] if len(probs) == 1 else g.op(COMBINE[combine], *probs)
    return g.and_(g.valid, g.gt(prob, PROBABILITY)), prob


def _metadata(bands: tuple[str, ...], provenance: dict[str, Any]) -> dict[str, Any]:
    n_train = len(provenance.get("train_items", []))
    return {
        "name": NAME,
        "detector": "ship",
        "version": VERSION,
        "product": "sentinel2",
        "bands": list(bands),
        "units": ["reflectance"] * len(bands),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": [],
        "outputs": {"0": "none", "2": "ship"},
        "min_pixels": str(MIN_PIXELS),
        "thresholds": {"probability": PROBABILITY},
        "training": provenance,
        "builder": "edgeinfer.models_build.ship_optical_cnn:build_ship_optical_cnn",
        "source": (
            "Small U-Net (O. Ronneberger et al., MICCAI 2015) trained by "
            f"edgeinfer/models_build/train/ship_optical_cnn.py on {provenance.get('data')}: "
            "sen2ships (MIT; Copernicus Sentinel-2 data 2022-2023)"
        ),
        "description": (
            "Learned Sentinel-2 ship segmenter (10 m, B02/B03/B04/B08/B11 reflectance), "
            "cross-validated by window against ship_optical (scores below). Not the default: "
            "its held-out gain over ship_optical is within the fold-to-fold spread, and it "
            "misses most of the small (2-8 px) synthetic boats of the sample scene. Caveats: "
            "trained on nine port windows with incomplete labels (sen2ships, read as DN / "
            "10000); unverified detections are not confirmed false alarms "
            "(docs/detectors.md, ship_optical_cnn)."
        ),
        "algorithm": (
            f"z = {constants_text(provenance)} per band, zero where invalid; "
            f"{len(provenance['widths'])}-level U-Net (widths {provenance['widths']}); "
            f"ship where sigmoid > {PROBABILITY}, objects >= {MIN_PIXELS} px. "
            f"Trained on {n_train} windows, "
            f"seed {provenance.get('seed')}, {provenance.get('steps')} steps."
        ),
    }


def constants_text(provenance: dict[str, Any]) -> str:
    """The input transform with its constants, as text for the card."""
    c = provenance["input"]
    return f"(ln max(x, {c['floor']:g}) - ({c['ln_centre']:.4f})) / {c['ln_scale']:g}"


# Listed once its weights are committed.
BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = (
    {NAME: build_ship_optical_cnn} if (TRAIN_DIR / f"{NAME}.npz").is_file() else {}
)
