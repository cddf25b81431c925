"""Model updates uplinked mid-mission: accepted only with a valid signature by a trusted key.

A satellite that receives a :class:`ModelUpdate` calls :func:`accept_update`. An update is
accepted when its Ed25519 signature over ``onnx_bytes`` verifies against one of the
satellite's configured public keys, the bytes are a readable ONNX model that follows the
model contract (docs/design.md), and the model calls itself ``name``. Otherwise the update is
refused, the reason is logged as a warning, and nothing changes: the satellite keeps running
its previous model.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edgeinfer.detect.metadata import ModelInfo, check_graph, parse_metadata
from edgeinfer.detect.signing import signature_path, verify_bytes
from edgeinfer.errors import ModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelUpdate:
    """One uplinked model: its name (``edgeinfer.name``), file bytes and detached signature."""

    name: str
    onnx_bytes: bytes
    signature: bytes

    @classmethod
    def from_files(cls, model_path: str | Path, name: str | None = None) -> ModelUpdate:
        """An update made of a model file and its ``.sig`` (what the ground would uplink)."""
        path = Path(model_path)
        sig = signature_path(path)
        try:
            return cls(name or path.stem, path.read_bytes(), sig.read_bytes())
        except OSError as exc:
            raise ModelError(f"cannot read update {path} or {sig.name} ({exc})") from exc


def model_info_from_bytes(data: bytes, label: str, path: Path | None = None) -> ModelInfo:
    """Parse and check model bytes against the contract (as :func:`load_model_info` does for a
    file); ``path`` is recorded in the :class:`ModelInfo` (default: ``label``)."""
    import onnx

    where = path if path is not None else Path(label)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelError(f"{label} is not a readable ONNX model ({exc})") from exc
    props = {p.key: p.value for p in model.metadata_props}
    info = parse_metadata(props, path=where, sha256=hashlib.sha256(data).hexdigest())
    check_graph(model, info)
    return info


def verify_update(update: ModelUpdate, trusted_keys: Sequence[Ed25519PublicKey]) -> ModelInfo:
    """The update's :class:`ModelInfo` if it is acceptable, else :class:`ModelError` saying
    why (bad or missing signature, unreadable model, contract broken, name mismatch)."""
    label = f"model update {update.name!r}"
    if not update.signature:
        raise ModelError(f"{label} carries no signature; uplink NAME.onnx with NAME.onnx.sig")
    verify_bytes(update.onnx_bytes, update.signature, trusted_keys, label=label)
    info = model_info_from_bytes(update.onnx_bytes, label)
    if info.name != update.name:
        raise ModelError(
            f"{label} contains model {info.name!r}; uplink it under its own name {info.name!r}"
        )
    return info


def accept_update(
    update: ModelUpdate,
    trusted_keys: Sequence[Ed25519PublicKey],
    install_dir: str | Path | None = None,
) -> bool:
    """True when ``update`` is acceptable (see the module docstring); False otherwise, with
    the reason logged, and then nothing is written: the previous model stays in use.

    With ``install_dir``, an accepted update is written there as ``NAME.onnx`` and
    ``NAME.onnx.sig`` (each under a temporary name, then renamed), so a restarted satellite
    loads it again through the signature check. A crash between the two renames leaves a
    pair that fails verification: it is then refused at load, never silently used.
    """
    try:
        info = verify_update(update, trusted_keys)
    except ModelError as exc:
        logger.warning("refused %s; keeping the previous model", exc)
        return False
    if install_dir is not None:
        folder = Path(install_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{update.name}.onnx"
        for path, data in ((target, update.onnx_bytes), (signature_path(target), update.signature)):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
    logger.info(
        "accepted model update %s@%s (sha256 %s)", info.name, info.version, info.sha256[:16]
    )
    return True
