"""Alerts and image chips as CCSDS Space Packets (CCSDS 133.0-B-2), with a CRC-16 trailer.

One packet on the wire, big-endian (layout tables in docs/link.md)::

    primary header    6 B   version 0, type TM (0), secondary-header flag 1, APID (11 bits),
                            sequence flags (2), sequence count (14), data length (octets - 1)
    secondary header  6 B   capture time, CUC-like: 4 B whole seconds + 2 B of 2**-16 s
    link header      12 B   kind, satellite index, detector code, priority (1 B each),
                            wrap epoch of this APID's sequence count (4 B), alert id (4 B)
    chip header       4 B   (image chips only) segment index, segment count (2 B each)
    payload           n B   the alert record (opaque bytes) or a piece of an image chip
    CRC-16            2 B   CRC-16/CCITT-FALSE over every octet before it (packet error control)

The APID is ``sat_index * 8 + detector`` (:func:`apid_for`). A packet is named on the ground
by its :class:`PacketKey` (APID, wrap epoch, 14-bit count): the epoch counts how often the
14-bit count has wrapped, so wrap-around can never make two packets look alike.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from fastcrc import crc16 as _fastcrc16
from spacepackets.ccsds.spacepacket import (
    PacketId,
    PacketType,
    SequenceFlags,
    SpacePacket,
    SpacePacketHeader,
    parse_space_packets,
)

from edgeinfer.errors import ConfigError, LinkError, unknown_name

__all__ = [
    "CHIP_OVERHEAD_BYTES",
    "DETECTOR_CODES",
    "MAX_DETECTOR_CODE",
    "MAX_PACKET_BYTES",
    "MAX_SAT_INDEX",
    "OVERHEAD_BYTES",
    "SEQ_MODULUS",
    "AlertHeader",
    "LinkPacket",
    "MalformedPacketError",
    "PacketCrcError",
    "PacketKey",
    "PacketKind",
    "apid_for",
    "as_seconds",
    "crc16",
    "decode_packet",
    "detector_code",
    "encode_alert",
    "encode_chip",
    "split_apid",
    "split_stream",
]

#: 14-bit sequence count (CCSDS 133.0-B-2 §4.1.3.4.3): counts run 0..16383 then wrap to 0.
SEQ_MODULUS: Final = 1 << 14
#: APID = sat_index * 8 + detector; 3 bits of detector code, 8 bits of satellite index.
DETECTORS_PER_SAT: Final = 8
MAX_DETECTOR_CODE: Final = DETECTORS_PER_SAT - 1
MAX_SAT_INDEX: Final = 255
#: The all-ones APID is reserved for idle packets (CCSDS 133.0-B-2 §4.1.3.3.4.4).
IDLE_APID: Final = 0x7FF
#: Detector codes, the same numbers as the alert record of ``edgeinfer.detect.records``.
DETECTOR_CODES: Final[Mapping[str, int]] = {"other": 0, "fire": 1, "ship": 2, "cloud": 3}

_PRIMARY = 6
_SECONDARY = struct.Struct(">IH")  # CUC-like time: coarse seconds, fine 2**-16 s
_LINK = struct.Struct(">BBBBII")  # kind, sat, detector, priority, wrap epoch, alert id
_CHIP = struct.Struct(">HH")  # segment index, segment count
_CRC = 2
#: Octets an alert packet adds around its payload (headers + CRC).
OVERHEAD_BYTES: Final = _PRIMARY + _SECONDARY.size + _LINK.size + _CRC
#: Octets an image-chip packet adds around its piece of the chip.
CHIP_OVERHEAD_BYTES: Final = OVERHEAD_BYTES + _CHIP.size
#: Largest Space Packet: 6-octet header + 65,536-octet data field (CCSDS 133.0-B-2 §4.1.3.5).
MAX_PACKET_BYTES: Final = _PRIMARY + 65536
_FINE_UNITS: Final = 1 << 16
_POSIX_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class PacketKind(enum.IntEnum):
    """What a packet's payload holds."""

    ALERT = 1
    CHIP = 2


