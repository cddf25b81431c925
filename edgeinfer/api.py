"""The front door of edgeinfer: what notebooks and the CLI use.

    from edgeinfer.api import open_scene, detect_scene, write_geojson

    with open_scene("LC08_..._B1.TIF ...", product="landsat") as scene:
        result = detect_scene(scene, ["cloud", "fire"])
    write_geojson("alerts.geojson", result.alerts)

Everything here is re-exported from the package that owns it (scene/, detect/, orbit/,
budget/, link/); import deeper only for what this page does not offer.
"""

from __future__ import annotations

from edgeinfer.detect import (
    DETECTORS,
    PROVIDERS,
    RECORD_SIZE,
    Alert,
    AlertRecord,
    DetectionResult,
    Detector,
    ModelInfo,
    ModelRegistry,
    RuntimeOptions,
    detect_scene,
    get_model,
    list_models,
    to_geojson,
    write_geojson,
)
from edgeinfer.errors import (
    BandError,
    ConfigError,
    EdgeInferError,
    GeoreferenceError,
    LinkError,
    ModelError,
    OrbitError,
    SceneError,
    UnknownNameError,
)
from edgeinfer.scene import (
    Band,
    Scene,
    Tile,
    compressed_size_bytes,
    iter_tiles,
    open_scene,
    tile_windows,
)

__all__ = [
    "DETECTORS",
    "PROVIDERS",
    "RECORD_SIZE",
    "Alert",
    "AlertRecord",
    "Band",
    "BandError",
    "ConfigError",
    "DetectionResult",
    "Detector",
    "EdgeInferError",
    "GeoreferenceError",
    "LinkError",
    "ModelError",
    "ModelInfo",
    "ModelRegistry",
    "OrbitError",
    "RuntimeOptions",
    "Scene",
    "SceneError",
    "Tile",
    "UnknownNameError",
    "compressed_size_bytes",
    "detect_scene",
    "get_model",
    "iter_tiles",
    "list_models",
    "open_scene",
    "tile_windows",
    "to_geojson",
    "write_geojson",
]
