"""Train the learned optical ship segmenter ``ship_optical_cnn`` (CPU torch) on the sen2ships
development windows, and cross-validate it by window against the classical ``ship_optical``.

    python -m edgeinfer.models_build.train.ship_optical_cnn cv \
        --data ../shared/data/ships_optical_sentinel2_sen2ships      # 3-fold CV table (JSON)
    python -m edgeinfer.models_build.train.ship_optical_cnn train \
        --data ../shared/data/ships_optical_sentinel2_sen2ships      # final model, all windows
    python -m edgeinfer.models_build.train.ship_optical_cnn cv --widths 16,32,64,128 \
        --steps 2000 --keep FOLDS/ --data ...   # a variant (depth = number of widths)
    python -m edgeinfer.models_build.train.ship_optical_cnn cv --glint 0.10 \
        --keep FOLDS/ --data ...                # with sun-glint offsets (add_glint)
    python -m edgeinfer.models_build.train.ship_optical_cnn cv --seed 1 \
        --keep FOLDS_1/ --data ...              # another seed (ensembles: .ship_optical_union)

Input (the ONNX builder :mod:`edgeinfer.models_build.ship_optical_cnn` does the same): the
five Sentinel-2 10 m bands B02, B03, B04, B08, B11 as reflectance (``edgeinfer eval ship``
reads sen2ships as DN / 10000), ``z = (ln max(x, FLOOR) - LN_CENTRE) / LN_SCALE`` with fixed
constants, zero where invalid. No per-tile statistics, so a 96 px training crop and a 512 px
tile see the same numbers. A common gain is an additive shift of ``ln x``; training draws a
random common gain (``GAIN_LOG10``, which covers the factor 6.5 between the DN / 10000 and
DN / 65535 readings of the sen2ships README) and a small per-band gain, so the network must
rely on contrast and band ratios rather than on absolute brightness. The sampling and
augmentation constants (``CROP``, ``P_SHIP``, ``GAIN_LOG10``, ``BAND_GAIN_LOG10``,
``P_GLINT``, ``GLINT_SPECTRAL``) and the crops live in :mod:`.ship_optical_crops`.

Network: the U-Net of :mod:`edgeinfer.models_build.train.ship_cnn` (same layer names, so
the same ONNX layer builder, of any depth), widths ``WIDTHS`` (``--widths`` and ``--steps``
select a variant without changing these defaults). Targets: ship pixels, minus the pixels
where two labelled ships touch (so that ships moored side by side stay separate objects).
Loss: BCE (positive weight ``POS_WEIGHT``) + soft Dice on valid pixels. Sampling: a crop is
centred near a random ship pixel with probability ``P_SHIP``, else anywhere. Augmentation:
90-degree rotations, flips, gains. Seed ``SEED`` (``--seed``),
``torch.use_deterministic_algorithms``, one thread: a rerun on the same machine gives the
same weights bit for bit, but not on a CPU where torch picks other vector kernels (after 20
steps, ``ATEN_CPU_CAPABILITY=default`` against AVX2 already changes every tensor, by up to
1.4e-4; docs/detectors.md). Post-processing is fixed a priori (not tuned): probability
> 0.5, objects of >= 2 px (the runtime's 8-connected components).

Cross-validation (:data:`FOLDS`, fixed: windows sorted by name, fold = index % 3): for each
fold, train on the other six windows, export to ONNX, and score that model and
``ship_optical`` on the three held-out windows through ``edgeinfer eval ship``'s own code
(:func:`edgeinfer.eval.ship.evaluate_ship`: the runtime's 512 px tiles, its matching rule).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.models_build.train.ship_cnn import Chip, bce_dice_loss, unet
from edgeinfer.models_build.train.ship_optical_crops import (
    CROP,
    GLINT_SPECTRAL,
    P_GLINT,
    crops,
    load_windows,
)

logger = logging.getLogger(__name__)

SEED = 0
WIDTHS = (16, 32, 64)
BATCH = 8
STEPS = 1200
LR = 2e-3
POS_WEIGHT = 5.0
BANDS = ("B02", "B03", "B04", "B08", "B11")
# Input transform constants (fixed a priori, not fitted): a reflectance floor, and ln(0.3) and
# 1.5 to bring ln reflectance (sen2ships read as DN / 10000: window means 0.3-1.5, times the
# training gains 0.13-2) to roughly [-2, 2].
FLOOR = 1e-4
LN_CENTRE = float(np.log(0.3))
LN_SCALE = 1.5
PROBABILITY = 0.5
MIN_PIXELS = 2
# Windows sorted by name, fold = index % 3 (13-47 ships per fold).
FOLDS: tuple[tuple[str, ...], ...] = (
    ("algiers_20230817", "casablanca_20230426", "honolulu_20230108"),
    ("athens_20230818", "gdynia_20230611", "klang_20230408"),
    ("cartagena_20230730", "genoa_20230710", "valencia_20230823"),
)
SPLIT_RULE = "windows sorted by name; fold k = windows with index % 3 == k"


def weights_path() -> Path:
    """Where the committed weights of ``ship_optical_cnn`` live."""
    return Path(__file__).with_name("ship_optical_cnn.npz")


def _net(widths: tuple[int, ...] = WIDTHS) -> Any:
    """The optical U-Net: :func:`.ship_cnn.unet` (same layers, so one ONNX layer builder serves
    both) with ``widths`` channels per level over the fixed log transform."""
    return unet(len(BANDS), widths, fixed_log)


def fixed_log(x: Any, valid: Any) -> Any:
    """``(ln max(x, FLOOR) - LN_CENTRE) / LN_SCALE``, 0 on invalid pixels: the same numbers for
    96 px training crops and 512 px tiles (no per-tile statistics)."""
    import torch

    return (torch.log(torch.clamp(x, min=FLOOR)) - LN_CENTRE) / LN_SCALE * valid


def train(
    windows: dict[str, Chip],
    train_items: list[str],
    out: Path,
    data_name: str,
    steps: int = STEPS,
    widths: tuple[int, ...] = WIDTHS,
    glint: float = 0.0,
    seed: int = SEED,
) -> dict[str, Any]:
    """Train a U-Net of ``widths`` for ``steps`` on ``train_items`` of ``windows`` (``glint``:
    the largest glint offset of :func:`crops`, 0 = none; ``seed`` seeds torch and the crops);
    write weights + provenance to ``out``."""
    import torch

    torch.set_num_threads(1)  # a 2-core machine shared with other jobs
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    net = _net(widths)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    pos_weight = torch.tensor(POS_WEIGHT)
    data = [windows[s] for s in train_items]
    start = time.monotonic()
    for step in range(steps):
        x, v, y = (torch.from_numpy(a) for a in crops(data, rng, BATCH, glint))
        loss = bce_dice_loss(net(x, v), y, v, pos_weight)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        if step % 100 == 0:
            logger.info(
                "step %d loss %.4f (%.0f s)", step, float(loss.detach()), time.monotonic() - start
            )
    weights = {k: t.detach().numpy().astype(np.float32) for k, t in net.state_dict().items()}
    provenance = {
        "script": "edgeinfer/models_build/train/ship_optical_cnn.py",
        "data": f"{data_name} (development windows)",
        "kind": "optical",
        "bands": list(BANDS),
        "seed": seed,
        "steps": steps,
        "batch": BATCH,
        "crop_px": CROP,
        "widths": list(widths),
        **(
            {"glint": {"p": P_GLINT, "max": glint, "spectral": list(GLINT_SPECTRAL)}}
            if glint
            else {}
        ),
        "input": {"floor": FLOOR, "ln_centre": LN_CENTRE, "ln_scale": LN_SCALE},
        "train_items": sorted(train_items),
        "held_out_items": sorted(set(windows) - set(train_items)),
        "cv_folds": [list(f) for f in FOLDS],
        "cv_split": SPLIT_RULE,
        "post_processing": f"probability > {PROBABILITY}, objects >= {MIN_PIXELS} px (a priori)",
        "torch": torch.__version__,
    }
    np.savez(out, provenance=np.array(json.dumps(provenance, sort_keys=True)), **weights)
    return provenance


def held_out_summary(tp: int, n_true: int, n_pred: int) -> dict[str, Any]:
    """Recall (None without a ship: undefined), matches, ships, detections and unverified
    detections of held-out scores."""
    return {
        "recall": round(tp / n_true, 4) if n_true else None,
        "tp": tp,
        "n_true": n_true,
        "detections": n_pred,
        "unverified": n_pred - tp,
    }


def evaluate_fold_models(
    data_dir: Path,
    weights: Path | Sequence[Path],
    classical_dir: Path,
    work: Path,
    builders: Mapping[str, Callable[[Path | Sequence[Path]], Any]],
) -> dict[str, dict[str, Any]]:
    """``edgeinfer eval ship`` results of the models ``builders`` make from a fold's
    ``weights`` (one network, or several of an ensemble) and of the classical
    ``ship_optical`` in ``classical_dir`` (models written to ``work``; each learned model
    skips the windows its weights were trained on)."""
    from edgeinfer.eval.ship import evaluate_ship

    work.mkdir(parents=True, exist_ok=True)
    for name, build in builders.items():
        (work / f"{name}.onnx").write_bytes(build(weights).SerializeToString(deterministic=True))
    shutil.copy(classical_dir / "ship_optical.onnx", work / "ship_optical.onnx")
    return evaluate_ship(data_dir, work, model_names=[*builders, "ship_optical"])


def score_fold(
    data_dir: Path, weights: Path, held_items: list[str], classical_dir: Path, work: Path
) -> dict[str, dict[str, Any]]:
    """``edgeinfer eval ship`` scores, on ``held_items``, of the model in ``weights`` (trained
    on the other windows) and of the classical ``ship_optical`` in ``classical_dir``."""
    from edgeinfer.models_build.ship_optical_cnn import NAME, build_ship_optical_cnn

    results = evaluate_fold_models(
        data_dir, weights, classical_dir, work / "models", {NAME: build_ship_optical_cnn}
    )
    out: dict[str, dict[str, Any]] = {}
    for name, entry in results.items():
        per = [p for p in entry["per_image"] if p["item"] in held_items]
        tp = sum(int(p["tp"]) for p in per)
        n_true = sum(int(p["n_true"]) for p in per)
        n_pred = sum(int(p["n_pred"]) for p in per)
        held = entry["on_items_not_trained_by"][NAME]
        if (held["tp"], held["n_true"], held["n_pred"]) != (tp, n_true, n_pred):
            raise ValueError(f"{weights}: its training windows overlap {held_items}")
        out[name] = {**held_out_summary(tp, n_true, n_pred), "per_window": per}
    return out


def cross_validate(
    data_dir: Path,
    classical_dir: Path,
    steps: int = STEPS,
    folds: list[int] | None = None,
    keep: Path | None = None,
    widths: tuple[int, ...] = WIDTHS,
    glint: float = 0.0,
    seed: int = SEED,
) -> dict[str, Any]:
    """Per fold (:data:`FOLDS`): train a U-Net of ``widths`` for ``steps`` on the other
    windows, score both models on the fold; with ``keep``, each fold's weights are kept there
    as ``fold{k}.npz`` (for :mod:`.ship_optical_union`)."""
    windows = load_windows(data_dir)
    table: dict[str, Any] = {
        "split": SPLIT_RULE,
        "steps": steps,
        "widths": list(widths),
        **({"glint": glint} if glint else {}),
        **({"seed": seed} if seed != SEED else {}),
        "folds": [],
    }
    for k in folds if folds is not None else range(len(FOLDS)):
        held = [s for s in windows if s in FOLDS[k]]
        train_items = [s for s in windows if s not in FOLDS[k]]
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "weights.npz"
            start = time.monotonic()
            train(windows, train_items, weights, data_dir.name, steps, widths, glint, seed)
            seconds = time.monotonic() - start
            scores = score_fold(data_dir, weights, held, classical_dir, Path(tmp))
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(weights, keep / f"fold{k}.npz")
        logger.info("fold %d (%s): %s", k, ", ".join(held), json.dumps(scores))
        table["folds"].append(
            {"fold": k, "held_out": held, "train_seconds": round(seconds), "scores": scores}
        )
    for name in ("ship_optical_cnn", "ship_optical"):
        tp = sum(f["scores"][name]["tp"] for f in table["folds"])
        n_true = sum(f["scores"][name]["n_true"] for f in table["folds"])
        n_pred = sum(f["scores"][name]["detections"] for f in table["folds"])
        table[f"pooled_{name}"] = held_out_summary(tp, n_true, n_pred)
    return table


def parse_widths(text: str) -> tuple[int, ...]:
    """``"16,32,64,128"`` -> ``(16, 32, 64, 128)``: at least two positive channel counts."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give two or more positive integers, e.g. 16,32,64 or 16,32,64,128"
        )
    return widths


