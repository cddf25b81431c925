"""Cross-validated union of ``ship_optical`` and ``ship_optical_cnn`` on held-out windows.

    python -m edgeinfer.models_build.train.ship_optical_cnn cv \
        --data ../shared/data/ships_optical_sentinel2_sen2ships --keep FOLDS/
    python -m edgeinfer.models_build.train.ship_optical_union \
        --data ../shared/data/ships_optical_sentinel2_sen2ships --weights FOLDS/ [--record]
    python -m edgeinfer.models_build.train.ship_optical_union --data ... \
        --weights FOLDS_0/ --weights FOLDS_1/ --weights FOLDS_2/ \
        [--combine mean|max]                          # an ensemble (cv --seed)

For each fold of :data:`.ship_optical_cnn.FOLDS`, the CNN trained on the other windows
(``FOLDS/fold{k}.npz``, written by ``cv --keep``) is built into ``ship_optical_cnn`` and
into ``ship_optical_union`` (:mod:`edgeinfer.models_build.ship_optical_union`: classical OR
CNN, one graph; with several ``--weights`` folders the CNN is the mean probability of their
fold networks), and the three models are scored on the held-out windows by ``edgeinfer eval
ship``'s own code (:func:`edgeinfer.eval.ship.evaluate_ship`: 512 px tiles, its matching
rule, and the recall by chance of :mod:`edgeinfer.eval.chance`, since a union has more boxes
and in a port more boxes along the quays match more moored ships whether or not they are
ships).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from edgeinfer.models_build.ship_optical_cnn import COMBINE

logger = logging.getLogger(__name__)

SETS = ("ship_optical", "ship_optical_cnn", "ship_optical_union")


def score_fold(
    data_dir: Path,
    weights: Sequence[Path],
    held: list[str],
    classical_dir: Path,
    combine: str = "mean",
) -> list[Any]:
    """Per held-out window: tp, n_true, n_pred and chance tp of the three models (the CNN:
    the network in ``weights``, or several combined by ``combine``)."""
    from edgeinfer.models_build.ship_optical_cnn import build_ship_optical_cnn
    from edgeinfer.models_build.ship_optical_union import build_ship_optical_union
    from edgeinfer.models_build.train.ship_optical_cnn import evaluate_fold_models

    builders = {
        "ship_optical_cnn": partial(build_ship_optical_cnn, combine=combine),
        "ship_optical_union": partial(build_ship_optical_union, combine=combine),
    }
    with tempfile.TemporaryDirectory() as tmp:
        results = evaluate_fold_models(data_dir, weights, classical_dir, Path(tmp), builders)
    rows = []
    for stem in held:
        row: dict[str, Any] = {"item": stem}
        for name in SETS:
            (p,) = [p for p in results[name]["per_image"] if p["item"] == stem]
            row[name] = {k: p[k] for k in ("tp", "n_true", "n_pred", "chance_tp")}
        rows.append(row)
    return rows


def union_table(
    data_dir: Path, classical_dir: Path, weights_dirs: Sequence[Path], combine: str = "mean"
) -> dict[str, Any]:
    """Every fold's windows (:func:`score_fold`) and the pooled scores of the three sets;
    several ``weights_dirs``: the CNN is the ensemble of their fold networks, combined by
    ``combine``."""
    from edgeinfer.models_build.train.ship_optical_cnn import FOLDS, SPLIT_RULE, held_out_summary

    table: dict[str, Any] = {"split": SPLIT_RULE, "folds": []}
    if len(weights_dirs) > 1:
        table["ensemble"] = {"members": len(weights_dirs), "combine": combine}
    for k, held in enumerate(FOLDS):
        weights = [d / f"fold{k}.npz" for d in weights_dirs]
        rows = score_fold(data_dir, weights, list(held), classical_dir, combine)
        logger.info("fold %d: %s", k, json.dumps(rows))
        table["folds"].append({"fold": k, "held_out": list(held), "windows": rows})
    every = [r for f in table["folds"] for r in f["windows"]]
    for name in SETS:
        tp = sum(r[name]["tp"] for r in every)
        n_true = sum(r[name]["n_true"] for r in every)
        n_pred = sum(r[name]["n_pred"] for r in every)
        chance = sum(r[name]["chance_tp"] for r in every)
        table[f"pooled_{name}"] = {
            **held_out_summary(tp, n_true, n_pred),
            "chance_recall": round(chance / n_true, 4),
            "recall_above_chance": round((tp - chance) / n_true, 4),
        }
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument(
        "--weights",
        type=Path,
        action="append",
        required=True,
        help="fold{k}.npz (cv --keep); repeated: an ensemble of their networks (--combine)",
    )
    parser.add_argument(
        "--combine",
        choices=sorted(COMBINE),
        default="mean",
        help="several --weights: average the probabilities (mean) or OR the masks (max)",
    )
    parser.add_argument("--models", type=Path, default=Path("models"), help="has ship_optical")
    parser.add_argument("--out", type=Path, default=None, help="JSON")
    parser.add_argument(
        "--record", action="store_true", help="store in MODELS/scores/ship_optical_union (card)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = union_table(args.data, args.models, args.weights, args.combine)
    table["command"] = (
        "python -m edgeinfer.models_build.train.ship_optical_union "
        f"--data ../shared/data/{args.data.name}"
        + " --weights FOLDS/" * len(args.weights)
        + (f" --combine {args.combine}" if len(args.weights) > 1 else "")
    )
    text = json.dumps(table, indent=2, sort_keys=True) + "\n"
    if args.out is not None:
        args.out.write_text(text)
    if args.record:
        from edgeinfer.models_build.cards import record_scores

        record_scores(args.models, "ship_optical_union", f"cv_{args.data.name}", table)
    for name in SETS:
        logger.info("%s: %s", name, json.dumps(table[f"pooled_{name}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
