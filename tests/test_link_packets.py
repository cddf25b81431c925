"""CCSDS packet layout, CRC-16 and APID allocation of edgeinfer.link.packets.

Independent truth: the CCSDS 133.0-B-2 primary-header bit layout packed by hand, a bitwise
CRC-16/CCITT-FALSE written here from its definition (poly 0x1021, init 0xFFFF) with the
catalogue check value 0x29B1, and spacepackets' own header parser.
"""

from __future__ import annotations

import datetime as dt
import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader

from edgeinfer.errors import ConfigError, LinkError, UnknownNameError
from edgeinfer.link.packets import (
    CHIP_OVERHEAD_BYTES,
    OVERHEAD_BYTES,
    SEQ_MODULUS,
    AlertHeader,
    MalformedPacketError,
    PacketCrcError,
    PacketKey,
    PacketKind,
    apid_for,
    as_seconds,
    crc16,
    decode_packet,
    encode_alert,
    encode_chip,
    split_apid,
    split_stream,
)


def bitwise_crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE from its definition, one bit at a time."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def hand_header(apid: int, seq_flags: int, seq_count: int, total_len: int) -> bytes:
    """The 6-octet primary header packed from the CCSDS 133.0-B-2 bit layout."""
    version, ptype, sec_flag = 0, 0, 1  # version 1 packet = '000', telemetry, secondary header
    word0 = (version << 13) | (ptype << 12) | (sec_flag << 11) | apid
    word1 = (seq_flags << 14) | seq_count
    word2 = total_len - 6 - 1  # packet data length = octets in the data field - 1
    return struct.pack(">HHH", word0, word1, word2)


headers = st.builds(
    AlertHeader,
    sat_index=st.integers(0, 254),
    detector=st.integers(0, 7),
    priority=st.integers(0, 255),
    capture_time_s=st.floats(0.0, 2.0**32 - 1.0),
    alert_id=st.integers(0, 2**32 - 1),
)
full_seqs = st.integers(0, 2**32 * SEQ_MODULUS - 1)


def test_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert bitwise_crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc16_generator_properties() -> None:
    """x+1 divides the generator (all odd-weight errors caught) and x has order 32,767 modulo
    it (all 2-bit errors within 32,767-bit codewords caught): Hamming distance 4 up to
    32,751 data bits, so every packet of <= 4,095 octets detects every 1-3 bit error."""
    generator = 0x11021
    assert bin(generator).count("1") % 2 == 0  # g(1) = 0  <=>  (x + 1) | g
    a, order = 1, 0
    while True:
        a <<= 1
        if a & 0x10000:
            a ^= generator
        order += 1
        if a == 1:
            break
    assert order == 32767
    assert (4095 - 2) * 8 <= order - 16 < (4096 - 2) * 8


@given(st.binary(max_size=300))
def test_crc16_matches_bitwise_definition(data: bytes) -> None:
    assert crc16(data) == bitwise_crc16_ccitt_false(data)


