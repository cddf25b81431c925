"""Radiation single-event upsets (SEUs) as seeded random bit flips.

Rate model: upsets arrive as a Poisson process in time and memory, ``rate_per_bit_day`` per
bit per day, scaled by ``factor`` (a stress campaign multiplies the reference rate). The
reference is 4.04e-7 SEU per bit per day, measured on commercial memory in low Earth orbit
on Alsat-1 (../shared/REFERENCE.md, "Radiation"). Over ``bits`` bits and ``days`` days the
number of upset events is Poisson with mean ``rate * factor * bits * days``; each event hits a
uniformly drawn bit. 98.6 % of Alsat-1's upsets were single-bit (REFERENCE.md); the other
1.4 % are modelled as multi-bit upsets of ``multi_bit_size`` (default 2) adjacent bits
[assumption: the source gives the single-bit share, not the multi-bit sizes; adjacent
double-bit upsets dominate in SRAM beam tests].

Bit numbering: bit ``p`` of a buffer is bit ``p % 8`` (least significant first) of byte
``p // 8``. For a little-endian float32 array, element ``i`` holds bits ``32 i .. 32 i + 31``
in order of significance: ``32 i + 31`` is its sign bit, ``32 i + 23 .. 32 i + 30`` its
exponent.

Everything is deterministic for a given ``numpy.random.Generator`` state: pass
``numpy.random.default_rng(seed)`` (or a spawned child) and the same flips come out.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from edgeinfer.errors import ConfigError

if TYPE_CHECKING:
    from edgeinfer.link.queue import OnboardQueue
    from edgeinfer.scene.types import Tile

logger = logging.getLogger(__name__)

# Commercial memory in LEO, Alsat-1 (../shared/REFERENCE.md, "Radiation").
REFERENCE_SEU_PER_BIT_DAY = 4.04e-7
#: The largest multiple of it a campaign or a mission accepts (a mission's seu_rate_factor).
MAX_RATE_FACTOR = 1e7
# Share of Alsat-1's upsets that flipped a single bit (REFERENCE.md, "Radiation").
SINGLE_BIT_FRACTION = 0.986
SECONDS_PER_DAY = 86_400.0

Positions = npt.NDArray[np.int64]


class Upsets(NamedTuple):
    """The upsets drawn for one buffer: ``events`` (Poisson count) and the flat bit
    ``positions`` they flip (a multi-bit upset contributes several adjacent positions)."""

    events: int
    positions: Positions

    @property
    def bits(self) -> int:
        return len(self.positions)


NO_UPSETS = Upsets(0, np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class SEUModel:
    """Upset rate per bit per day (``rate_per_bit_day * factor``) and the multi-bit share."""

    rate_per_bit_day: float = REFERENCE_SEU_PER_BIT_DAY
    factor: float = 1.0
    single_bit_fraction: float = SINGLE_BIT_FRACTION
    multi_bit_size: int = 2

    def __post_init__(self) -> None:
        for key in ("rate_per_bit_day", "factor"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
                raise ConfigError(f"faults.{key} = {value!r}: expected a finite number >= 0")
        if not 0.0 <= self.single_bit_fraction <= 1.0:
            raise ConfigError(
                f"faults.single_bit_fraction = {self.single_bit_fraction!r}: expected 0..1"
            )
        if not isinstance(self.multi_bit_size, int) or not 2 <= self.multi_bit_size <= 64:
            raise ConfigError(f"faults.multi_bit_size = {self.multi_bit_size!r}: expected 2..64")

    @classmethod
    def coerce(cls, value: SEUModel | Mapping[str, Any] | None) -> SEUModel:
        """An :class:`SEUModel` from itself, a mapping of its fields (a TOML table), or None."""
        if value is None:
            return cls()
        if isinstance(value, SEUModel):
            return value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"unknown SEU setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}"
            )
        return cls(**dict(value))

    @property
    def rate(self) -> float:
        """Effective upsets per bit per day."""
        return self.rate_per_bit_day * self.factor

    def expected_upsets(self, bits: int, days: float) -> float:
        """Mean number of upset events over ``bits`` bits during ``days`` days."""
        return self.rate * bits * max(days, 0.0)

    def draw(self, rng: np.random.Generator, bits: int, days: float) -> Upsets:
        """Draw the upsets of ``bits`` bits exposed for ``days`` days."""
        mean = self.expected_upsets(bits, days)
        if bits <= 0 or mean <= 0.0:
            return NO_UPSETS
        events = int(rng.poisson(mean))
        if events == 0:
            return NO_UPSETS
        starts = rng.integers(0, bits, size=events, dtype=np.int64)
        multi = rng.random(events) >= self.single_bit_fraction
        if not multi.any() or bits < self.multi_bit_size:
            return Upsets(events, np.sort(starts))
        size = self.multi_bit_size
        wide = np.minimum(starts[multi], bits - size)  # keep the burst inside the buffer
        burst = (wide[:, None] + np.arange(size, dtype=np.int64)[None, :]).ravel()
        return Upsets(events, np.sort(np.concatenate([starts[~multi], burst])))


def flip_bits(buffer: npt.NDArray[np.uint8], positions: Positions) -> None:
    """XOR the bits at ``positions`` of a writable 1-D uint8 ``buffer`` (a position drawn
    twice flips back, as two upsets of one cell would)."""
    if len(positions) == 0:
        return
    if len(positions) and int(positions.max()) >= 8 * buffer.size:
        raise ConfigError(
            f"bit {int(positions.max())} is outside a buffer of {8 * buffer.size} bits"
        )
    masks = np.left_shift(np.uint8(1), (positions & 7).astype(np.uint8))
    np.bitwise_xor.at(buffer, positions >> 3, masks)


def upset_array(
    array: npt.NDArray[Any], seu: SEUModel, days: float, rng: np.random.Generator
) -> tuple[npt.NDArray[Any], Upsets]:
    """A copy of ``array`` with the upsets of ``days`` days in its memory image."""
    out = np.ascontiguousarray(array).copy()
    upsets = seu.draw(rng, out.nbytes * 8, days)
    flip_bits(out.reshape(-1).view(np.uint8), upsets.positions)
    return out, upsets


def upset_bytes(
    data: bytes, seu: SEUModel, days: float, rng: np.random.Generator
) -> tuple[bytes, Upsets]:
    """``data`` with the upsets of ``days`` days (e.g. a stored alert record)."""
    buffer = np.frombuffer(data, dtype=np.uint8).copy()
    upsets = seu.draw(rng, buffer.size * 8, days)
    flip_bits(buffer, upsets.positions)
    return buffer.tobytes(), upsets


def upset_tile(
    tile: Tile, seu: SEUModel, seconds: float, rng: np.random.Generator
) -> tuple[Tile, Upsets]:
    """A copy of ``tile`` whose ``data`` (float32 bands) took the upsets of ``seconds`` in
    memory between readout and inference. ``valid`` is left alone: a flip can make a value
    NaN, inf or absurd, as it would on board, and the model sees it."""
    data, upsets = upset_array(tile.data, seu, seconds / SECONDS_PER_DAY, rng)
    if upsets.events == 0:
        return tile, upsets
    return dataclasses.replace(tile, data=data), upsets


def upset_queue(
    queue: OnboardQueue, seu: SEUModel, days: float, rng: np.random.Generator
) -> Upsets:
    """Upsets in the packets waiting in a satellite's onboard store (the stored alert
    records, each already framed with its CRC-16), over ``days`` days.

    The flips go through :meth:`edgeinfer.link.store.OnboardStore.flip_bit`, which leaves
    the store's CRC-32 alone: with ``StoreConfig(verify_crc=True)`` the queue finds and
    reports the damaged packets instead of sending them (docs/link.md)."""
    from edgeinfer.link.store import PacketState

    packets = queue.packets(PacketState.PENDING)
    sizes = np.array([8 * p.size for p in packets], dtype=np.int64)
    upsets = seu.draw(rng, int(sizes.sum()), days)
    if upsets.events == 0:
        return upsets
    ends = np.cumsum(sizes)
    owners = np.searchsorted(ends, upsets.positions, side="right")
    starts = ends - sizes
    with queue.store.transaction():
        for owner, position in zip(owners, upsets.positions, strict=True):
            packet = packets[int(owner)]
            queue.store.flip_bit(packet.row_id, int(position - starts[owner]))
    logger.debug(
        "%d upsets (%d bits) in %d stored packets", upsets.events, upsets.bits, len(packets)
    )
    return upsets
