"""The link: alert records as CCSDS Space Packets, the durable onboard queue, the lossy
downlink with ARQ, and the ground station that persists each alert exactly once.

Plain classes, no Ray and no wall clock: simulated time is passed in (seconds or aware
datetimes). See docs/link.md.
"""

from edgeinfer.link.channel import Contact, ContactReport, Downlink, LinkFaults
from edgeinfer.link.ground import DeliveredAlert, DeliveredChip, GroundStation
from edgeinfer.link.packets import (
    DETECTOR_CODES,
    AlertHeader,
    LinkPacket,
    MalformedPacketError,
    PacketCrcError,
    PacketKey,
    PacketKind,
    apid_for,
    crc16,
    decode_packet,
    encode_alert,
    encode_chip,
    split_apid,
    split_stream,
)
from edgeinfer.link.queue import AlertItem, OnboardQueue, QueueConfig, QueueStatus, store_path
from edgeinfer.link.store import PacketState, StoreConfig, StoredPacket

__all__ = [
    "DETECTOR_CODES",
    "AlertHeader",
    "AlertItem",
    "Contact",
    "ContactReport",
    "DeliveredAlert",
    "DeliveredChip",
    "Downlink",
    "GroundStation",
    "LinkFaults",
    "LinkPacket",
    "MalformedPacketError",
    "OnboardQueue",
    "PacketCrcError",
    "PacketKey",
    "PacketKind",
    "PacketState",
    "QueueConfig",
    "QueueStatus",
    "StoreConfig",
    "StoredPacket",
    "apid_for",
    "crc16",
    "decode_packet",
    "encode_alert",
    "encode_chip",
    "split_apid",
    "split_stream",
    "store_path",
]
