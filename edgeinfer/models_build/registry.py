"""Registry of model builders and the deterministic writer behind ``edgeinfer models build``.

A builder is a zero-argument function returning an ``onnx.ModelProto`` whose ``metadata_props``
follow the contract in docs/design.md. Each detector module lists its builders in a
``BUILDERS`` dict; this registry gathers them. Writing is byte-identical on a rerun: no
timestamps, no random initialisers, sorted metadata, fixed producer fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import onnx

Builder = Callable[[], onnx.ModelProto]

PRODUCER = "edgeinfer.models_build"


def builders() -> dict[str, Builder]:
    """All model builders by model name (each detector module contributes its own)."""
    found: dict[str, Builder] = {}
    # Each module exposes BUILDERS: dict[str, Builder]. Import lazily: onnx graph code only.
    import importlib

    for module in _MODULES:
        mod = importlib.import_module(f"edgeinfer.models_build.{module}")
        found.update(mod.BUILDERS)
    return dict(sorted(found.items()))


@functools.cache
def accepted_units() -> dict[str, tuple[str, ...]]:
    """Units each model takes besides its ``edgeinfer.units``, by model name: a detector module
    may declare ``ACCEPTED_UNITS: dict[str, tuple[str, ...]]`` beside ``BUILDERS`` for models
    whose graph is invariant to the unit (a gain, amplitude vs intensity). The runtime's unit
    check reads it for models these builders made (their ``edgeinfer.builder``)."""
    import importlib

    found: dict[str, tuple[str, ...]] = {}
    for module in _MODULES:
        mod = importlib.import_module(f"edgeinfer.models_build.{module}")
        found.update(getattr(mod, "ACCEPTED_UNITS", {}))
    return found


# Detector modules that contribute builders.
_MODULES: tuple[str, ...] = (
    "fire",
    "cloud",
    "ship_sar",
    "ship_optical",
    "ship_cnn",
    "ship_optical_cnn",
    "ship_optical_union",
)


def finalize(model: onnx.ModelProto, metadata: dict[str, object]) -> onnx.ModelProto:
    """Stamp metadata (sorted, JSON for structured values), producer fields and the lowest IR
    version onnxruntime accepts for the opset (onnx >= 1.23 writes IR 14, which onnxruntime
    1.31 refuses; ../shared/ENVIRONMENT.md), then check the model."""
    del model.metadata_props[:]
    for key in sorted(metadata):
        value = metadata[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        entry = model.metadata_props.add()
        entry.key = key if key.startswith("edgeinfer.") else f"edgeinfer.{key}"
        entry.value = text
    model.producer_name = PRODUCER
    model.producer_version = "1"
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model, full_check=True)
    return model


def build_all(
    out_dir: Path,
    names: list[str] | None = None,
    sign: bool = True,
    signing_key: Path | None = None,
) -> list[Path]:
    """Build models into ``out_dir`` (all, or ``names``); returns the paths written.

    With ``sign`` (the default) each model is signed as it is written (``NAME.onnx.sig``,
    :mod:`edgeinfer.detect.signing`) with ``signing_key``, by default the repository's
    DEVELOPMENT key; Ed25519 is deterministic, so the ``.sig`` bytes are reproducible too.
    """
    from edgeinfer.detect.signing import dev_private_key_path, load_private_key, sign_model
    from edgeinfer.errors import unknown_name
    from edgeinfer.models_build.cards import load_scores, render_card

    key = load_private_key(signing_key or dev_private_key_path()) if sign else None

    table = builders()
    wanted = names or list(table)
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        if name not in table:
            raise unknown_name("model", name, list(table))
        model = table[name]()
        path = out_dir / f"{name}.onnx"
        path.write_bytes(model.SerializeToString(deterministic=True))
        if key is not None:
            sign_model(path, key)
        metadata = {p.key: p.value for p in model.metadata_props}
        card = render_card(name, metadata, load_scores(out_dir, name))
        (out_dir / f"{name}.md").write_text(card)
        written.append(path)
    return written
