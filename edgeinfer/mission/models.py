"""The models a mission will load, checked on the driver before anything starts: every model
file of the models folder must be readable and follow the model contract, and, with
``detection.require_signature`` (the default), carry a valid detached signature by a trusted
key. Any problem is ONE line naming the file and the fix, before Ray starts."""

from __future__ import annotations

import logging

from edgeinfer.detect import ModelRegistry
from edgeinfer.detect.signing import load_trusted_keys, verify_model
from edgeinfer.errors import ModelError
from edgeinfer.mission.config import MissionConfig

logger = logging.getLogger(__name__)


def check_models(config: MissionConfig) -> list[str]:
    """Names of the models found; raises :class:`ModelError` for a folder without models, a
    malformed model (via the registry) or, when required, a missing or bad signature, and
    :class:`UnknownNameError` for a ``detection.models`` name that is not in the folder."""
    d = config.detection
    registry = ModelRegistry(d.models_dir)
    models = registry.list_models()  # reads and checks every model file of the folder
    broken = list(registry.broken().values())
    if broken:  # unlike `edgeinfer detect`, a mission flies no folder with a bad file in it
        raise ModelError(str(broken[0])) from broken[0]
    registry.check_not_empty()
    registry.check_names(d.models)  # detection.models: unknown name -> the list of names
    if d.require_signature:
        keys = load_trusted_keys(d.trusted_keys)
        for info in models:
            verify_model(info.path, keys)
        logger.debug("%d model signatures verified", len(models))
    return [m.name for m in models]
