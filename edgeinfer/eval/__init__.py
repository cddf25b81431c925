"""Scoring detectors on labelled and physics-based truth (``edgeinfer eval ...``).

Each module scores one detector family and contributes its command to the ``eval`` sub-app
through a ``register(eval_app)`` function: :mod:`edgeinfer.eval.fire` (injected sub-pixel
fires), :mod:`edgeinfer.eval.cloud` (labelled cloud masks). :mod:`edgeinfer.eval.scenes`
holds what they share: the data folder, in-memory scenes, running one model over a scene
through the runtime, and recording scores beside the model.
"""

from __future__ import annotations

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
