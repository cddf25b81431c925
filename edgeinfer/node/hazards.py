"""Radiation upsets on one satellite and their mitigations, on the node's simulated clock.

The physics and the mitigations are :mod:`edgeinfer.faults`' (SEU model, weight memory,
scrubbing, TMR); this module decides WHERE and WHEN they apply on a satellite of a mission:

- **weights**: every model the satellite runs has its own weight memory (a
  :class:`~edgeinfer.faults.FaultedDetector` over the process's golden session), loaded at
  the mission start and exposed until each inference (``advance_to`` the node's clock).
  Scrubbing and TMR are the guard's; TMR is applied whenever switched on (3 copies, 3x the
  modelled accelerator time), with or without upsets.
- **tiles**: a tile waits in memory from its capture until the accelerator completes it; its
  float32 bands take the upsets of that wait just before the detectors run.
- **records**: alert packets wait in the onboard store between contacts; at each contact the
  pending ones take the upsets of the time since the previous contact. With ``record_crc``
  the queue finds the damage by CRC-32 and never sends them (docs/link.md).

Random streams are seeded by (mission seed, satellite, what, when), never by call order, so a
satellite restored from a checkpoint and replayed draws the same upsets. The weight copies'
streams are the guard's own; :meth:`NodeHazards.snapshot` saves them with the weights.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from edgeinfer.detect import Detector, RuntimeOptions
from edgeinfer.faults import FaultedDetector, FaultStats, Mitigations, SEUModel
from edgeinfer.faults.seu import upset_queue, upset_tile
from edgeinfer.link import OnboardQueue
from edgeinfer.node.settings import HazardSettings
from edgeinfer.scene import Tile

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0
_TILE_STREAM, _RECORD_STREAM, _WEIGHT_STREAM = 1, 2, 3
COUNTERS: tuple[str, ...] = (
    "seu_tile_upsets",
    "seu_tile_bits",
    "seu_record_upsets",
    "seu_record_bits",
)


class NodeHazards:
    """The upsets and weight guards of satellite ``sat_index`` (see the module docstring)."""

    def __init__(
        self, hazards: HazardSettings, seed: int, sat_index: int, options: RuntimeOptions
    ) -> None:
        self.settings = hazards
        self.seed = int(seed)
        self.sat_index = int(sat_index)
        self.seu = SEUModel(factor=hazards.seu_rate_factor) if hazards.seu_rate_factor else None
        self.mitigations = Mitigations(
            scrub=hazards.scrubbing, scrub_interval_s=hazards.scrub_interval_s, tmr=hazards.tmr
        )
        self.options = options
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.records_t_s = 0.0
        self._guards: dict[str, FaultedDetector] = {}

    @property
    def copies(self) -> int:
        """Weight copies each inference runs on (3 with TMR): the accelerator-time factor."""
        return 3 if self.settings.tmr else 1

    # -- weights -------------------------------------------------------------------------

    def runner(self, runner: Detector, t_s: float) -> Any:
        """What the satellite runs for ``runner``'s model at ``t_s``: the golden detector
        itself, or its guarded, upset-prone copy advanced to ``t_s``."""
        if not self.settings.guarded_weights:
            return runner
        guard = self._guard(runner)
        guard.advance_to(max(t_s, guard.clock_s))
        return guard

    def _guard(self, runner: Detector) -> FaultedDetector:
        name = runner.info.name
        guard = self._guards.get(name)
        if guard is None:
            seu = self.seu if self.settings.upsets("weights") else None
            guard = FaultedDetector(
                runner.info,
                replace(self.options, require_signature=False),
                runner.batch_size,
                seu=seu,
                mitigations=self.mitigations,
                seed=[self.seed, self.sat_index, zlib.crc32(name.encode()), _WEIGHT_STREAM],
                start_s=0.0,
                golden=runner,
            )
            self._guards[name] = guard
        return guard

    def weight_stats(self) -> FaultStats:
        total = FaultStats()
        for guard in self._guards.values():
            total.add(guard.stats)
        return total

    # -- tiles and records -----------------------------------------------------------------

    def tile(self, tile: Tile, job_id: int, exposure_s: float) -> Tile:
        """``tile`` after ``exposure_s`` seconds in memory (unchanged without tile upsets)."""
        if self.seu is None or not self.settings.upsets("tiles") or exposure_s <= 0:
            return tile
        rng = np.random.default_rng([self.seed, self.sat_index, int(job_id), _TILE_STREAM])
        out, upsets = upset_tile(tile, self.seu, exposure_s, rng)
        self.counters["seu_tile_upsets"] += upsets.events
        self.counters["seu_tile_bits"] += upsets.bits
        return out

    def records(self, queue: OnboardQueue, t_s: float) -> None:
        """Upsets in the pending stored packets since the previous call (a contact)."""
        elapsed = t_s - self.records_t_s
        self.records_t_s = max(self.records_t_s, t_s)
        if self.seu is None or not self.settings.upsets("records") or elapsed <= 0:
            return
        stamp = round(t_s * 1000.0)
        rng = np.random.default_rng([self.seed, self.sat_index, stamp, _RECORD_STREAM])
        upsets = upset_queue(queue, self.seu, elapsed / SECONDS_PER_DAY, rng)
        self.counters["seu_record_upsets"] += upsets.events
        self.counters["seu_record_bits"] += upsets.bits

    # -- reporting and checkpoints -----------------------------------------------------------

    def report(self) -> dict[str, int]:
        """Counters for metrics.json (weights summed over the satellite's models)."""
        w = self.weight_stats()
        out = {k: int(v) for k, v in self.counters.items()}
        out.update(
            {
                "seu_weight_upsets": int(w.upset_events),
                "seu_weight_bits": int(w.bits_flipped),
                "scrubs": int(w.scrubs),
                "weight_checks": int(w.checks),
                "model_failures": int(w.failures),
                "faulted_tile_runs": int(w.faulted_tile_runs),
                "tmr_votes": sum(g.tiles_run for g in self._guards.values())
                if self.copies > 1
                else 0,
            }
        )
        return out

    def snapshot(self) -> dict[str, Any]:
        """Picklable state: counters, the record clock and each guard's weights and streams."""
        return {
            "counters": dict(self.counters),
            "records_t_s": self.records_t_s,
            "guards": {name: _guard_state(g) for name, g in self._guards.items()},
        }

    def restore(self, state: dict[str, Any], runners: dict[str, Detector]) -> None:
        """Back to :meth:`snapshot`'s state; ``runners``: the golden detectors by model name."""
        self.counters = Counter(state["counters"])
        self.records_t_s = float(state["records_t_s"])
        self._guards = {}
        for name, saved in state["guards"].items():
            _restore_guard(self._guard(runners[name]), saved)


# The guard keeps its copies' weight memory and random streams in attributes of its own; a
# checkpoint needs exactly those (sessions are rebuilt from the memory on the next run).


def _guard_state(guard: FaultedDetector) -> dict[str, Any]:
    return {
        "clock_s": guard.clock_s,
        "next_check_s": guard._next_check_s,
        "inference_s": guard.inference_s,
        "tiles_run": guard.tiles_run,
        "copies": [
            {
                "memory": c.memory.memory.copy(),
                "rng": c.rng.bit_generator.state,
                "broken": c.broken,
                "stats": replace(c.stats),
            }
            for c in guard._copies
        ],
    }


def _restore_guard(guard: FaultedDetector, state: dict[str, Any]) -> None:
    guard.clock_s = float(state["clock_s"])
    guard._next_check_s = float(state["next_check_s"])
    guard.inference_s = float(state["inference_s"])
    guard.tiles_run = int(state["tiles_run"])
    for copy, saved in zip(guard._copies, state["copies"], strict=True):
        copy.memory.memory[:] = saved["memory"]
        copy.rng.bit_generator.state = saved["rng"]
        copy.detector, copy.dirty, copy.broken = None, True, bool(saved["broken"])
        copy.stats = replace(saved["stats"])
