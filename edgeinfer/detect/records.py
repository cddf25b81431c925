"""The fixed-layout binary alert record: the bytes a satellite downlinks per alert.

Layout, big-endian (network order, as CCSDS packets), 48 bytes, no padding::

    offset size type  field
     0     1    B     version (1)
     1     1    B     detector code: 1 fire, 2 ship, 3 cloud (0 other)
     2     1    B     class value (0-255, the model's ``edgeinfer.outputs``)
     3     1    B     flags: bit 0 lon/lat valid, bit 1 capture time valid
     4     2    H     confidence * 65535, rounded (resolution 1.5e-5)
     6     2    H     capture time, milliseconds part (0-999)
     8     4    I     capture time, whole seconds since 2000-01-01T00:00:00 UTC (POSIX
                      seconds, no leap seconds; covers 2000-2136)
    12     4    i     centroid longitude, micro-degrees (1e-6 deg ~ 0.11 m at the equator)
    16     4    i     centroid latitude, micro-degrees
    20    16    4I    bbox_px col_min, row_min, col_max, row_max (scene pixels, max exclusive)
    36     4    I     pixel count
    40     4    I     scene hash: first 4 bytes of SHA-256 of the scene id
    44     4    I     sequence number (per satellite, assigned on board)

Link framing (CCSDS primary header, CRC) is added by ``edgeinfer.link``, not here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeinfer.errors import LinkError

if TYPE_CHECKING:
    from edgeinfer.detect.alerts import Alert

RECORD_VERSION = 1
RECORD_FORMAT = ">BBBBHHIii4IIII"
RECORD_SIZE = struct.calcsize(RECORD_FORMAT)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
DETECTOR_CODES: dict[str, int] = {"fire": 1, "ship": 2, "cloud": 3}
FLAG_LONLAT = 0x01
FLAG_TIME = 0x02

# Fields in wire order after the version byte.
_PACKED = (
    "detector_code",
    "cls",
    "flags",
    "confidence_u16",
    "time_ms",
    "time_s",
    "lon_udeg",
    "lat_udeg",
    "col_min",
    "row_min",
    "col_max",
    "row_max",
    "pixel_count",
    "scene_hash",
    "sequence",
)
_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class AlertRecord:
    """One alert as quantised integers; :meth:`pack` / :meth:`unpack` are exact inverses."""

    detector_code: int
    cls: int
    flags: int
    confidence_u16: int
    time_ms: int
    time_s: int
    lon_udeg: int
    lat_udeg: int
    col_min: int
    row_min: int
    col_max: int
    row_max: int
    pixel_count: int
    scene_hash: int
    sequence: int
    version: int = RECORD_VERSION

    def __post_init__(self) -> None:
        limits = {
            "version": _U8,
            "detector_code": _U8,
            "cls": _U8,
            "flags": _U8,
            "confidence_u16": _U16,
            "time_ms": 999,
            "time_s": _U32,
            "col_min": _U32,
            "row_min": _U32,
            "col_max": _U32,
            "row_max": _U32,
            "pixel_count": _U32,
            "scene_hash": _U32,
            "sequence": _U32,
        }
        for name, hi in limits.items():
            value = getattr(self, name)
            if not 0 <= value <= hi:
                raise LinkError(f"alert record field {name} = {value} is outside 0..{hi}")
        for name in ("lon_udeg", "lat_udeg"):
            value = getattr(self, name)
            if not _I32_MIN <= value <= _I32_MAX:
                raise LinkError(f"alert record field {name} = {value} does not fit int32")

    def pack(self) -> bytes:
        """The record's :data:`RECORD_SIZE` bytes."""
        return struct.pack(RECORD_FORMAT, self.version, *(getattr(self, f) for f in _PACKED))

    @classmethod
    def unpack(cls, data: bytes) -> AlertRecord:
        """Parse :data:`RECORD_SIZE` bytes; :class:`LinkError` on a wrong size or version."""
        if len(data) != RECORD_SIZE:
            raise LinkError(f"alert record has {len(data)} bytes, expected {RECORD_SIZE}")
        v = struct.unpack(RECORD_FORMAT, data)
        if v[0] != RECORD_VERSION:
            raise LinkError(
                f"alert record version {v[0]} is unknown; this edgeinfer reads {RECORD_VERSION}"
            )
        return cls(version=v[0], **dict(zip(_PACKED, v[1:], strict=True)))

    @classmethod
    def from_alert(cls, alert: Alert, sequence: int = 0) -> AlertRecord:
        """Quantise ``alert`` (micro-degrees, confidence/65535, milliseconds)."""
        flags = 0
        lon_u = lat_u = 0
        if alert.centroid_lonlat is not None:
            flags |= FLAG_LONLAT
            lon_u = round(alert.centroid_lonlat[0] * 1e6)
            lat_u = round(alert.centroid_lonlat[1] * 1e6)
        time_s = time_ms = 0
        if alert.capture_time is not None:
            flags |= FLAG_TIME
            when = alert.capture_time
            if when.tzinfo is None:  # naive capture times are UTC by the Tile contract
                when = when.replace(tzinfo=dt.UTC)
            delta = when - EPOCH
            total_ms = (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
            time_s, time_ms = divmod(total_ms, 1000)
        c0, r0, c1, r1 = alert.bbox_px
        return cls(
            detector_code=DETECTOR_CODES.get(alert.detector, 0),
            cls=alert.cls,
            flags=flags,
            confidence_u16=round(min(max(alert.confidence, 0.0), 1.0) * _U16),
            time_ms=time_ms,
            time_s=time_s,
            lon_udeg=lon_u,
            lat_udeg=lat_u,
            col_min=c0,
            row_min=r0,
            col_max=c1,
            row_max=r1,
            pixel_count=alert.pixel_count,
            scene_hash=scene_hash(alert.scene_id),
            sequence=sequence,
        )

    @property
    def detector(self) -> str:
        names = {v: k for k, v in DETECTOR_CODES.items()}
        return names.get(self.detector_code, "other")

    @property
    def confidence(self) -> float:
        return self.confidence_u16 / _U16

    @property
    def lonlat(self) -> tuple[float, float] | None:
        if not self.flags & FLAG_LONLAT:
            return None
        return (self.lon_udeg / 1e6, self.lat_udeg / 1e6)

    @property
    def capture_time(self) -> dt.datetime | None:
        if not self.flags & FLAG_TIME:
            return None
        return EPOCH + dt.timedelta(seconds=self.time_s, milliseconds=self.time_ms)

    @property
    def bbox_px(self) -> tuple[int, int, int, int]:
        return (self.col_min, self.row_min, self.col_max, self.row_max)


def scene_hash(scene_id: str) -> int:
    """First 4 bytes of SHA-256 of ``scene_id`` as an unsigned big-endian integer."""
    return int.from_bytes(hashlib.sha256(scene_id.encode()).digest()[:4], "big")