def parse_glint(text: str) -> float:
    """``--glint``: the largest glint offset, a reflectance in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a reflectance in [0, 1), e.g. 0.1 (0: no glint)"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=("cv", "train"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument(
        "--widths",
        type=parse_widths,
        default=WIDTHS,
        help=f"U-Net channels per level, comma-separated (default {','.join(map(str, WIDTHS))})",
    )
    parser.add_argument(
        "--glint",
        type=parse_glint,
        default=0.0,
        help="largest sun-glint offset (reflectance) added to half the crops (default 0: none)",
    )
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"seeds torch and the crops (default {SEED})"
    )
    parser.add_argument("--fold", type=int, action="append", help="cv: only these folds")
    parser.add_argument("--models", type=Path, default=Path("models"), help="has ship_optical")
    parser.add_argument("--out", type=Path, default=None, help="weights (train) or JSON (cv)")
    parser.add_argument(
        "--record", action="store_true", help="cv: store the table in MODELS/scores (the card)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="cv: keep fold{k}.npz here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.mode == "cv":
        table = cross_validate(
            args.data,
            args.models,
            args.steps,
            args.fold,
            args.keep,
            args.widths,
            args.glint,
            args.seed,
        )
        text = json.dumps(table, indent=2, sort_keys=True) + "\n"
        if args.out is not None:
            args.out.write_text(text)
        if args.record:
            from edgeinfer.models_build.cards import record_scores

            record_scores(args.models, "ship_optical_cnn", f"cv_ship_{args.data.name}", table)
        logger.info("%s", text)
        return 0
    windows = load_windows(args.data)
    out = args.out or weights_path()
    provenance = train(
        windows,
        sorted(windows),
        out,
        args.data.name,
        args.steps,
        args.widths,
        args.glint,
        args.seed,
    )
    logger.info("trained on %d windows -> %s", len(provenance["train_items"]), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
