"""The front door of edgeinfer: what notebooks and the CLI use.

    from edgeinfer.api import open_scene, detect_scene, write_geojson

    with open_scene("LC08_..._B1.TIF ...", product="landsat") as scene:
        result = detect_scene(scene, ["cloud", "fire"])
    write_geojson("alerts.geojson", result.alerts)

Everything here is re-exported from the package that owns it (scene/, detect/, orbit/,
budget/, link/); import deeper only for what this page does not offer.
"""

from __future__ import annotations

from edgeinfer.budget import (
    AcceleratorProfile,
    OnboardStorage,
    PowerBudget,
    PowerConfig,
    ThermalBudget,
    ThermalConfig,
    get_accelerator,
    load_accelerators,
)
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
from edgeinfer.detect.signing import load_trusted_keys, sign_model, verify_model
from edgeinfer.detect.uplink import ModelUpdate, accept_update
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
from edgeinfer.mission import MissionConfig, MissionResult, load_mission, run_mission
from edgeinfer.orbit import (
    Constellation,
    Contact,
    Eclipse,
    GroundStation,
    TimeGrid,
    builtin_stations,
    find_contacts,
    find_eclipses,
    imaging_opportunities,
    read_tle_file,
    station_from_spec,
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
    "AcceleratorProfile",
    "Alert",
    "AlertRecord",
    "Band",
    "BandError",
    "ConfigError",
    "Constellation",
    "Contact",
    "DetectionResult",
    "Detector",
    "Eclipse",
    "EdgeInferError",
    "GeoreferenceError",
    "GroundStation",
    "LinkError",
    "MissionConfig",
    "MissionResult",
    "ModelError",
    "ModelInfo",
    "ModelRegistry",
    "ModelUpdate",
    "OnboardStorage",
    "OrbitError",
    "PowerBudget",
    "PowerConfig",
    "RuntimeOptions",
    "Scene",
    "SceneError",
    "ThermalBudget",
    "ThermalConfig",
    "Tile",
    "TimeGrid",
    "UnknownNameError",
    "accept_update",
    "builtin_stations",
    "compressed_size_bytes",
    "detect_scene",
    "find_contacts",
    "find_eclipses",
    "get_accelerator",
    "get_model",
    "imaging_opportunities",
    "iter_tiles",
    "list_models",
    "load_accelerators",
    "load_mission",
    "load_trusted_keys",
    "open_scene",
    "read_tle_file",
    "run_mission",
    "sign_model",
    "station_from_spec",
    "tile_windows",
    "to_geojson",
    "verify_model",
    "write_geojson",
]
