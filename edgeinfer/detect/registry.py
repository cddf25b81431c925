"""Find detector models (``*.onnx`` with edgeinfer metadata) and pick one for a scene.

The models directory is, in order: the ``models_dir`` argument, the ``EDGEINFER_MODELS``
environment variable, or ``models/`` at the repository root beside the ``edgeinfer`` package
(where ``edgeinfer models build`` writes them). A directory that does not exist is an error.

One unreadable or malformed ``.onnx`` file does not hide the others: it is logged as a
warning naming the file and the fix, left out of :meth:`ModelRegistry.list_models` and kept
in :meth:`ModelRegistry.broken`; asking for it by name (:meth:`ModelRegistry.get_model`)
raises its :class:`ModelError`. Signatures are not checked here (the runtime checks them
when it loads a model, docs/reliability.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from edgeinfer.detect.metadata import DETECTORS, REBUILD_HINT, ModelInfo, load_model_info
from edgeinfer.errors import ModelError, UnknownNameError, unknown_name
from edgeinfer.scene.bands import SAR_UNITS
from edgeinfer.scene.types import Scene

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
        self._broken: dict[Path, ModelError] = {}

    def _load(self) -> dict[str, ModelInfo]:
        if self._models is None:
            if not self.models_dir.is_dir():
                what = "is not a folder" if self.models_dir.exists() else "does not exist"
                raise ModelError(
                    f"models folder {self.models_dir} {what}; point --models-dir or "
                    f"{MODELS_ENV} at the folder of .onnx models, or {REBUILD_HINT}"
                )
            found: dict[str, ModelInfo] = {}
            broken: dict[Path, ModelError] = {}
            for path in sorted(self.models_dir.glob("*.onnx")):
                try:
                    info = load_model_info(path)
                except ModelError as exc:  # one bad file must not hide the good ones
                    broken[path] = exc
                    logger.warning("skipped model file %s: %s", path.name, exc)
                    continue
                if info.name in found:
                    raise ModelError(
                        f"models {found[info.name].path} and {path} both call themselves "
                        f"{info.name!r}; remove one from {self.models_dir}"
                    )
                if info.name != path.stem:
                    logger.warning("model file %s declares name %r", path, info.name)
                found[info.name] = info
            logger.debug("found %d models in %s", len(found), self.models_dir)
            self._models, self._broken = found, broken
        return self._models

    def broken(self) -> dict[Path, ModelError]:
        """Model files of the folder that could not be read or break the model contract,
        each with its error (which names the file and the fix), sorted by path."""
        self._load()
        return dict(self._broken)

    def check_not_broken(self, name: str) -> None:
        """Raise the :class:`ModelError` of the broken file ``NAME.onnx``, if there is one."""
        self._load()
        for path, exc in self._broken.items():
            if path.stem == name:
                raise ModelError(f"model {name} cannot be used: {exc}") from exc

    def check_not_empty(self) -> None:
        """Raise :class:`ModelError` when the folder has no usable model (a folder that
        does not exist raises too)."""
        if not self._load():
            raise ModelError(f"no models in {self.models_dir}{self._broken_note()}; {REBUILD_HINT}")

    def _broken_note(self) -> str:
        """`` (skipped broken model files a.onnx, b.onnx)``, or nothing when none is broken."""
        if not self._broken:
            return ""
        return f" (skipped broken model files {', '.join(p.name for p in self._broken)})"

    def list_models(self) -> list[ModelInfo]:
        """All models, sorted by detector then name."""
        return sorted(self._load().values(), key=lambda m: (m.detector, m.name))

    def get_model(self, name: str) -> ModelInfo:
        """The model called ``name``; unknown -> :class:`UnknownNameError` listing the names,
        a broken ``NAME.onnx`` -> its :class:`ModelError`."""
        models = self._load()
        if name not in models:
            self.check_not_broken(name)
            self.check_not_empty()
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
            raise ModelError(
                f"no {detector} model in {self.models_dir}{self._broken_note()}; {REBUILD_HINT}"
            )
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
                gap = "all" if len(missing) == len(m.bands) else ",".join(missing)
                why.append(f"needs bands {','.join(m.bands)} (missing {gap})")
            reasons.append(f"{m.name} {' and '.join(why)}")
        have = ",".join(bands) or "(none)"
        raise ModelError(
            f"no {detector} model fits the scene (product {product}, bands {have}): "
            f"{'; '.join(reasons)}; {_fix_hint(detector, candidates, bands, product)}"
            f"{self._broken_note()}"
        )

    def unfit_summary(self, detectors: Sequence[str], bands: Sequence[str], product: str) -> str:
        """One short line for a scene that no model of ``detectors`` fits: the scene's
        product and bands, what each detector's models are for (models for the same product
        and bands together) and the fix (:meth:`select` explains one detector at length)."""
        parts: list[str] = []
        examples: list[ModelInfo] = []
        first: str | None = None  # the first detector with models here
        for detector in detectors:
            candidates = [m for m in self.list_models() if m.detector == detector]
            if not candidates:
                parts.append(f"{detector}: none in {self.models_dir}")
                continue
            first = first or detector
            groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
            for m in candidates:
                groups.setdefault((m.product, tuple(m.bands)), []).append(m.name)
            needs = [
                f"{', '.join(n)} ({'any product' if p == 'any' else p}; {','.join(b)})"
                for (p, b), n in groups.items()
            ]
            parts.append(f"{detector}: {', '.join(needs)}")
            example = _bands_example(candidates, bands, product)
            if example is not None:
                examples.append(example)
        if examples:
            hint = _bands_hint(examples[0])
        elif first is not None:
            hint = (
                f"no {first} model takes a {product} scene; if the file is of another product, "
                "choose it with --product and name its bands with --bands"
            )
        else:
            hint = REBUILD_HINT
        return (
            f"(product {product}, bands {','.join(bands) or '(none)'}); the models are "
            f"{'; '.join(parts)}; {hint}{self._broken_note()}"
        )

    def check_names(self, names: Sequence[str]) -> None:
        """Raise :class:`UnknownNameError` (listing the models) for a name not here, the
        file's :class:`ModelError` for a broken one."""
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


