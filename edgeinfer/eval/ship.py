"""``edgeinfer eval ship``: object precision/recall of the ship models on scenes with ship masks.

Two layouts are recognised, by what the files hold, not by their names' extensions:

- ``images/<stem>.*`` SAR images with ``masks/<stem>.*`` RGB masks whose green channel
  > 127 marks ships (HRSID as distributed by atlan-antillia). Objects = 8-connected
  components of the mask (touching ships merge, as the dataset README warns).
- ``images/<stem>.*`` multi-band optical images with ``masks/<stem>_mask.*`` instance-id
  masks (0 = background, k = ship k; sen2ships). The labels are incomplete (README), so
  unmatched detections are reported as ``unverified``, not as false alarms.

Modality comes from the image content (the scene reader's SAR detection, or the presence of
the Sentinel-2 bands B02, B03, B04, B08, B11). Every ship model that fits the modality is
run through the runtime (:class:`~edgeinfer.detect.runtime.Detector`, 512 px tiles as on
board) and its alerts' boxes are matched to the objects by :mod:`edgeinfer.eval.matching`.

Pixel size (SAR windows are in metres): ``--pixel-size-m``, else the scene's own, else the
dataset README's statement (``readme_pixel_size_m``; for a range such as HRSID's "0.5-3 m"
the coarsest value). Learned models are never scored on the items they were trained on
(their ``edgeinfer.training`` metadata lists them); the result says how many were left out.

Optical results also give ``chance_recall``: the recall of the same boxes moved to random
places in their own zone (shore, open water, land; :mod:`edgeinfer.eval.chance`), since in a
port a box anywhere along a quay often touches a moored ship; ``recall_above_chance`` is the
difference.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions
from edgeinfer.errors import ConfigError, SceneError
from edgeinfer.eval.chance import REPEATS, SHORE_PX, chance_tp, zones
from edgeinfer.eval.matching import MatchResult, match_boxes
from edgeinfer.eval.scenes import ArrayScene, read_full, run_model
from edgeinfer.eval.ship_items import Item as Item
from edgeinfer.eval.ship_items import (
    ItemError,
    SkippedItem,
    check_mask_shape,
    read_item_instances,
    scan_items,
)
from edgeinfer.eval.ship_items import find_items as find_items
from edgeinfer.eval.ship_items import read_instances as read_instances
from edgeinfer.scene import open_scene, stack
from edgeinfer.scene.bands import SENTINEL2_MSI, Band
from edgeinfer.scene.gdal_messages import counting_log_message
from edgeinfer.scene.stack import DN_SCALE_ASSUMED
from edgeinfer.scene.types import Scene

if TYPE_CHECKING:
    import typer

logger = logging.getLogger(__name__)

OPTICAL_BANDS = ("B02", "B03", "B04", "B08", "B11")
# ESA Sentinel-2 L1C/L2A quantification (REFERENCE.md): rho = DN / 10000; DN 0 = NODATA.
# ship_optical is gain-invariant, so a different export scaling does not change its output.
S2_QUANTIFICATION = 10000.0
# Bars (edgeinfer issue 3): SAR f1 on HRSID, optical recall on sen2ships.
BAR_SAR_F1 = 0.85
BAR_OPTICAL_RECALL = 0.80
_README_SIZE = re.compile(
    r"(\d+(?:\.\d+)?)(?:\s*(?:-|–|to)\s*(\d+(?:\.\d+)?))?\s*m\s+(?:pixel|resolution)", re.I
)


def readme_pixel_size_m(data_dir: Path) -> float | None:
    """The pixel size a dataset's README states ("10 m pixel spacing", "0.5-3 m
    resolution"): the first such statement, the coarsest end of a range; None if none."""
    readme = data_dir / "README.md"
    if not readme.is_file():
        return None
    found = _README_SIZE.search(readme.read_text(encoding="utf-8", errors="replace"))
    if found is None:
        return None
    values = [float(v) for v in found.groups() if v is not None]
    return max(values)


