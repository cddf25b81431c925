"""``edgeinfer eval ship-chips``: the SAR ship models on small Sentinel-1 chips.

The dataset is recognised by its ``labels.csv``:

- columns ``ais_length_m`` and ``ship_head_x`` ...: calibrated chips, one AIS-matched vessel
  each (OpenSARShip). A vessel is detected when an alert matches the ship, drawn as the
  segment from its head to its tail pixel, by the rule of ``eval ship`` (box overlaps it or
  centres within 10 px). Reported: detection probability overall, for AIS length >= 50 m (the
  bar: >= 0.90) and per AIS length bin; the estimated length (the alert's major axis,
  ``extra["length_m"]``) against the AIS length; other alerts per chip.
- columns ``label`` and ``contains_ship`` with class folders: 8-bit amplitude chips normalised
  to their maximum (ocean, boats, windmills, land, beach). Reported: false alarms per ocean
  chip and per km2, the share of boat chips with an alert, and of wind-turbine chips with an
  alert (a known hard negative), plus land and beach for information.

Each chip is one tile of its own size through the runtime (the CFAR clamps its windows to
the chip's valid extent, so padding it into a 512 px tile gives the same classes). Band: VV
for dual-polarisation chips (per ``labels.csv`` ``bands``), the only band otherwise.

OpenSARShip's dual-polarisation chips are TIFFs without an ExtraSamples tag, on which GDAL
warns at every read that it takes band 2 as an "extra sample" (it reads its values
unchanged); the warning is counted and stated once (:mod:`edgeinfer.scene.gdal_messages`).
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import chi2

from edgeinfer.detect.alerts import Alert, objects_from_output
from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions
from edgeinfer.errors import SceneError
from edgeinfer.eval.matching import match_boxes
from edgeinfer.eval.scenes import ArrayScene, read_full
from edgeinfer.eval.ship import resolve_pixel_size, ship_models
from edgeinfer.scene import iter_tiles, open_scene
from edgeinfer.scene.bands import Band
from edgeinfer.scene.gdal_messages import TIFF_NO_EXTRASAMPLES, counting_gdal_message

if TYPE_CHECKING:
    import typer

logger = logging.getLogger(__name__)

BAR_PD = 0.90  # detection probability for AIS length >= 50 m (edgeinfer issue 3)
BAR_LENGTH_M = 50.0
LENGTH_BINS_M = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, math.inf)
# What each class's numbers mean (the classes of sar_sentinel1_vv_chips_sea_boat_windmill).
CLASS_MEANINGS = {
    "ocean": "false alarms on ship-free open sea",
    "boats": "detection rate = chips_with_alert",
    "windmills": (
        "alerts on a hard negative: offshore wind turbines, bright fixed point targets "
        "(no AIS truth)"
    ),
    "land": (
        "alerts on land chips, for information: bright targets on land (buildings, "
        "structures), not ships (no AIS truth)"
    ),
    "beach": (
        "alerts on beach and shoreline chips, for information: surf and coastal structures; "
        "sorted by eye, a few may show a boat or a jetty (no AIS truth)"
    ),
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def detect_dataset(data_dir: Path) -> str:
    """``opensarship`` or ``chips`` from the columns of ``labels.csv``."""
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        raise SceneError(
            f"{data_dir} has no labels.csv; `edgeinfer eval ship-chips` needs the OpenSARShip "
            "chips (labels.csv with ais_length_m) or the class-folder chips (labels.csv with "
            "label)"
        )
    with labels.open(newline="", encoding="utf-8") as fh:
        columns = set(next(csv.reader(fh), []))
    if {"ais_length_m", "ship_head_x", "ship_tail_x", "file"} <= columns:
        return "opensarship"
    if {"file", "label"} <= columns:
        return "chips"
    raise SceneError(
        f"{labels} has columns {sorted(columns)}; expected OpenSARShip's (file, ais_length_m, "
        "ship_head_x ...) or class chips' (file, label)"
    )


def _chip(path: Path, band_index: int, name: str, pixel_size_m: float) -> ArrayScene:
    with open_scene(path, product="sar") as raw:
        full = read_full(raw, (raw.band_names[band_index],))
        unit = raw.bands[band_index].unit
        scene = ArrayScene.like(raw, full.data, full.valid, (Band(name, unit),))
    scene.pixel_size_m = pixel_size_m
    return scene


def run_chips(scenes: Iterable[ArrayScene], detector: Detector) -> list[list[Alert]]:
    """Alerts of each chip, each chip one tile of its own size, batched by size."""
    tiles = [next(iter_tiles(s, max(s.width, s.height), 0, detector.info.bands)) for s in scenes]
    outputs = detector.run(tiles)
    return [objects_from_output(t, o, detector.info) for t, o in zip(tiles, outputs, strict=True)]


def _vv_index(row: dict[str, str]) -> int:
    """0-based band index of VV in a chip (``bands`` like ``1=VH sigma0,2=VV sigma0``)."""
    for part in row.get("bands", "").split(","):
        number, _, what = part.partition("=")
        if what.strip().upper().startswith("VV"):
            return int(number) - 1
    return 0


def _segment(row: dict[str, str], h: int, w: int) -> np.ndarray:
    """The ship as a 1-px line from head to tail (chip pixels), instance id 1."""
    hx, hy, tx, ty = (
        float(row[k]) for k in ("ship_head_x", "ship_head_y", "ship_tail_x", "ship_tail_y")
    )
    n = int(max(abs(hx - tx), abs(hy - ty))) + 2
    xs = np.clip(np.rint(np.linspace(hx, tx, n)).astype(int), 0, w - 1)
    ys = np.clip(np.rint(np.linspace(hy, ty, n)).astype(int), 0, h - 1)
    out = np.zeros((h, w), dtype=np.int32)
    out[ys, xs] = 1
    return out


def _bin_order(name: str) -> float:
    """Sort key of a length-bin name: its lower bound (``unknown`` last)."""
    head = name.removeprefix(">= ").split("-")[0].split(" ")[0]
    return float(head) if head[:1].isdigit() else math.inf


def _length_bin(length: float) -> str:
    if not length > 0:
        return "unknown"
    for lo, hi in itertools.pairwise(LENGTH_BINS_M):
        if lo <= length < hi:
            return f"{lo:g}-{hi:g} m" if math.isfinite(hi) else f">= {lo:g} m"
    return "unknown"


def evaluate_opensarship(
    data_dir: Path, info: ModelInfo, detector: Detector, pixel_size_m: float
) -> dict[str, Any]:
    """Per-vessel detection probability and length estimate on calibrated chips."""
    rows = _rows(data_dir / "labels.csv")
    scenes = [_chip(data_dir / r["file"], _vv_index(r), info.bands[0], pixel_size_m) for r in rows]
    alerts = run_chips(scenes, detector)
    bins: dict[str, list[int]] = {}
    detected, big, errors, pairs, others = [], [], [], [], []
    for row, scene, found in zip(rows, scenes, alerts, strict=True):
        truth = _segment(row, scene.height, scene.width)
        match = match_boxes([a.bbox_px for a in found], truth)
        hit = match.tp > 0
        ais = float(row["ais_length_m"] or 0.0)
        detected.append(hit)
        bins.setdefault(_length_bin(ais), []).append(int(hit))
        if ais >= BAR_LENGTH_M:
            big.append(hit)
        others.append(match.unmatched)
        if hit and ais > 0:
            est = found[match.pairs[0][0]].extra.get("length_m")
            if est is not None:
                pairs.append((est, ais))
                errors.append(est - ais)
    pd_big = float(np.mean(big)) if big else 0.0
    result: dict[str, Any] = {
        "dataset": data_dir.name,
        "chips": len(rows),
        "pixel_size_m": pixel_size_m,
        "band": "VV",
        "detection_probability": round(float(np.mean(detected)), 4),
        "detection_probability_ais_ge_50m": round(pd_big, 4),
        "vessels_ais_ge_50m": len(big),
        "per_length_bin": {
            k: {"vessels": len(v), "detection_probability": round(float(np.mean(v)), 4)}
            for k, v in sorted(bins.items(), key=lambda kv: _bin_order(kv[0]))
        },
        "other_alerts_per_chip": round(float(np.mean(others)), 4),
        "bar": {"detection_probability_ais_ge_50m": BAR_PD, "met": pd_big >= BAR_PD},
    }
    if len(pairs) >= 3:
        est, ais = np.array(pairs).T
        result["length_estimate"] = {
            "vessels": len(pairs),
            "pearson_r_vs_ais": round(float(np.corrcoef(est, ais)[0, 1]), 4),
            "median_error_m": round(float(np.median(errors)), 2),
            "median_abs_error_m": round(float(np.median(np.abs(errors))), 2),
            "note": "alert major axis (runtime extra length_m) minus AIS length",
        }
    return result


def evaluate_class_chips(
    data_dir: Path, info: ModelInfo, detector: Detector, pixel_size_m: float
) -> dict[str, Any]:
    """False alarms on ocean chips, detections on boat chips, alerts on the hard negative
    (wind turbines) and on land and beach chips; each class says what its numbers mean."""
    rows = _rows(data_dir / "labels.csv")
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    result: dict[str, Any] = {"dataset": data_dir.name, "pixel_size_m": pixel_size_m}
    for label, members in sorted(by_label.items()):
        scenes = [_chip(data_dir / r["file"], 0, info.bands[0], pixel_size_m) for r in members]
        counts = np.array([len(a) for a in run_chips(scenes, detector)])
        area_km2 = sum(s.width * s.height for s in scenes) * pixel_size_m**2 / 1e6
        entry: dict[str, Any] = {
            "chips": len(members),
            "alerts": int(counts.sum()),
            "chips_with_alert": round(float(np.mean(counts > 0)), 4),
            "alerts_per_chip": round(float(np.mean(counts)), 4),
            "alerts_per_km2": round(float(counts.sum() / area_km2), 4),
        }
        if label in CLASS_MEANINGS:
            entry["meaning"] = CLASS_MEANINGS[label]
        if label == "ocean":
            # One-sided 95 % Poisson upper bound (Garwood 1936): chi2(0.95, 2k + 2) / 2 events,
            # 3.0 for k = 0 (the rule of three).
            upper = float(chi2.ppf(0.95, 2 * int(counts.sum()) + 2)) / 2.0
            entry["alerts_per_km2_upper_95"] = round(upper / area_km2, 4)
            entry["area_km2"] = round(area_km2, 4)
        result[label] = entry
    return result


def evaluate_ship_chips(
    data_dir: Path,
    models_dir: Path | None = None,
    provider: str = "cpu",
    pixel_size_m: float | None = None,
    model_names: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Scores of the SAR ship models on the chip dataset in ``data_dir``."""
    data_dir = Path(data_dir)
    kind = detect_dataset(data_dir)
    size, source = resolve_pixel_size(pixel_size_m, None, data_dir)
    registry = ModelRegistry(models_dir)
    options = RuntimeOptions(provider=provider, intra_op_threads=1)
    results: dict[str, dict[str, Any]] = {}
    with counting_gdal_message(TIFF_NO_EXTRASAMPLES) as tiff_warnings:
        for info in ship_models(registry, "sar", model_names):
            detector = Detector(info, options, batch_size=64)
            run = evaluate_opensarship if kind == "opensarship" else evaluate_class_chips
            entry = run(data_dir, info, detector, size)
            entry.update(
                model=f"{info.name}@{info.version}",
                kind=kind,
                pixel_size_source=source,
                command="edgeinfer eval ship-chips",
            )
            results[info.name] = entry
    if not results:
        raise SceneError(f"no SAR ship model in {registry.models_dir}; run edgeinfer models build")
    if tiff_warnings.count:
        logger.info(
            "GDAL's TIFFReadDirectory warning (%s) on %d of %d chips (%d times) not shown: "
            "harmless here, those TIFFs hold 2 bands under Photometric MinIsBlack without "
            "an ExtraSamples tag, and GDAL reads band 2 (VV) unchanged as an extra sample",
            TIFF_NO_EXTRASAMPLES.removeprefix("TIFFReadDirectory:"),
            len(tiff_warnings.files),
            len(_rows(data_dir / "labels.csv")),
            tiff_warnings.count,
        )
    return results


