"""Mitigations of weight upsets: checksums with scrubbing, and triple modular redundancy.

:class:`FaultedDetector` is a drop-in for :class:`edgeinfer.detect.Detector` (same ``info``,
``batch_size``, ``provider``, ``run(tiles)``, ``inference_s``, ``tiles_run``) whose weights
live in :class:`~edgeinfer.faults.weights.WeightMemory` and take SEUs as simulated time
passes (:meth:`FaultedDetector.advance_to`). Switchable mitigations (:class:`Mitigations`):

- **scrubbing**: a checksum (SHA-256 or CRC-32) of the golden weights is kept; at each check
  (before every inference when ``scrub_interval_s`` is 0, else every ``scrub_interval_s``
  of simulated time) the working copy's checksum is compared and, on a mismatch, the golden
  copy is reloaded (a scrub). The golden copy is assumed to sit in protected storage (flash
  with ECC, or the signed model file), as ../shared/REFERENCE.md's mitigation list assumes.
- **TMR**: three weight copies take independent upsets; every tile runs through all three
  and each pixel takes the majority class (the median of three, which is the majority
  whenever two agree); a copy that fails to load or run votes "no detection". Compute: 3x
  (REFERENCE.md: TMR >= 3x compute).
- **reload on error**: the cheapest partial measure, for comparison: a copy whose session
  fails to load or run is reloaded from the golden copy after that failure (loud upsets
  are repaired one inference late; silent ones, e.g. in a float threshold, stay).

A copy whose faulted weights make onnxruntime fail (a flipped axis, a pad of 2**40 px) is a
*failure*: its tiles get no detections. Two guards keep such a model from exhausting the
host: before a faulted copy runs on tiles of a new shape, ONNX shape inference sizes its
tensors and a copy whose largest tensor exceeds a quarter of ``memory_limit_mb`` fails as
out of memory without running [assumption: a graph needs several live tensors of that size
at once]; what inference cannot size runs on onnxruntime's arena capped at
``memory_limit_mb``. Both onnxruntime and ONNX's shape inference can also abort the process
on an upset graph (an internal assertion): a campaign therefore runs upset copies, and
their sizing, in a :class:`~edgeinfer.faults.sandbox.Sandbox` child process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.runtime import Detector, DetectorOutput, RuntimeOptions
from edgeinfer.errors import ConfigError, ModelError
from edgeinfer.faults.mitigations import FaultStats, Mitigations, majority_vote
from edgeinfer.faults.sandbox import Sandbox
from edgeinfer.faults.seu import SECONDS_PER_DAY, SEUModel
from edgeinfer.faults.weights import WeightMemory, largest_tensor_bytes
from edgeinfer.scene.types import Tile

__all__ = [
    "DEFAULT_MEMORY_LIMIT_MB",
    "FaultStats",
    "FaultedDetector",
    "Mitigations",
    "majority_vote",
]

logger = logging.getLogger(__name__)

# Memory a faulted session may use [assumption: an embedded accelerator's share, e.g. a
# quarter of a Jetson Orin Nano's 8 GB; REFERENCE.md "Power and thermal" lists the boards].
DEFAULT_MEMORY_LIMIT_MB = 2048


@dataclass
class _Call:
    """The state of :meth:`FaultedDetector.one_call`: checked yet, copies failed in it."""

    checked: bool = False
    failed: set[int] = field(default_factory=set)


@dataclass
class _Copy:
    memory: WeightMemory
    rng: np.random.Generator
    detector: Detector | None = None  # session of the faulted image (None: use the golden)
    broken: bool = False  # its image failed to load
    dirty: bool = False  # changed since the session was built
    sized: set[tuple[int, ...]] = field(default_factory=set)  # input shapes checked to fit
    stats: FaultStats = field(default_factory=FaultStats)


class FaultedDetector:
    """A :class:`Detector` whose weights take upsets; see the module docstring.

    ``seed``: the copies' random streams are ``numpy.random.default_rng([*seed, copy])``.
    ``sandbox``: run upset copies in that child process (a crash of the runtime becomes a
    failure); without one they run in this process, where a crash is a crash, as on board.
    ``start_s``: the simulated time the weights were loaded. ``golden``: an already built
    golden :class:`Detector` to share (its session is not modified).
    """

    def __init__(
        self,
        info: ModelInfo,
        options: RuntimeOptions | None = None,
        batch_size: int = 8,
        *,
        seu: SEUModel | None,
        mitigations: Mitigations | None = None,
        seed: int | Sequence[int] = 0,
        start_s: float = 0.0,
        golden: Detector | None = None,
        memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.info = info
        self.batch_size = batch_size
        self.seu = seu
        self.sandbox = sandbox
        self.mitigations = Mitigations.coerce(mitigations)
        self.options = options or RuntimeOptions()
        self.golden = golden or Detector(info, self.options, batch_size)
        self.provider = self.golden.provider
        data = self._golden_bytes()
        self._memory_limit_mb = memory_limit_mb
        self._faulted_options = dataclasses.replace(
            self.options, memory_limit_mb=memory_limit_mb, require_signature=False
        )
        seeds = [seed] if isinstance(seed, int) else list(seed)
        self._copies = [
            _Copy(WeightMemory(data, info.name), np.random.default_rng([*seeds, k]))
            for k in range(self.mitigations.copies)
        ]
        self.clock_s = start_s
        m = self.mitigations
        periodic = m.scrub and m.scrub_interval_s > 0
        self._next_check_s = start_s + m.scrub_interval_s if periodic else float("inf")
        self.inference_s = 0.0
        self.tiles_run = 0
        self._call: _Call | None = None  # inside one_call()

    def _golden_bytes(self) -> bytes:
        if self.options.require_signature:
            from edgeinfer.detect.signing import load_trusted_keys, read_verified

            return read_verified(self.info.path, load_trusted_keys(self.options.trusted_keys))
        return self.info.path.read_bytes()

    # -- time and upsets -----------------------------------------------------------------

    @property
    def weight_bits(self) -> int:
        """Bits of one weight copy."""
        return self._copies[0].memory.bits

    @property
    def stats(self) -> FaultStats:
        total = FaultStats()
        for c in self._copies:
            total.add(c.stats)
        return total

    def weight_memory(self, copy: int = 0) -> WeightMemory:
        """The weight memory of one copy (to locate tensors, e.g. for :meth:`inject`)."""
        if not 0 <= copy < len(self._copies):
            raise ConfigError(f"copy {copy} does not exist; this model has {len(self._copies)}")
        return self._copies[copy].memory

    def faulted(self) -> list[bool]:
        """Per copy: does its working memory differ from the golden weights now?"""
        return [not c.memory.is_golden() for c in self._copies]

    def advance_to(self, time_s: float) -> None:
        """Let simulated time run to ``time_s``: each copy takes the upsets of the elapsed
        time; periodic scrubs fall at their due times in between."""
        if time_s < self.clock_s:
            raise ConfigError(
                f"model {self.info.name}: time {time_s} s is before its clock {self.clock_s} s"
            )
        while self._next_check_s <= time_s:
            self._expose(self._next_check_s - self.clock_s)
            self.clock_s = self._next_check_s
            self.scrub()
            self._next_check_s += self.mitigations.scrub_interval_s
        self._expose(time_s - self.clock_s)
        self.clock_s = time_s

    def _expose(self, seconds: float) -> None:
        if self.seu is None or seconds <= 0:
            return
        for c in self._copies:
            upsets = self.seu.draw(c.rng, c.memory.bits, seconds / SECONDS_PER_DAY)
            if upsets.events:
                c.memory.upset(upsets.positions)
                c.dirty = True
                c.stats.upset_events += upsets.events
                c.stats.bits_flipped += upsets.bits

    def inject(self, positions: Sequence[int] | npt.NDArray[np.int64], copy: int = 0) -> None:
        """Flip the given weight bits of one copy now (deterministic fault scheduling, e.g.
        a test or a mission's ``[faults]`` table naming an upset)."""
        if not 0 <= copy < len(self._copies):
            raise ConfigError(f"copy {copy} does not exist; this model has {len(self._copies)}")
        c = self._copies[copy]
        where = np.asarray(positions, dtype=np.int64)
        c.memory.upset(where)
        c.dirty = True
        c.stats.upset_events += len(where)
        c.stats.bits_flipped += len(where)

    def scrub(self) -> int:
        """Check every copy's checksum now; reload the golden copy where it fails. Returns
        how many copies were scrubbed."""
        scrubbed = 0
        for c in self._copies:
            t0 = time.perf_counter()
            ok = c.memory.digest(self.mitigations.checksum) == c.memory.golden_digest(
                self.mitigations.checksum
            )
            if not ok:
                c.memory.restore()
                c.detector, c.broken, c.dirty = None, False, False
                c.stats.scrubs += 1
                scrubbed += 1
            c.stats.checks += 1
            c.stats.check_s += time.perf_counter() - t0
        if scrubbed:
            logger.info(
                "model %s: weight checksum failed, %d copies reloaded", self.info.name, scrubbed
            )
        return scrubbed

    # -- inference -------------------------------------------------------------------------

    def _fits(self, c: _Copy, tiles: Sequence[Tile]) -> bool:
        """Whether faulted copy ``c`` fits the memory limit on these tiles (see module doc)."""
        h, w = tiles[0].valid.shape
        n = min(len(tiles), self.batch_size)
        key = (n, h, w)
        if key in c.sized:
            return True
        dims = {"x": [n, len(self.info.bands), h, w], "valid": [n, 1, h, w]}
        largest = largest_tensor_bytes(c.memory.model_bytes(), dims)
        if largest is not None and largest > self._memory_limit_mb * 2**20 // 4:
            logger.debug(
                "model %s: faulted copy needs a %.0f MiB tensor; out of memory",
                self.info.name,
                largest / 2**20,
            )
            return False
        c.sized.add(key)
        return True

    def _refresh(self, c: _Copy) -> None:
        """Forget what was known about copy ``c``'s last state once its memory changed."""
        if c.dirty:
            c.dirty, c.broken, c.detector = False, False, None
            c.sized = set()

    def _session(self, c: _Copy) -> Detector | None:
        """In-process session of upset copy ``c`` (built once per state; None if it fails
        to load)."""
        if c.detector is None and not c.broken:
            t0 = time.perf_counter()
            try:
                c.detector = Detector(
                    self.info,
                    self._faulted_options,
                    self.batch_size,
                    model_bytes=c.memory.model_bytes(),
                )
            except ModelError as exc:
                c.broken = True
                logger.debug("model %s: faulted copy does not load (%s)", self.info.name, exc)
            c.stats.sessions_built += 1
            c.stats.build_s += time.perf_counter() - t0
        return c.detector

    def _run_upset(self, c: _Copy, tiles: Sequence[Tile]) -> list[DetectorOutput] | None:
        """Run upset copy ``c`` (in the sandbox when there is one); None when it fails."""
        c.stats.faulted_tile_runs += len(tiles)
        if self.sandbox is not None:  # sized and run in the child
            limit = self._memory_limit_mb * 2**20 // 4
            return self.sandbox.run(
                self.info, c.memory.model_bytes(), self.batch_size, tiles, limit
            )
        if not self._fits(c, tiles):
            return None
        detector = self._session(c)
        if detector is None:
            return None
        before = detector.inference_s
        try:
            return detector.run(tiles)
        except ModelError as exc:
            logger.debug("model %s: faulted copy fails to run (%s)", self.info.name, exc)
            return None
        finally:
            self.inference_s += detector.inference_s - before

    def _failed(self, c: _Copy) -> None:
        c.stats.failures += 1
        if self.mitigations.reload_on_error:
            c.memory.restore()
            c.detector, c.broken, c.dirty = None, False, False
            c.stats.scrubs += 1

    @contextlib.contextmanager
    def one_call(self) -> Iterator[None]:
        """The :meth:`run` calls inside count as one inference over all their tiles, so that a
        caller can run a large set of tiles in chunks (a satellite's flush: memory that does
        not grow with the capture) with the result of one call: the check before an
        inference (scrubbing with ``scrub_interval_s`` 0) runs once, at the first call, and a
        copy that fails in one call counts one failure and votes "no detection" in every
        later call. The one difference from a single call: the calls before a copy's failure
        keep that copy's outputs (one call over all the tiles would have lost them too)."""
        if self._call is not None:
            raise ConfigError(f"model {self.info.name}: one_call() is already open")
        self._call = _Call()
        try:
            yield
        finally:
            self._call = None

    def run(
        self, tiles: Sequence[Tile], clean: Sequence[DetectorOutput] | None = None
    ) -> list[DetectorOutput]:
        """Outputs for ``tiles``, as :meth:`Detector.run` (a tile whose model failed gets an
        all-zero output: no detections). ``clean``: the golden model's outputs for these
        tiles if the caller has them (a campaign's cache); a copy whose weights are golden
        then reuses them instead of running again (same result, no compute)."""
        call = self._call
        if call is None or not call.checked:
            if self.mitigations.scrub and self.mitigations.scrub_interval_s == 0:
                self.scrub()
            if call is not None:
                call.checked = True
        per_copy: list[list[DetectorOutput | None]] = []
        for k, c in enumerate(self._copies):
            c.stats.copy_tile_runs += len(tiles)
            if call is not None and k in call.failed:  # as one call: its tiles too
                c.stats.faulted_tile_runs += len(tiles)
                per_copy.append([None] * len(tiles))
                continue
            self._refresh(c)
            if c.memory.is_golden():
                if clean is not None:
                    per_copy.append(list(clean))
                    continue
                before = self.golden.inference_s
                per_copy.append(list(self.golden.run(tiles)))
                self.inference_s += self.golden.inference_s - before
                continue
            outs = self._run_upset(c, tiles) if tiles else []
            if outs is None:
                self._failed(c)
                if call is not None:
                    call.failed.add(k)
                per_copy.append([None] * len(tiles))
            else:
                per_copy.append(list(outs))
        self.tiles_run += len(tiles)
        if len(per_copy) == 1:
            return [
                out if out is not None else _empty(tile)
                for tile, out in zip(tiles, per_copy[0], strict=True)
            ]
        t0 = time.perf_counter()
        voted = [
            majority_vote([p[i] for p in per_copy], tile.valid.shape, tile.tile_id)
            for i, tile in enumerate(tiles)
        ]
        self._copies[0].stats.vote_s += time.perf_counter() - t0
        return voted


def _empty(tile: Tile) -> DetectorOutput:
    shape = tile.valid.shape
    return DetectorOutput(tile.tile_id, np.zeros(shape, np.uint8), np.zeros(shape, np.float32))