def resolve_pixel_size(
    option: float | None, scene: Scene | None, data_dir: Path
) -> tuple[float, str]:
    """(pixel size in metres, where it came from) for a dataset of chips."""
    if option is not None:
        if not option > 0:
            raise ConfigError(f"--pixel-size-m {option}: expected a positive number of metres")
        return float(option), "option --pixel-size-m"
    if scene is not None and scene.pixel_size_m:
        return float(scene.pixel_size_m), "scene georeference"
    stated = readme_pixel_size_m(data_dir)
    if stated is not None:
        return stated, f"{data_dir.name}/README.md (coarsest stated value)"
    raise ConfigError(
        f"the images in {data_dir} have no georeference and its README states no pixel size; "
        "pass --pixel-size-m M (e.g. 10 for Sentinel-1 GRD, 3 for HRSID Sentinel-1B stripmap)"
    )


def modality(scene: Scene) -> str:
    """``sar`` or ``optical`` from the scene content, else :class:`SceneError`."""
    if scene.product == "sar":
        return "sar"
    if all(b in scene.band_names for b in OPTICAL_BANDS):
        return "optical"
    raise SceneError(
        f"{scene.source}: neither SAR nor a Sentinel-2 stack with bands "
        f"{', '.join(OPTICAL_BANDS)} (it has {', '.join(scene.band_names)})"
    )


def optical_scene(scene: Scene) -> ArrayScene:
    """The Sentinel-2 bands as reflectance: a ``sentinel2`` scene's own (the reader's DN x
    1e-4), a plain stack's DN / 10000; DN 0 = NODATA is invalid."""
    full = read_full(scene, OPTICAL_BANDS)
    valid = full.valid & np.all(full.data > 0, axis=0)
    units = {b.unit for b in scene.bands if b.name in OPTICAL_BANDS}
    data = full.data
    if units != {"reflectance"}:
        data = (full.data / np.float32(S2_QUANTIFICATION)).astype(np.float32)
    bands = tuple(SENTINEL2_MSI[b] for b in OPTICAL_BANDS)
    out = ArrayScene.like(scene, data, valid, bands)
    out.product = "sentinel2"
    return out


def sar_scene(scene: Scene, band_name: str, pixel_size_m: float) -> ArrayScene:
    """The scene's first SAR band, renamed to the model's band name."""
    full = read_full(scene, scene.band_names[:1])
    unit = scene.bands[0].unit
    out = ArrayScene.like(scene, full.data, full.valid, (Band(band_name, unit),))
    out.pixel_size_m = pixel_size_m
    return out


def ship_models(registry: ModelRegistry, kind: str, names: list[str] | None) -> list[ModelInfo]:
    """Ship models for a modality (SAR: one-band ``sar`` models; optical: those whose bands
    the Sentinel-2 stack has), or the ones named."""
    models = [m for m in registry.list_models() if m.detector == "ship"]
    if names:
        return [registry.get_model(n) for n in names]
    if kind == "sar":
        return [m for m in models if m.product == "sar" and len(m.bands) == 1]
    return [m for m in models if m.product != "sar" and set(m.bands) <= set(OPTICAL_BANDS)]


def trained_items(info: ModelInfo) -> set[str]:
    """Stems a learned model was trained on (``edgeinfer.training`` JSON ``train_items``)."""
    raw = info.metadata.get("training")
    if not raw:
        return set()
    try:
        return {str(s) for s in json.loads(raw).get("train_items", [])}
    except (json.JSONDecodeError, AttributeError):
        return set()


def load_item(
    item: Item, kind: str, band_name: str, pixel_size_m: float
) -> tuple[npt.NDArray[np.int32], str, ArrayScene]:
    """(instances, layout, scene) of one item as the models see it, or :class:`ItemError`
    naming the file and what is wrong with it (unreadable, another modality, mask size)."""
    instances, layout = read_item_instances(item)
    try:
        with open_scene(item.image) as raw:
            found = modality(raw)
            if found != kind:
                raise ItemError(item, item.image, f"a {found} image among {kind} images")
            scene = sar_scene(raw, band_name, pixel_size_m) if kind == "sar" else optical_scene(raw)
    except ItemError:
        raise
    except (OSError, ValueError) as exc:  # SceneError and rasterio's errors are OSError
        raise ItemError(item, item.image, f"cannot use the image ({exc})") from exc
    check_mask_shape(item, instances, scene.width, scene.height)
    return instances, layout, scene


