"""Find detector models (``*.onnx`` with edgeinfer metadata) and pick one for a scene.

The models directory is, in order: the ``models_dir`` argument, the ``EDGEINFER_MODELS``
environment variable, or ``models/`` at the repository root beside the ``edgeinfer`` package
(where ``edgeinfer models build`` writes them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from edgeinfer.detect.metadata import DETECTORS, REBUILD_HINT, ModelInfo, load_model_info
from edgeinfer.errors import ModelError, unknown_name

logger = logging.getLogger(__name__)

MODELS_ENV = "EDGEINFER_MODELS"


def default_models_dir() -> Path:
    """``$EDGEINFER_MODELS`` if set, else ``<repo>/models`` next to the ``edgeinfer`` package."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "models"


def _version_key(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(p) for p in core.split("."))


class ModelRegistry:
    """The models in one directory, read once (metadata only; no sessions are created)."""

    def __init__(self, models_dir: Path | str | None = None) -> None:
        self.models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
        self._models: dict[str, ModelInfo] | None = None

    def _load(self) -> dict[str, ModelInfo]:
        if self._models is None:
            found: dict[str, ModelInfo] = {}
            files = sorted(self.models_dir.glob("*.onnx")) if self.models_dir.is_dir() else []
            for path in files:
                info = load_model_info(path)
                if info.name in found:
                    raise ModelError(
                        f"models {found[info.name].path} and {path} both call themselves "
                        f"{info.name!r}; remove one from {self.models_dir}"
                    )
                if info.name != path.stem:
                    logger.warning("model file %s declares name %r", path, info.name)
                found[info.name] = info
            logger.debug("found %d models in %s", len(found), self.models_dir)
            self._models = found
        return self._models

    def list_models(self) -> list[ModelInfo]:
        """All models, sorted by detector then name."""
        return sorted(self._load().values(), key=lambda m: (m.detector, m.name))

    def get_model(self, name: str) -> ModelInfo:
        """The model called ``name``; unknown -> :class:`UnknownNameError` listing the names."""
        models = self._load()
        if name not in models:
            if not models:
                raise ModelError(f"no models in {self.models_dir}; {REBUILD_HINT}")
            raise unknown_name("model", name, list(models))
        return models[name]

    def detectors(self) -> list[str]:
        """Detectors with at least one model here."""
        return sorted({m.detector for m in self._load().values()})

    def select(
        self, detector: str, bands: Sequence[str], product: str, prefer: Sequence[str] = ()
    ) -> ModelInfo:
        """The model for ``detector`` that fits a scene with ``bands`` of ``product``.

        A model fits when its product is the scene's or ``any`` and all its bands are in the
        scene. Among fitting models one named in ``prefer`` wins (the first named), then an
        exact product beats ``any``, then the higher version, then the name; so ``prefer``
        picks a non-default model where it fits and leaves other scenes to the default.
        Unknown detector -> :class:`UnknownNameError` listing the known ones; no fitting
        model -> :class:`ModelError` naming the missing bands and the fix.
        """
        known = sorted(set(DETECTORS) | set(self.detectors()))
        if detector not in known:
            raise unknown_name("detector", detector, known)
        candidates = [m for m in self.list_models() if m.detector == detector]
        if not candidates:
            raise ModelError(f"no {detector} model in {self.models_dir}; {REBUILD_HINT}")
        fitting = [m for m in candidates if m.fits_product(product) and not m.missing_bands(bands)]
        chosen = [m for name in prefer for m in fitting if m.name == name]
        if chosen:
            return chosen[0]
        if fitting:
            return max(
                fitting,
                key=lambda m: (m.product == product, _version_key(m.version), m.name),
            )
        reasons = []
        for m in candidates:
            why = []
            if not m.fits_product(product):
                why.append(f"is for product {m.product}")
            missing = m.missing_bands(bands)
            if missing:
                why.append("needs bands " + ",".join(missing))
            reasons.append(f"{m.name} {' and '.join(why)}")
        have = ",".join(bands) or "(none)"
        raise ModelError(
            f"no {detector} model fits the scene (product {product}, bands {have}): "
            f"{'; '.join(reasons)}; name the bands with --bands (e.g. --bands "
            f"{','.join(candidates[0].bands)}) or choose the product with --product"
        )

    def check_names(self, names: Sequence[str]) -> None:
        """Raise :class:`UnknownNameError` (listing the models) for a name not here."""
        for name in names:
            self.get_model(name)

    def fitting_detectors(self, bands: Sequence[str], product: str) -> list[str]:
        """Detectors with a model that fits a scene with ``bands`` of ``product``."""
        return sorted(
            {
                m.detector
                for m in self.list_models()
                if m.fits_product(product) and not m.missing_bands(bands)
            }
        )


def list_models(models_dir: Path | str | None = None) -> list[ModelInfo]:
    """All models in ``models_dir`` (default: :func:`default_models_dir`)."""
    return ModelRegistry(models_dir).list_models()


def get_model(name: str, models_dir: Path | str | None = None) -> ModelInfo:
    """The model called ``name`` in ``models_dir``."""
    return ModelRegistry(models_dir).get_model(name)


def select(
    detector: str,
    bands: Sequence[str],
    product: str,
    models_dir: Path | str | None = None,
    prefer: Sequence[str] = (),
) -> ModelInfo:
    """The model for ``detector`` fitting a scene's ``bands`` and ``product`` (``prefer``:
    model names chosen first where they fit)."""
    return ModelRegistry(models_dir).select(detector, bands, product, prefer)