def choose_models(
    registry: ModelRegistry,
    wanted: list[str],
    scene: Scene,
    skip_unfit: bool,
    prefer: tuple[str, ...] = (),
) -> tuple[dict[str, ModelInfo], dict[str, str]]:
    """The model of each wanted detector. A models folder that is missing or has no usable
    model is an error whatever ``skip_unfit`` says (broken files are skipped by the registry
    with a warning); with ``skip_unfit`` a detector that has no fitting model is skipped, and
    an error lists every reason when none is left."""
    registry.check_not_empty()
    models: dict[str, ModelInfo] = {}
    skipped: dict[str, str] = {}
    for detector in wanted:
        try:
            models[detector] = registry.select(detector, scene.band_names, scene.product, prefer)
        except UnknownNameError:
            raise
        except ModelError as exc:
            if not skip_unfit:
                raise
            skipped[detector] = str(exc)
            logger.info("skipping detector %s: %s", detector, exc)
    if not models:
        why = registry.unfit_summary(wanted, scene.band_names, scene.product)
        raise ModelError(f"no detector has a model that fits scene {scene.scene_id} {why}")
    # cloud first: it decides which tiles the others see
    order = sorted(models, key=lambda d: d != "cloud")
    return {d: models[d] for d in order}, skipped


_MODALITY = {"sar": "sar", "landsat": "optical", "sentinel2": "optical"}


def _modality(m: ModelInfo) -> str:
    """``sar`` or ``optical``: from the model's product, else (product ``any``) its units."""
    return _MODALITY.get(m.product) or ("sar" if set(m.units) <= set(SAR_UNITS) else "optical")


def _bands_example(
    candidates: Sequence[ModelInfo], bands: Sequence[str], product: str
) -> ModelInfo | None:
    """The model whose bands make the ``--bands`` example for a scene no candidate fits: one of
    the scene's own product (else a product-agnostic one of its modality: SAR or optical),
    closest to the scene's band count; None when no candidate takes such a scene."""
    scene_modality = _MODALITY.get(product)  # None: a plain geotiff, any modality
    usable = [
        m
        for m in candidates
        if m.product == product or (m.product == "any" and scene_modality in (None, _modality(m)))
    ]
    n = len(bands)
    return min(
        usable,
        key=lambda m: (m.product != product, len(m.bands) != n, len(m.bands) > n, m.name),
        default=None,
    )


def _bands_hint(example: ModelInfo) -> str:
    return (
        f"name the bands with --bands (e.g. --bands {','.join(example.bands)}) or choose "
        "the product with --product"
    )


def _fix_hint(
    detector: str, candidates: Sequence[ModelInfo], bands: Sequence[str], product: str
) -> str:
    """What to do when no ``detector`` model fits: a ``--bands`` example
    (:func:`_bands_example`); or, when no model takes such a scene, which products the models
    are for."""
    example = _bands_example(candidates, bands, product)
    if example is not None:
        return _bands_hint(example)
    products = sorted({m.product for m in candidates if m.product != "any"})
    scopes = [
        *products,
        *sorted({f"{_modality(m)} bands of any product" for m in candidates if m.product == "any"}),
    ]
    return (
        f"no {detector} model takes a {product} scene (they are for {', '.join(scopes)}: if "
        "the file is one of those, choose its product with --product and name its bands "
        "with --bands)"
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