def first_scene_kind(
    items: list[Item], skipped: dict[str, SkippedItem], pixel_size_m: float | None, data_dir: Path
) -> tuple[str, float, str]:
    """(modality, pixel size, its source) from the first image that opens; the images before
    it that do not open go to ``skipped``."""
    for item in items:
        try:
            with open_scene(item.image) as first:
                kind = modality(first)
                if kind != "sar":
                    return kind, 0.0, ""
                return (kind, *resolve_pixel_size(pixel_size_m, first, data_dir))
        except ConfigError:
            raise
        except (OSError, ValueError) as exc:
            skip_item(skipped, ItemError(item, item.image, f"cannot use the image ({exc})"))
    raise SceneError(
        f"no image in {data_dir / 'images'} can be read: "
        + "; ".join(f"{s.file}: {s.reason}" for s in skipped.values())
    )


def skip_item(skipped: dict[str, SkippedItem], error: ItemError) -> None:
    """Record an unscorable item once, with one WARNING naming the file and the fault."""
    if error.skipped.item not in skipped:
        logger.warning("skipping item %s (not scored): %s", error.skipped.item, error)
        skipped[error.skipped.item] = error.skipped


def evaluate_ship(
    data_dir: Path,
    models_dir: Path | None = None,
    provider: str = "cpu",
    pixel_size_m: float | None = None,
    model_names: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Scores of every fitting ship model on the labelled images in ``data_dir``. Items that
    cannot be scored (unreadable image or mask, mask of another size) are reported in
    ``skipped_items`` and images with no mask in ``images_without_mask``; the rest are scored.
    A reflectance scale assumed for integer images without scale metadata is logged once for
    the folder, not once per image read."""
    with counting_log_message(stack.__name__, DN_SCALE_ASSUMED) as assumed:
        results = _evaluate_ship(Path(data_dir), models_dir, provider, pixel_size_m, model_names)
    if assumed.count > 1:
        logger.info(
            "the same reflectance scale was assumed for %d more image reads", assumed.count - 1
        )
    return results


def _evaluate_ship(
    data_dir: Path,
    models_dir: Path | None,
    provider: str,
    pixel_size_m: float | None,
    model_names: list[str] | None,
) -> dict[str, dict[str, Any]]:
    scan = scan_items(data_dir)
    items = scan.items
    registry = ModelRegistry(models_dir)
    options = RuntimeOptions(provider=provider, intra_op_threads=1)
    skipped: dict[str, SkippedItem] = {}
    kind, size, size_source = first_scene_kind(items, skipped, pixel_size_m, data_dir)
    results: dict[str, dict[str, Any]] = {}
    for info in ship_models(registry, kind, model_names):
        detector = Detector(info, options)
        skip = trained_items(info)
        total = MatchResult(0, 0, 0)
        chance = 0.0
        per_image, layouts = [], set()
        for item in items:
            if item.stem in skip or item.stem in skipped:
                continue
            try:
                instances, layout, scene = load_item(item, kind, info.bands[0], size)
            except ItemError as error:
                skip_item(skipped, error)
                continue
            layouts.add(layout)
            run = run_model(scene, detector)
            boxes = [a.bbox_px for a in run.alerts]
            match = match_boxes(boxes, instances)
            total = total + match
            row: dict[str, Any] = {"item": item.stem, **match.summary()}
            if kind == "optical":
                green, nir = (scene.data[OPTICAL_BANDS.index(b)] for b in ("B03", "B08"))
                zone = zones(green, nir, scene.valid)
                row["chance_tp"] = round(chance_tp(boxes, instances, zone), 2)
                chance += row["chance_tp"]
            per_image.append(row)
        layout = "+".join(sorted(layouts))
        entry: dict[str, Any] = {
            "dataset": data_dir.name,
            "layout": layout,
            "modality": kind,
            "model": f"{info.name}@{info.version}",
            **total.summary(),
            "images": len(per_image),
            "per_image": per_image,
            "images_without_mask": scan.summary(),
            "matching": "box overlaps the object mask or centres within 10 px; one-to-one",
            "command": "edgeinfer eval ship",
        }
        if skip:
            entry["excluded_training_items"] = len(skip & {i.stem for i in items})
        if kind == "sar":
            entry.update(pixel_size_m=size, pixel_size_source=size_source)
        measure, bar = ("f1", BAR_SAR_F1) if kind == "sar" else ("recall", BAR_OPTICAL_RECALL)
        defined = entry[measure] is not None  # None: no ship and no alert (f1), no ship (recall)
        entry["bar"] = {measure: bar, "met": getattr(total, measure) >= bar if defined else None}
        if not per_image:  # a learned model trained on every item here: nothing to score
            entry["bar"]["met"] = None
            entry["note"] = (
                "every item here was in this model's training data; its card gives the "
                "cross-validated scores"
            )
        elif layout == "instance":
            entry["unverified"] = total.unmatched
            entry["note"] = "labels incomplete: unmatched detections are unverified, not false"
        else:
            entry["false_positives"] = total.unmatched
        if kind == "optical" and per_image and total.n_true:
            entry["chance_recall"] = round(chance / total.n_true, 4)
            entry["recall_above_chance"] = round(total.recall - chance / total.n_true, 4)
            entry["chance"] = (
                f"the same boxes, centres moved to random pixels of their own zone (shore = "
                f"within {SHORE_PX} px of the NDWI waterline, open water, land), mean of "
                f"{REPEATS} draws; edgeinfer/eval/chance.py"
            )
        results[info.name] = entry
    if not results:
        raise SceneError(f"no ship model fits the {kind} images in {data_dir}")
    for entry in results.values():  # an item one model could not read, none could
        entry["skipped_items"] = [s.summary() for s in skipped.values()]
        if entry["bar"]["met"] is None and skipped:
            entry["note"] = "no item scored: each was trained on or is in skipped_items"
    _compare_on_held_out(results, registry)
    return results


def _compare_on_held_out(results: dict[str, dict[str, Any]], registry: ModelRegistry) -> None:
    """For each learned model scored here, every model's scores on the items that learned
    model was not trained on (``on_items_not_trained_by``): the like-for-like comparison
    that decides whether a learned model may become the default."""
    for learned in sorted(results):
        trained = trained_items(registry.get_model(learned))
        if not trained:
            continue
        for entry in results.values():
            total = MatchResult(0, 0, 0)
            for p in entry["per_image"]:
                if p["item"] not in trained:
                    total = total + MatchResult(p["n_true"], p["n_pred"], p["tp"])
            entry.setdefault("on_items_not_trained_by", {})[learned] = total.summary()


def print_ship(results: dict[str, dict[str, Any]]) -> None:
    """One table row per model; an undefined score (None: nothing to divide by) is "-"."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ship models (bars: SAR f1 >= 0.85; optical recall >= 0.80)")
    columns = ("model", "dataset", "precision", "recall", "chance", "f1", "n_true", "n_pred")
    for column in (*columns, "bar"):
        table.add_column(column)
    for name, s in sorted(results.items()):
        bar = s["bar"]
        na = "n/a: no item scored" if s.get("skipped_items") else "n/a: all items trained on"
        if s["images"]:
            na = "n/a: no ship labelled" if s["n_true"] == 0 else "n/a: undefined"
        table.add_row(
            name,
            s["dataset"],
            _score(s["precision"]),
            _score(s["recall"]),
            _score(s.get("chance_recall")),
            _score(s["f1"]),
            str(s["n_true"]),
            str(s["n_pred"]),
            {None: na, True: "met", False: "not met"}[bar["met"]],
        )
    Console(width=140).print(table)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def register(eval_app: typer.Typer) -> None:
    """Add ``ship`` to the ``edgeinfer eval`` sub-app."""
    import typer

    from edgeinfer.eval.scenes import save_results

    @eval_app.command("ship")
    def ship_cmd(
        data: Path = typer.Option(..., "--data", help="Folder with images/ and masks/."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the results here."),
        record: bool = typer.Option(
            False, "--record", help="Store scores in models/scores and refresh the cards."
        ),
        pixel_size_m: float | None = typer.Option(
            None, "--pixel-size-m", help="Pixel size of chips without georeference (m)."
        ),
        model: list[str] = typer.Option(None, "--model", help="Model name(s) to score."),
        models_dir: Path | None = typer.Option(None, "--models-dir", help="Models folder."),
        provider: str = typer.Option("cpu", "--provider", help="onnxruntime provider."),
    ) -> None:
        """Object precision, recall and F1 of the ship models on images with ship masks."""
        results = evaluate_ship(data, models_dir, provider, pixel_size_m, model or None)
        print_ship(results)
        save_results(results, json_out, record, models_dir, f"eval_ship_{Path(data).name}")