def print_ship_chips(results: dict[str, dict[str, Any]]) -> None:
    """One table row per model and measure."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="SAR ship models on Sentinel-1 chips")
    for column in ("model", "dataset", "measure", "value"):
        table.add_column(column)
    for name, s in sorted(results.items()):
        if s["kind"] == "opensarship":
            rows = [
                ("detection probability", s["detection_probability"]),
                ("... AIS length >= 50 m (bar 0.90)", s["detection_probability_ais_ge_50m"]),
            ]
            rows += [
                (f"... {k}", v["detection_probability"]) for k, v in s["per_length_bin"].items()
            ]
            if "length_estimate" in s:
                le = s["length_estimate"]
                rows.append(
                    (
                        "length r vs AIS / median error m",
                        f"{le['pearson_r_vs_ais']} / {le['median_error_m']}",
                    )
                )
        else:
            rows = [
                (
                    f"{k}: alerts/chip, /km2, chips with alert",
                    f"{v['alerts_per_chip']}, {v['alerts_per_km2']}, {v['chips_with_alert']}",
                )
                for k, v in s.items()
                if isinstance(v, dict) and "alerts_per_chip" in v
            ]
        for measure, value in rows:
            table.add_row(name, s["dataset"], measure, str(value))
    Console(width=140).print(table)


def register(eval_app: typer.Typer) -> None:
    """Add ``ship-chips`` to the ``edgeinfer eval`` sub-app."""
    import typer

    from edgeinfer.eval.scenes import save_results

    @eval_app.command("ship-chips")
    def ship_chips_cmd(
        data: Path = typer.Option(..., "--data", help="Chip folder with labels.csv."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the results here."),
        record: bool = typer.Option(
            False, "--record", help="Store scores in models/scores and refresh the cards."
        ),
        pixel_size_m: float | None = typer.Option(
            None, "--pixel-size-m", help="Pixel size (m; default: the README's)."
        ),
        model: list[str] = typer.Option(None, "--model", help="Model name(s) to score."),
        models_dir: Path | None = typer.Option(None, "--models-dir", help="Models folder."),
        provider: str = typer.Option("cpu", "--provider", help="onnxruntime provider."),
    ) -> None:
        """Detection probability by AIS length, false alarms per km2 on open sea."""
        results = evaluate_ship_chips(data, models_dir, provider, pixel_size_m, model or None)
        print_ship_chips(results)
        save_results(results, json_out, record, models_dir, f"eval_ship_chips_{Path(data).name}")