@given(headers, st.binary(max_size=2000), full_seqs)
def test_alert_round_trip(header: AlertHeader, payload: bytes, full_seq: int) -> None:
    raw = encode_alert(header, payload, full_seq)
    assert len(raw) == OVERHEAD_BYTES + len(payload)
    p = decode_packet(raw)
    assert p.kind is PacketKind.ALERT
    assert p.payload == payload
    assert p.key == PacketKey(header.apid, full_seq // SEQ_MODULUS, full_seq % SEQ_MODULUS)
    assert p.key.full_seq == full_seq
    assert p.seq_flags == SequenceFlags.UNSEGMENTED
    h = p.header
    assert (h.sat_index, h.detector, h.priority, h.alert_id) == (
        header.sat_index,
        header.detector,
        header.priority,
        header.alert_id,
    )
    assert abs(h.capture_time_s - header.capture_time_s) <= 2.0**-17 + 1e-6
    # primary header, bit by bit, against a hand-packed one and spacepackets' parser
    assert raw[:6] == hand_header(header.apid, 0b11, full_seq % SEQ_MODULUS, len(raw))
    sph = SpacePacketHeader.unpack(raw)
    assert sph.packet_type == PacketType.TM and sph.sec_header_flag and sph.ccsds_version == 0
    assert sph.apid == header.apid and sph.packet_len == len(raw)
    # packet error control: CRC-16 of everything before it, big-endian
    assert int.from_bytes(raw[-2:], "big") == bitwise_crc16_ccitt_false(raw[:-2])


def test_secondary_header_is_cuc_time() -> None:
    h = AlertHeader(1, 2, 3, 1_700_000_000.75, 9)
    raw = encode_alert(h, b"x", 0)
    coarse, fine = struct.unpack(">IH", raw[6:12])
    assert coarse == 1_700_000_000 and fine == 49152  # 0.75 s = 49152 / 65536
    assert raw[12:24] == struct.pack(">BBBBII", 1, 1, 2, 3, 0, 9)


@given(headers, st.binary(min_size=0, max_size=5000), st.integers(0, 10_000))
@settings(max_examples=40)
def test_chip_segments_round_trip(header: AlertHeader, chip: bytes, first: int) -> None:
    max_bytes = 200
    packets = encode_chip(header, chip, first, max_bytes)
    assert all(len(p) <= max_bytes for p in packets)
    decoded = [decode_packet(p) for p in packets]
    n = len(decoded)
    flags = [d.seq_flags for d in decoded]
    if n == 1:
        assert flags == [SequenceFlags.UNSEGMENTED]
    else:
        assert flags[0] == SequenceFlags.FIRST_SEGMENT
        assert flags[-1] == SequenceFlags.LAST_SEGMENT
        assert all(f == SequenceFlags.CONTINUATION_SEGMENT for f in flags[1:-1])
    assert [d.key.full_seq for d in decoded] == list(range(first, first + n))
    assert [(d.segment_index, d.segment_count) for d in decoded] == [(i, n) for i in range(n)]
    assert all(d.kind is PacketKind.CHIP for d in decoded)
    assert b"".join(d.payload for d in decoded) == chip
    for d, raw in zip(decoded, packets, strict=True):
        assert raw[:6] == hand_header(header.apid, int(d.seq_flags), d.key.seq_count, len(raw))
        assert len(raw) == CHIP_OVERHEAD_BYTES + len(d.payload)


@given(headers, st.binary(max_size=64), full_seqs)
@settings(max_examples=30)
def test_every_single_bit_flip_is_rejected(header: AlertHeader, payload: bytes, seq: int) -> None:
    raw = encode_alert(header, payload, seq)
    for bit in range(8 * len(raw)):
        bad = bytearray(raw)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(PacketCrcError):
            decode_packet(bytes(bad))


def test_every_double_bit_flip_is_rejected() -> None:
    raw = encode_alert(AlertHeader(7, 1, 200, 12345.5, 77), b"fire at 12.5E 41.9N", 16390)
    n_bits = 8 * len(raw)
    for a, b in itertools.combinations(range(n_bits), 2):
        bad = bytearray(raw)
        bad[a // 8] ^= 0x80 >> (a % 8)
        bad[b // 8] ^= 0x80 >> (b % 8)
        assert crc16(bad[:-2]) != int.from_bytes(bad[-2:], "big"), (a, b)


@given(headers, st.binary(min_size=1, max_size=1000), st.data())
@settings(max_examples=60)
def test_three_bit_flips_are_rejected(
    header: AlertHeader, payload: bytes, data: st.DataObject
) -> None:
    """CRC-16/CCITT has Hamming distance 4 up to 32,751 data bits (Koopman's CRC tables)."""
    raw = encode_alert(header, payload, 5)
    bits = data.draw(
        st.lists(st.integers(0, 8 * len(raw) - 1), min_size=3, max_size=3, unique=True)
    )
    bad = bytearray(raw)
    for bit in bits:
        bad[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(PacketCrcError):
        decode_packet(bytes(bad))


def test_truncated_and_padded_packets_are_rejected() -> None:
    raw = encode_alert(AlertHeader(0, 1, 1, 1.0, 1), b"abc", 1)
    with pytest.raises(PacketCrcError):
        decode_packet(raw[:-1])
    with pytest.raises(PacketCrcError):
        decode_packet(raw[:10])


def test_inconsistent_packet_with_valid_crc_is_malformed() -> None:
    raw = bytearray(encode_alert(AlertHeader(2, 1, 1, 1.0, 1), b"abc", 1))
    raw[13] = 3  # satellite field says 3, APID says 2
    raw[-2:] = crc16(raw[:-2]).to_bytes(2, "big")
    with pytest.raises(MalformedPacketError, match="contradicts the APID"):
        decode_packet(bytes(raw))
    raw2 = bytearray(encode_alert(AlertHeader(2, 1, 1, 1.0, 1), b"abc", 1))
    raw2[2] &= 0x3F  # sequence flags 00 on an alert packet
    raw2[-2:] = crc16(raw2[:-2]).to_bytes(2, "big")
    with pytest.raises(MalformedPacketError, match="unsegmented"):
        decode_packet(bytes(raw2))


def test_apid_allocation() -> None:
    assert apid_for(0, 0) == 0
    assert apid_for(3, "fire") == 25
    assert apid_for(255, 6) == 2046
    assert split_apid(apid_for(41, "ship")) == (41, 2)
    assert len({apid_for(s, d) for s in range(255) for d in range(8)}) == 255 * 8
    with pytest.raises(ConfigError, match="idle"):
        apid_for(255, 7)
    with pytest.raises(ConfigError, match=r"0\.\.255"):
        apid_for(256, 0)
    with pytest.raises(ConfigError, match=r"0\.\.7"):
        apid_for(0, 8)
    with pytest.raises(UnknownNameError, match="cloud, fire, other, ship"):
        apid_for(0, "volcano")


def test_header_validation_messages() -> None:
    with pytest.raises(ConfigError, match="priority 300"):
        AlertHeader(0, 1, 300, 0.0, 0)
    with pytest.raises(ConfigError, match="capture time"):
        AlertHeader(0, 1, 1, -1.0, 0)
    with pytest.raises(LinkError, match="65536"):
        encode_alert(AlertHeader(0, 1, 1, 0.0, 0), bytes(70_000), 0)
    with pytest.raises(ConfigError, match="max_packet_bytes"):
        encode_chip(AlertHeader(0, 1, 1, 0.0, 0), b"abc", 0, CHIP_OVERHEAD_BYTES)


def test_as_seconds() -> None:
    t = dt.datetime(2025, 7, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
    assert as_seconds(t) == t.timestamp()
    with pytest.raises(ConfigError, match="naive"):
        as_seconds(dt.datetime(2025, 7, 1))
    with pytest.raises(ConfigError, match="finite"):
        as_seconds(float("nan"))


def test_split_stream_recovers_packets_between_junk() -> None:
    h1, h2 = AlertHeader(1, 1, 5, 10.0, 1), AlertHeader(2, 2, 5, 10.0, 2)
    p1, p2 = encode_alert(h1, b"one", 0), encode_alert(h2, b"two" * 10, 9)
    chips = encode_chip(h1, bytes(range(250)), 1, 100)
    stream = p1 + b"\x00\x00" + b"".join(chips) + p2
    out = split_stream(stream, [h1.apid, h2.apid])
    assert out == [p1, *chips, p2]
    assert split_stream(stream, [h2.apid]) == [p2]
