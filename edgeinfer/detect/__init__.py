"""Detectors: model registry and metadata, onnxruntime sessions, batching, objects -> alerts.

The only package that imports onnxruntime (lazily, in :mod:`edgeinfer.detect.runtime`), so
importing this package works without it; running a model needs ``edgeinfer[cpu]`` or
``edgeinfer[gpu]``.
"""

from __future__ import annotations

import logging

from edgeinfer.detect.alerts import Alert, objects_from_output, to_geojson, write_geojson
from edgeinfer.detect.metadata import DETECTORS, ModelInfo, load_model_info
from edgeinfer.detect.pipeline import DetectionResult, detect_scene
from edgeinfer.detect.records import RECORD_SIZE, AlertRecord
from edgeinfer.detect.registry import ModelRegistry, default_models_dir, get_model, list_models
from edgeinfer.detect.runtime import PROVIDERS, Detector, DetectorOutput, RuntimeOptions

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DETECTORS",
    "PROVIDERS",
    "RECORD_SIZE",
    "Alert",
    "AlertRecord",
    "DetectionResult",
    "Detector",
    "DetectorOutput",
    "ModelInfo",
    "ModelRegistry",
    "RuntimeOptions",
    "default_models_dir",
    "detect_scene",
    "get_model",
    "list_models",
    "load_model_info",
    "objects_from_output",
    "to_geojson",
    "write_geojson",
]
