"""Model updates uplinked to a satellite mid-mission, accepted only when signed by a trusted
key (issue 6): the satellite otherwise keeps its previous model and logs why.

The signature check and the model contract are :mod:`edgeinfer.detect.uplink`'s
(:func:`~edgeinfer.detect.uplink.verify_update`); this module adds what a satellite of a
mission needs: the update must replace a model of the same name WITHOUT changing what it
reads (detector, bands, product), an accepted update is loaded from the verified bytes (never
from a file again), and the decisions are kept so a restored satellite re-applies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from edgeinfer.detect import Detector, ModelInfo, RuntimeOptions
from edgeinfer.detect.signing import load_trusted_keys
from edgeinfer.detect.uplink import ModelUpdate, verify_update
from edgeinfer.errors import ModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UplinkedModel:
    """One scheduled model update as the ground sends it: the model's name (its file stem),
    the file bytes and the detached signature (empty when the ground has none)."""

    index: int
    name: str
    onnx_bytes: bytes
    signature: bytes
    source: str = ""


class Batching(Protocol):
    """Where the tiles per batch come from (the satellite's :class:`InferenceEngine`, whose
    batch is settled by its first session)."""

    @property
    def batch_size(self) -> int: ...


class ModelSlots:
    """The models a satellite replaced by accepted updates, by model name; they run at the
    batch ``batching`` has when they are installed."""

    def __init__(
        self, options: RuntimeOptions, batching: Batching, trusted_keys: tuple[str, ...] = ()
    ) -> None:
        self.options = options
        self.batching = batching
        self.trusted_keys = trusted_keys
        self.active: dict[str, Detector] = {}
        self.log: list[dict[str, Any]] = []

    def receive(
        self, update: UplinkedModel, current: ModelInfo | None, t_s: float, who: str
    ) -> bool:
        """Check ``update`` against the trusted keys and against ``current`` (the model it
        replaces, if the satellite has one); install it or keep the previous model."""
        try:
            keys = load_trusted_keys(self.trusted_keys)
            info = verify_update(
                ModelUpdate(update.name, update.onnx_bytes, update.signature), keys
            )
            if current is not None:
                _same_inputs(info, current)
            detector = Detector(
                info, self.options, self.batching.batch_size, model_bytes=update.onnx_bytes
            )
        except ModelError as exc:
            logger.warning("%s at t=%.0f s: refused %s; keeping the previous model", who, t_s, exc)
            self.log.append(
                {"update": update.index, "t_s": t_s, "accepted": False, "reason": str(exc)}
            )
            return False
        self.active[info.name] = detector
        self.log.append({"update": update.index, "t_s": t_s, "accepted": True, "reason": ""})
        logger.info(
            "%s at t=%.0f s: accepted model update %s@%s (sha256 %s)",
            who,
            t_s,
            info.name,
            info.version,
            info.sha256[:16],
        )
        return True

    def pick(self, runner: Detector) -> tuple[Detector, bool]:
        """The detector to run for ``runner``'s model, and whether it is an update."""
        found = self.active.get(runner.info.name)
        return (found, True) if found is not None else (runner, False)

    def snapshot(self) -> dict[str, Any]:
        """The decisions so far: ``{"log": [{update, t_s, accepted, reason}, ...]}``."""
        return {"log": [dict(r) for r in self.log]}

    def restore(self, state: dict[str, Any], updates: dict[int, UplinkedModel]) -> None:
        """Re-install the accepted updates in order (from their verified bytes) and the log."""
        self.active.clear()
        self.log = [dict(r) for r in state["log"]]
        accepted = [r["update"] for r in self.log if r["accepted"]]
        keys = load_trusted_keys(self.trusted_keys) if accepted else ()
        for index in accepted:
            u = updates[index]
            info = verify_update(ModelUpdate(u.name, u.onnx_bytes, u.signature), keys)
            self.active[info.name] = Detector(
                info, self.options, self.batching.batch_size, model_bytes=u.onnx_bytes
            )


def _same_inputs(new: ModelInfo, old: ModelInfo) -> None:
    """Refuse an update that reads different bands or another product than the model it
    replaces (the satellite's scenes and budgets were planned for those)."""
    for key in ("detector", "bands", "product"):
        a, b = getattr(new, key), getattr(old, key)
        if a != b:
            raise ModelError(
                f"model update {new.name!r} changes its {key} from {b!r} to {a!r}; uplink a "
                f"model with the same {key} or a new model name"
            )