class PacketCrcError(LinkError):
    """A received packet fails its CRC-16: it was corrupted on the way and must be discarded."""


class MalformedPacketError(LinkError):
    """A packet passes its CRC but its fields contradict the layout (a sender bug)."""


class PacketKey(NamedTuple):
    """A packet's identity on the ground and in acknowledgements."""

    apid: int
    epoch: int
    seq_count: int

    @property
    def full_seq(self) -> int:
        """The unwrapped per-APID sequence number, ``epoch * 16384 + seq_count``."""
        return self.epoch * SEQ_MODULUS + self.seq_count

    @classmethod
    def from_full_seq(cls, apid: int, full_seq: int) -> PacketKey:
        return cls(apid, full_seq // SEQ_MODULUS, full_seq % SEQ_MODULUS)


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out): the CCSDS
    packet error control code; check value ``crc16(b"123456789") == 0x29B1``."""
    return int(_fastcrc16.ibm_3740(bytes(data)))


def detector_code(detector: int | str) -> int:
    """The 3-bit detector code of a detector name (``DETECTOR_CODES``) or code."""
    if isinstance(detector, str):
        if detector not in DETECTOR_CODES:
            raise unknown_name("detector", detector, list(DETECTOR_CODES))
        return DETECTOR_CODES[detector]
    if not 0 <= detector <= MAX_DETECTOR_CODE:
        raise ConfigError(
            f"detector code {detector} does not fit the APID's 3 detector bits; use 0..7 "
            f"or a name: {', '.join(DETECTOR_CODES)}"
        )
    return int(detector)


def apid_for(sat_index: int, detector: int | str) -> int:
    """APID of a satellite's detector: ``sat_index * 8 + detector`` (11 bits).

    Satellites 0..255, detectors 0..7; the all-ones APID 2047 (satellite 255, detector 7) is
    the CCSDS idle APID and is refused.
    """
    code = detector_code(detector)
    if not 0 <= sat_index <= MAX_SAT_INDEX:
        raise ConfigError(
            f"satellite index {sat_index} does not fit the APID's 8 satellite bits; "
            f"use 0..{MAX_SAT_INDEX} (APID = sat_index * 8 + detector)"
        )
    apid = sat_index * DETECTORS_PER_SAT + code
    if apid == IDLE_APID:
        raise ConfigError(
            "satellite 255 with detector 7 gives APID 2047, reserved by CCSDS for idle packets; "
            "use detector codes 0..6 on satellite 255"
        )
    return apid


def split_apid(apid: int) -> tuple[int, int]:
    """``(sat_index, detector)`` of an APID made by :func:`apid_for`."""
    return divmod(apid, DETECTORS_PER_SAT)


def as_seconds(t: float | dt.datetime, *, name: str = "time") -> float:
    """Seconds on the link's time scale: a float is taken as is, an aware datetime becomes
    POSIX seconds (UTC, no leap seconds). Naive datetimes are refused."""
    if isinstance(t, dt.datetime):
        if t.tzinfo is None:
            raise ConfigError(
                f"{name} {t.isoformat()} is a naive datetime; pass it with tzinfo=UTC"
            )
        return (t - _POSIX_EPOCH).total_seconds()
    value = float(t)
    if not math.isfinite(value):
        raise ConfigError(f"{name} {t!r} is not a finite number of seconds")
    return value


@dataclass(frozen=True, slots=True)
class AlertHeader:
    """The typed link header of one alert: who raised it, how urgent, when it was captured.

    ``priority`` 0..255, higher is more urgent. ``capture_time_s`` is seconds on the
    caller's time scale (POSIX seconds when datetimes are used), 0 <= t < 2**32, carried
    to 2**-16 s. ``alert_id`` is assigned on board and unique per satellite.
    """

    sat_index: int
    detector: int
    priority: int
    capture_time_s: float
    alert_id: int

    def __post_init__(self) -> None:
        apid_for(self.sat_index, self.detector)
        if not 0 <= self.priority <= 255:
            raise ConfigError(f"alert priority {self.priority} is out of range; use 0..255")
        if not 0 <= self.alert_id <= 0xFFFFFFFF:
            raise ConfigError(f"alert id {self.alert_id} does not fit 32 bits")
        if not 0.0 <= self.capture_time_s < 2.0**32:
            raise ConfigError(
                f"capture time {self.capture_time_s} s is outside the 32-bit time code; "
                "use seconds in [0, 2**32) (POSIX seconds: 1970..2106)"
            )

    @property
    def apid(self) -> int:
        return apid_for(self.sat_index, self.detector)


@dataclass(frozen=True, slots=True)
class LinkPacket:
    """A decoded, CRC-checked packet."""

    key: PacketKey
    seq_flags: SequenceFlags
    kind: PacketKind
    header: AlertHeader
    segment_index: int
    segment_count: int
    payload: bytes


def _encode_time(t: float) -> bytes:
    coarse = math.floor(t)
    fine = round((t - coarse) * _FINE_UNITS)
    if fine == _FINE_UNITS:
        coarse, fine = coarse + 1, 0
    return _SECONDARY.pack(coarse, fine)


def _encode(
    kind: PacketKind,
    header: AlertHeader,
    full_seq: int,
    seq_flags: SequenceFlags,
    chip_header: bytes,
    payload: bytes,
) -> bytes:
    key = PacketKey.from_full_seq(header.apid, full_seq)
    if not 0 <= key.epoch <= 0xFFFFFFFF:
        raise ConfigError(f"sequence number {full_seq} is out of range for APID {key.apid}")
    body = (
        _encode_time(header.capture_time_s)
        + _LINK.pack(
            kind,
            header.sat_index,
            header.detector,
            header.priority,
            key.epoch,
            header.alert_id,
        )
        + chip_header
        + bytes(payload)
    )
    data_len = len(body) + _CRC - 1
    if data_len > 0xFFFF:
        raise LinkError(
            f"packet data field of {data_len + 1} octets exceeds the CCSDS limit of 65536; "
            "send large payloads as segmented image chips"
        )
    sph = SpacePacketHeader(
        packet_type=PacketType.TM,
        apid=key.apid,
        seq_count=key.seq_count,
        data_len=data_len,
        sec_header_flag=True,
        seq_flags=seq_flags,
    )
    raw = SpacePacket(sph, sec_header=body[: _SECONDARY.size], user_data=body[_SECONDARY.size :])
    packet = raw.pack()
    packet.extend(crc16(packet).to_bytes(2, "big"))
    return bytes(packet)


def encode_alert(header: AlertHeader, payload: bytes, full_seq: int) -> bytes:
    """One unsegmented alert packet carrying ``payload`` (the opaque alert record)."""
    return _encode(PacketKind.ALERT, header, full_seq, SequenceFlags.UNSEGMENTED, b"", payload)


def encode_chip(
    header: AlertHeader, chip: bytes, first_full_seq: int, max_packet_bytes: int
) -> list[bytes]:
    """An image chip as packets of at most ``max_packet_bytes``, numbered from
    ``first_full_seq``: one unsegmented packet, or first / continuation... / last segments."""
    room = max_packet_bytes - CHIP_OVERHEAD_BYTES
    if room < 1 or max_packet_bytes > MAX_PACKET_BYTES:
        raise ConfigError(
            f"max_packet_bytes {max_packet_bytes} leaves no room for chip data; use "
            f"{CHIP_OVERHEAD_BYTES + 1}..{MAX_PACKET_BYTES}"
        )
    pieces = [chip[i : i + room] for i in range(0, len(chip), room)] or [b""]
    if len(pieces) > 0xFFFF:
        raise ConfigError(
            f"image chip of {len(chip)} bytes needs {len(pieces)} segments (limit 65535); "
            "raise max_packet_bytes or send a smaller chip"
        )
    n = len(pieces)
    packets = []
    for i, piece in enumerate(pieces):
        flags = _segment_flags(i, n)
        packets.append(
            _encode(PacketKind.CHIP, header, first_full_seq + i, flags, _CHIP.pack(i, n), piece)
        )
    return packets


def _segment_flags(index: int, count: int) -> SequenceFlags:
    if count == 1:
        return SequenceFlags.UNSEGMENTED
    if index == 0:
        return SequenceFlags.FIRST_SEGMENT
    if index == count - 1:
        return SequenceFlags.LAST_SEGMENT
    return SequenceFlags.CONTINUATION_SEGMENT


def decode_packet(raw: bytes | bytearray) -> LinkPacket:
    """Check a packet's CRC-16 and layout and decode it.

    Raises :class:`PacketCrcError` when the CRC fails (corrupted in transit) and
    :class:`MalformedPacketError` when the CRC holds but the fields are inconsistent.
    """
    raw = bytes(raw)
    if len(raw) < OVERHEAD_BYTES:
        raise PacketCrcError(
            f"packet of {len(raw)} octets is shorter than the {OVERHEAD_BYTES}-octet minimum"
        )
    if crc16(raw[:-_CRC]) != int.from_bytes(raw[-_CRC:], "big"):
        raise PacketCrcError(f"packet of {len(raw)} octets fails its CRC-16; discard it")
    sph = SpacePacketHeader.unpack(raw)
    if sph.packet_len != len(raw):
        raise MalformedPacketError(
            f"packet length field says {sph.packet_len} octets but {len(raw)} arrived"
        )
    if sph.ccsds_version != 0 or sph.packet_type != PacketType.TM or not sph.sec_header_flag:
        raise MalformedPacketError(
            f"APID {sph.apid}: expected version 0 telemetry with a secondary header, got {sph!r}"
        )
    coarse, fine = _SECONDARY.unpack_from(raw, _PRIMARY)
    kind_v, sat, det, prio, epoch, alert_id = _LINK.unpack_from(raw, _PRIMARY + _SECONDARY.size)
    offset = _PRIMARY + _SECONDARY.size + _LINK.size
    if (sat, det) != split_apid(sph.apid) or kind_v not in (PacketKind.ALERT, PacketKind.CHIP):
        raise MalformedPacketError(
            f"APID {sph.apid}: link header (kind {kind_v}, satellite {sat}, detector {det}) "
            "contradicts the APID"
        )
    kind = PacketKind(kind_v)
    index, count = 0, 1
    if kind is PacketKind.CHIP:
        if len(raw) < CHIP_OVERHEAD_BYTES:
            raise MalformedPacketError(f"APID {sph.apid}: chip packet too short for its header")
        index, count = _CHIP.unpack_from(raw, offset)
        offset += _CHIP.size
        if not index < count or _segment_flags(index, count) != sph.seq_flags:
            raise MalformedPacketError(
                f"APID {sph.apid}: segment {index} of {count} has sequence flags {sph.seq_flags!r}"
            )
    elif sph.seq_flags != SequenceFlags.UNSEGMENTED:
        raise MalformedPacketError(f"APID {sph.apid}: alert packets must be unsegmented")
    header = AlertHeader(sat, det, prio, coarse + fine / _FINE_UNITS, alert_id)
    return LinkPacket(
        key=PacketKey(sph.apid, epoch, sph.seq_count),
        seq_flags=sph.seq_flags,
        kind=kind,
        header=header,
        segment_index=index,
        segment_count=count,
        payload=raw[offset:-_CRC],
    )


def split_stream(buf: bytes | bytearray, apids: Sequence[int]) -> list[bytes]:
    """Cut a byte stream of back-to-back packets into packets (spacepackets'
    ``parse_space_packets``), keeping only the given APIDs; bytes that start no known packet
    are skipped. Use it for a stream; the channel hands the ground one packet per frame."""
    ids = [PacketId(PacketType.TM, True, a) for a in apids]
    return [bytes(p) for p in parse_space_packets(bytes(buf), ids).tm_list]
