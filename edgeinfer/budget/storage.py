"""Onboard storage: a byte-limited buffer that drops the oldest raw data first, never alerts.

Two kinds of items: ``raw`` (tiles, scenes; droppable) and ``alert`` (detections; never dropped
to make room). When an item does not fit, the oldest raw items (earliest stored) are evicted
until it does; an
incoming raw item that cannot fit even then is dropped itself, and an alert that cannot fit
(the buffer is all alerts) is refused. Every drop and refusal is counted and logged.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from edgeinfer.errors import ConfigError

logger = logging.getLogger(__name__)

ItemKind = Literal["raw", "alert"]
KINDS: tuple[str, ...] = ("raw", "alert")


@dataclass(frozen=True)
class StoredItem:
    """One buffered object: id, size in bytes, kind, creation time (s of mission time)."""

    item_id: str
    size_bytes: int
    kind: ItemKind
    created_s: float


@dataclass
class StorageCounters:
    """What the buffer has dropped or refused so far."""

    dropped_raw_items: int = 0
    dropped_raw_bytes: int = 0
    refused_alert_items: int = 0
    refused_alert_bytes: int = 0


class OnboardStorage:
    """Byte-limited buffer with oldest-raw-first eviction."""

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes <= 0:
            raise ConfigError(f"storage capacity_bytes must be > 0, got {capacity_bytes}")
        self.capacity_bytes = int(capacity_bytes)
        self._raw: OrderedDict[str, StoredItem] = OrderedDict()  # insertion = age order
        self._alerts: dict[str, StoredItem] = {}
        self.used_bytes = 0
        self._raw_bytes = 0
        self.counters = StorageCounters()

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self.used_bytes

    def __len__(self) -> int:
        return len(self._raw) + len(self._alerts)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._raw or item_id in self._alerts

    def items(self) -> list[StoredItem]:
        """Everything held, oldest first."""
        return sorted([*self._raw.values(), *self._alerts.values()], key=lambda i: i.created_s)

    def bytes_of(self, kind: ItemKind) -> int:
        """Bytes held of one kind."""
        return self._raw_bytes if kind == "raw" else self.used_bytes - self._raw_bytes

    def add(
        self, item_id: str, size_bytes: int, kind: ItemKind, created_s: float
    ) -> list[StoredItem]:
        """Store an item, evicting the oldest raw items if needed; returns what was dropped
        (evicted raw items, and the incoming item itself when it could not be stored)."""
        if kind not in KINDS:
            raise ConfigError(f"unknown storage kind {kind!r}; choose one of {', '.join(KINDS)}")
        if size_bytes < 0:
            raise ConfigError(f"size_bytes must be >= 0, got {size_bytes}")
        if item_id in self:
            raise ConfigError(f"item {item_id!r} is already stored; give a unique item_id")
        item = StoredItem(item_id, int(size_bytes), kind, float(created_s))
        evictable = self._raw_bytes
        if item.size_bytes > self.free_bytes + evictable:
            return [self._refuse(item)]
        dropped: list[StoredItem] = []
        while item.size_bytes > self.free_bytes:
            _, old = self._raw.popitem(last=False)
            self.used_bytes -= old.size_bytes
            self._raw_bytes -= old.size_bytes
            self.counters.dropped_raw_items += 1
            self.counters.dropped_raw_bytes += old.size_bytes
            dropped.append(old)
        if dropped:
            logger.info("storage full: dropped %d raw items (%d bytes) for %s", len(dropped),
                        sum(d.size_bytes for d in dropped), item_id)  # fmt: skip
        if kind == "raw":
            self._raw[item_id] = item
            self._raw_bytes += item.size_bytes
        else:
            self._alerts[item_id] = item
        self.used_bytes += item.size_bytes
        return dropped

    def _refuse(self, item: StoredItem) -> StoredItem:
        if item.kind == "raw":
            self.counters.dropped_raw_items += 1
            self.counters.dropped_raw_bytes += item.size_bytes
            logger.info(
                "storage full: raw item %s (%d bytes) dropped on arrival",
                item.item_id,
                item.size_bytes,
            )
        else:
            self.counters.refused_alert_items += 1
            self.counters.refused_alert_bytes += item.size_bytes
            logger.warning(
                "storage full of alerts: alert %s (%d bytes) refused", item.item_id, item.size_bytes
            )
        return item

    def remove(self, item_id: str) -> StoredItem:
        """Take an item out (e.g. after downlink)."""
        src = self._raw if item_id in self._raw else self._alerts
        if item_id not in src:
            raise ConfigError(f"item {item_id!r} is not in storage")
        item = src.pop(item_id)
        self.used_bytes -= item.size_bytes
        if item.kind == "raw":
            self._raw_bytes -= item.size_bytes
        return item
