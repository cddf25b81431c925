"""What guards a model's weights (:class:`Mitigations`), what happened to them
(:class:`FaultStats`), and the TMR vote (:func:`majority_vote`); the guard that applies them
is :class:`edgeinfer.faults.guard.FaultedDetector`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.runtime import DetectorOutput
from edgeinfer.errors import ConfigError
from edgeinfer.faults.weights import CHECKSUMS


@dataclass(frozen=True)
class Mitigations:
    """Which weight mitigations run. ``scrub_interval_s`` 0 = check before every inference."""

    scrub: bool = False
    scrub_interval_s: float = 0.0
    checksum: str = "sha256"
    tmr: bool = False
    reload_on_error: bool = False

    def __post_init__(self) -> None:
        if not self.scrub_interval_s >= 0:
            raise ConfigError(f"scrub_interval_s = {self.scrub_interval_s!r}: expected >= 0")
        if self.checksum not in CHECKSUMS:
            raise ConfigError(
                f"checksum = {self.checksum!r}: expected one of {', '.join(CHECKSUMS)}"
            )

    @classmethod
    def coerce(cls, value: Mitigations | Mapping[str, Any] | None) -> Mitigations:
        if value is None:
            return cls()
        if isinstance(value, Mitigations):
            return value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"unknown mitigation {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return cls(**dict(value))

    @property
    def copies(self) -> int:
        return 3 if self.tmr else 1


@dataclass
class FaultStats:
    """What happened to one model's weights (cumulative)."""

    upset_events: int = 0
    bits_flipped: int = 0
    checks: int = 0
    scrubs: int = 0
    check_s: float = 0.0
    sessions_built: int = 0
    build_s: float = 0.0
    failures: int = 0
    copy_tile_runs: int = 0
    faulted_tile_runs: int = 0
    vote_s: float = 0.0

    def add(self, other: FaultStats) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def majority_vote(
    outputs: Sequence[DetectorOutput | None], shape: tuple[int, int], tile_id: str
) -> DetectorOutput:
    """Per-pixel vote of three outputs: the median of the three class values (the majority
    when two agree) and of the three confidences; a missing output votes 0."""
    if len(outputs) != 3:
        raise ConfigError(f"a majority vote needs 3 outputs, got {len(outputs)}")
    cls = [o.cls if o is not None else np.zeros(shape, np.uint8) for o in outputs]
    conf = [o.confidence if o is not None else np.zeros(shape, np.float32) for o in outputs]
    return DetectorOutput(tile_id, _median3(*cls), _median3(*conf))


def _median3(a: npt.NDArray[Any], b: npt.NDArray[Any], c: npt.NDArray[Any]) -> npt.NDArray[Any]:
    median: npt.NDArray[Any] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return median
