"""Cross-validated union of ``ship_optical`` and ``ship_optical_cnn`` on held-out windows.

    python -m edgeinfer.models_build.train.ship_optical_cnn cv \
        --data ../shared/data/ships_optical_sentinel2_sen2ships --keep FOLDS/
    python -m edgeinfer.models_build.train.ship_optical_union \
        --data ../shared/data/ships_optical_sentinel2_sen2ships --weights FOLDS/ [--record]

For each fold of :data:`.ship_optical_cnn.FOLDS`, the CNN trained on the other windows
(``FOLDS/fold{k}.npz``, written by ``cv --keep``) and the classical detector run on the
held-out windows through the runtime (512 px tiles, as ``edgeinfer eval ship``). Three box
sets are matched to the labels with ``eval ship``'s rule: each model's, and their union (the
CNN's boxes plus the classical boxes more than :data:`NEAR_PX` from every CNN box, so a ship
both find counts once). Every set also gets its recall by chance
(:mod:`edgeinfer.eval.chance`): a union has more boxes, and in a port more boxes along the
quays match more moored ships whether or not they are ships.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgeinfer.eval.chance import chance_tp, zones
from edgeinfer.eval.matching import Box, match_boxes

logger = logging.getLogger(__name__)

NEAR_PX = 3  # boxes closer than this (gap between them) are the same detection
SETS = ("ship_optical", "ship_optical_cnn", "union")


def near(a: Box, b: Box, gap: int = NEAR_PX) -> bool:
    """Whether boxes ``a`` and ``b`` overlap or lie within ``gap`` px of each other."""
    return not (
        a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]
    )


def union(cnn: list[Box], classical: list[Box]) -> list[Box]:
    """The CNN's boxes plus the classical boxes near none of them."""
    return cnn + [c for c in classical if not any(near(c, d) for d in cnn)]


def score_fold(data_dir: Path, weights: Path, held: list[str], classical_dir: Path) -> list[Any]:
    """Per held-out window: tp, n_true, n_pred and chance tp of the three box sets."""
    from edgeinfer.detect import Detector, ModelRegistry, RuntimeOptions
    from edgeinfer.eval.scenes import run_model
    from edgeinfer.eval.ship import OPTICAL_BANDS, find_items, optical_scene, read_instances
    from edgeinfer.models_build.ship_optical_cnn import NAME, build_ship_optical_cnn
    from edgeinfer.scene import open_scene

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        model = build_ship_optical_cnn(weights)
        (models / f"{NAME}.onnx").write_bytes(model.SerializeToString(deterministic=True))
        shutil.copy(classical_dir / "ship_optical.onnx", models / "ship_optical.onnx")
        registry = ModelRegistry(models)
        options = RuntimeOptions("cpu", intra_op_threads=1)
        detectors = {n: Detector(registry.get_model(n), options) for n in (NAME, "ship_optical")}
        for item in find_items(data_dir):
            if item.stem not in held:
                continue
            instances, _ = read_instances(item.mask)
            with open_scene(item.image) as raw:
                scene = optical_scene(raw)
            green, nir = (scene.data[OPTICAL_BANDS.index(b)] for b in ("B03", "B08"))
            zone = zones(green, nir, scene.valid)
            boxes = {
                n: [a.bbox_px for a in run_model(scene, d).alerts] for n, d in detectors.items()
            }
            boxes["union"] = union(boxes[NAME], boxes["ship_optical"])
            row: dict[str, Any] = {"item": item.stem}
            for name in SETS:
                match = match_boxes(boxes[name], instances)
                row[name] = {
                    "tp": match.tp,
                    "n_true": match.n_true,
                    "n_pred": match.n_pred,
                    "chance_tp": round(chance_tp(boxes[name], instances, zone), 2),
                }
            rows.append(row)
    return rows


def union_table(data_dir: Path, classical_dir: Path, weights_dir: Path) -> dict[str, Any]:
    """Every fold's windows (:func:`score_fold`) and the pooled scores of the three sets."""
    from edgeinfer.models_build.train.ship_optical_cnn import FOLDS, SPLIT_RULE

    table: dict[str, Any] = {"split": SPLIT_RULE, "near_px": NEAR_PX, "folds": []}
    for k, held in enumerate(FOLDS):
        rows = score_fold(data_dir, weights_dir / f"fold{k}.npz", list(held), classical_dir)
        logger.info("fold %d: %s", k, json.dumps(rows))
        table["folds"].append({"fold": k, "held_out": list(held), "windows": rows})
    every = [r for f in table["folds"] for r in f["windows"]]
    for name in SETS:
        tp = sum(r[name]["tp"] for r in every)
        n_true = sum(r[name]["n_true"] for r in every)
        n_pred = sum(r[name]["n_pred"] for r in every)
        chance = sum(r[name]["chance_tp"] for r in every)
        table[f"pooled_{name}"] = {
            "recall": round(tp / n_true, 4),
            "tp": tp,
            "n_true": n_true,
            "detections": n_pred,
            "unverified": n_pred - tp,
            "chance_recall": round(chance / n_true, 4),
            "recall_above_chance": round((tp - chance) / n_true, 4),
        }
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True, help="fold{k}.npz (cv --keep)")
    parser.add_argument("--models", type=Path, default=Path("models"), help="has ship_optical")
    parser.add_argument("--out", type=Path, default=None, help="JSON")
    parser.add_argument("--record", action="store_true", help="store in MODELS/scores (card)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = union_table(args.data, args.models, args.weights)
    table["command"] = (
        "python -m edgeinfer.models_build.train.ship_optical_union "
        f"--data ../shared/data/{args.data.name} --weights FOLDS/"
    )
    text = json.dumps(table, indent=2, sort_keys=True) + "\n"
    if args.out is not None:
        args.out.write_text(text)
    if args.record:
        from edgeinfer.models_build.cards import record_scores

        record_scores(args.models, "ship_optical_cnn", f"cv_union_{args.data.name}", table)
    for name in SETS:
        logger.info("%s: %s", name, json.dumps(table[f"pooled_{name}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
