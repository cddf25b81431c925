"""The driver's view of a mission's scenes: where each lies on Earth, what it weighs raw and
compressed (computed once per scene), and its truth objects when it has a truth file.

Truth files are the GeoJSON the sample generator writes (``<scene>.truth.geojson`` beside the
scene, or ``truth = "PATH"`` in the mission): features with ``kind`` (``fire`` | ``ship`` |
``cloud``), ``id`` and ``bbox_px`` = [col_min, row_min, col_max, row_max] (max exclusive).
Only fires and ships are events a satellite should report.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from edgeinfer.detect import ModelRegistry
from edgeinfer.errors import ConfigError, EdgeInferError, GeoreferenceError, SceneError
from edgeinfer.mission.config import SAR_PRODUCTS, MissionConfig
from edgeinfer.mission.loading import sample_mission_path
from edgeinfer.mission.plan import SceneSite
from edgeinfer.node.settings import SceneRef
from edgeinfer.scene import RasterScene, compressed_size_bytes, open_scene

logger = logging.getLogger(__name__)

TRUTH_KINDS = ("fire", "ship")

T = TypeVar("T")


@dataclass(frozen=True)
class TruthObject:
    """One true event: scene key, id from the truth file, kind, pixel box (max exclusive)."""

    scene: str
    object_id: int | str
    kind: str
    bbox_px: tuple[int, int, int, int]

    @property
    def centre_px(self) -> tuple[float, float]:
        c0, r0, c1, r1 = self.bbox_px
        return ((c0 + c1) / 2.0, (r0 + r1) / 2.0)


@dataclass
class MissionScene:
    """A scene opened on the driver (kept open to map alert pixels to lon/lat)."""

    ref: SceneRef
    scene: RasterScene
    site: SceneSite
    raw_bytes: int
    compressed_bytes: int
    truth: list[TruthObject] = field(default_factory=list)
    truth_path: str | None = None
    detectors: tuple[str, ...] = ()
    no_model: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.ref.key

    def summary(self) -> dict[str, Any]:
        s = self.scene
        return {
            "scene_id": self.key,
            "source": self.ref.source,
            "product": s.product,
            "bands": list(s.band_names),
            "size_px": [s.width, s.height],
            "raw_bytes": self.raw_bytes,
            "compressed_bytes": self.compressed_bytes,
            "footprint_lonlat": [list(p) for p in self.site.footprint_lonlat],
            "daylight_only": self.site.daylight_only,
            "truth_file": self.truth_path,
            "truth_objects": len(self.truth),
            "detectors": list(self.detectors),
            "detectors_without_model": list(self.no_model),
        }


def open_mission_scenes(
    config: MissionConfig, failed: list[dict[str, Any]] | None = None
) -> list[MissionScene]:
    """Open every scene of ``config`` (generating the sample data first when the embedded
    sample mission needs it).

    ``failed``: when given, a scene that cannot be used (missing, corrupt or truncated file,
    wrong bands, no georeference, larger than ``detection.max_scene_pixels``) is appended to
    it as ``{"scene", "path", "error"}`` and the mission goes on with the others (an error
    only when none is left); without it the first such scene raises."""
    return each_scene(config, failed, lambda spec, where, out: _open_one(config, spec, where, out))


def each_scene(
    config: MissionConfig,
    failed: list[dict[str, Any]] | None,
    open_one: Callable[[Any, str, list[T]], T],
) -> list[T]:
    """``open_one(spec, where, opened so far)`` for every scene of ``config``, with
    :func:`open_mission_scenes`' handling of the scenes that cannot be used (``failed``)."""
    if _is_sample(config):
        ensure_sample_data(config)
    out: list[T] = []
    for i, spec in enumerate(config.scenes):
        where = f"scenes[{i}] ({spec.path})"
        try:
            out.append(open_one(spec, where, out))
        except ConfigError:  # the mission file's mistake (duplicate id, truth file): stop
            raise
        except EdgeInferError as exc:
            if failed is None:
                raise type(exc)(f"{where}: {exc}") from None
            _note(failed, spec, f"{where}: {exc}")
    if not out:
        first = failed[0]["error"] if failed else "no scene"
        raise ConfigError(f"no scene of the mission can be used ({first}); fix [[scenes]]")
    return out


def _note(failed: list[dict[str, Any]], spec: Any, error: str) -> None:
    name = spec.scene_id or Path(spec.path).stem
    logger.error("scene %s skipped: %s", name, error)
    failed.append({"scene": name, "path": spec.path, "stage": "open", "error": error})


def _open_one(
    config: MissionConfig, spec: Any, where: str, opened: list[MissionScene]
) -> MissionScene:
    registry = ModelRegistry(config.detection.models_dir)
    wanted = tuple(dict.fromkeys(config.detection.detectors))
    seen = {s.key: s.ref.source for s in opened}
    scene = open_scene(spec.path, product=spec.product, bands=spec.bands, scene_id=spec.scene_id)
    try:
        return _describe(config, spec, where, scene, seen, registry, wanted)
    except BaseException:
        scene.close()
        raise


def _describe(
    config: MissionConfig,
    spec: Any,
    where: str,
    scene: RasterScene,
    seen: dict[str, str],
    registry: ModelRegistry,
    wanted: tuple[str, ...],
) -> MissionScene:
    key = scene.scene_id
    if key in seen:
        raise ConfigError(
            f"{where}: scene id {key!r} is already used by {seen[key]}; set scene_id = "
            "'NAME' on one of them"
        )
    limit = config.detection.max_scene_pixels
    if scene.width * scene.height > limit:
        raise SceneError(
            f"{scene.width} x {scene.height} px is more than "
            f"detection.max_scene_pixels = {limit:,}; crop the product or raise the limit"
        )
    if scene.meta.get("all_invalid"):
        raise SceneError(
            "every pixel is nodata, masked, NaN or inf: nothing to detect; check the file's "
            "nodata value and masks, or remove the scene"
        )
    try:
        footprint = tuple(scene.footprint_lonlat())
    except GeoreferenceError:
        raise GeoreferenceError(
            "the scene has no georeference, so no satellite can be scheduled "
            "over it; use a georeferenced product (a GeoTIFF with a CRS)"
        ) from None
    daylight = spec.daylight_only
    if daylight is None:
        daylight = scene.product not in SAR_PRODUCTS
    truth_path = spec.truth or _default_truth(spec.path)
    truth = load_truth(truth_path, key) if truth_path else []
    fitting = registry.fitting_detectors(scene.band_names, scene.product)
    no_model = tuple(d for d in wanted if d not in fitting)
    if no_model:
        logger.warning(
            "scene %s (%s, bands %s): no model fits detector(s) %s; skipped for this scene",
            key,
            scene.product,
            ",".join(scene.band_names),
            ", ".join(no_model),
        )
    ref = SceneRef(key, spec.path, scene.product, tuple(spec.bands) if spec.bands else None)
    return MissionScene(
        ref=ref,
        scene=scene,
        site=SceneSite(key, footprint, daylight),
        raw_bytes=scene.raw_bytes,
        compressed_bytes=compressed_size_bytes(scene),
        truth=truth,
        truth_path=truth_path,
        detectors=tuple(d for d in wanted if d in fitting),
        no_model=no_model,
    )


def _default_truth(path: str) -> str | None:
    if "://" in path:
        return None
    candidate = Path(path).with_suffix(".truth.geojson")
    return str(candidate) if candidate.is_file() else None


def load_truth(path: str | Path, scene_key: str) -> list[TruthObject]:
    """Fire and ship objects of a truth GeoJSON (other kinds are ignored)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"truth file {p} does not exist; fix scenes[].truth or remove it"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"truth file {p} is not readable GeoJSON: {exc}") from None
    out: list[TruthObject] = []
    for k, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        kind = props.get("kind")
        if kind not in TRUTH_KINDS:
            continue
        box = props.get("bbox_px")
        if not isinstance(box, list) or len(box) != 4:
            raise ConfigError(f"truth file {p}: feature {k} has no bbox_px [c0, r0, c1, r1]")
        c0, r0, c1, r1 = (int(v) for v in box)
        out.append(TruthObject(scene_key, props.get("id", k), str(kind), (c0, r0, c1, r1)))
    return out


def _is_sample(config: MissionConfig) -> bool:
    return config.source is not None and Path(config.source) == sample_mission_path()


def ensure_sample_data(config: MissionConfig) -> None:
    """Run ``sample_data/generate.py`` when a scene of the sample mission is missing."""
    missing = [s.path for s in config.scenes if "://" not in s.path and not Path(s.path).exists()]
    if not missing:
        return
    script = sample_mission_path().parents[1] / "generate.py"
    if not script.is_file():
        raise SceneError(f"sample scene {missing[0]} is missing and {script} is not there")
    logger.info("generating the sample scenes (%s)", script)
    done = subprocess.run(
        [sys.executable, str(script), "--quiet"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SceneError(f"could not generate the sample scenes with {script}: {tail[0]}")
