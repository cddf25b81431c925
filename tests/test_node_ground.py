"""The ground node: one database for every station (de-duplication spans them), CRC failures
never acknowledged, and a snapshot that is a complete SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgeinfer.link import AlertHeader, encode_alert
from edgeinfer.node import GroundStationNode


def _packet(alert_id: int, seq: int, t: float = 1.7e9) -> bytes:
    return encode_alert(AlertHeader(3, 1, 220, t, alert_id), bytes(48), seq)


def test_one_database_dedups_across_stations_and_rejects_bad_crc(tmp_path: Path) -> None:
    ground = GroundStationNode(tmp_path / "ground.sqlite", ["Svalbard", "Matera"])
    first = ground.receive([_packet(1, 0), _packet(2, 1)], 1.7e9 + 600.0, "Svalbard")
    assert first == [(3 * 8 + 1, 0, 0), (3 * 8 + 1, 0, 1)]  # APID = sat x 8 + detector
    corrupt = bytearray(_packet(3, 2))
    corrupt[20] ^= 0x01
    again = ground.receive([_packet(2, 1), bytes(corrupt)], 1.7e9 + 900.0, "Matera")
    assert again == [(25, 0, 1)]  # the duplicate is acknowledged again, the corrupt one not
    alerts = ground.alerts()
    assert [(a.alert_id, a.station) for a in alerts] == [(1, "Svalbard"), (2, "Svalbard")]
    assert alerts[0].latency_s == 600.0
    c = ground.counters()
    assert c["delivered"] == 2 and c["duplicates_discarded"] == 1 and c["crc_failures"] == 1
    blob = ground.snapshot()
    ground.close()
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(blob)
    with sqlite3.connect(copy) as con:
        assert con.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 2


def test_in_memory_ground_has_no_snapshot() -> None:
    ground = GroundStationNode(None)
    assert ground.receive([_packet(1, 0)], 1.7e9 + 1.0, "ground") and ground.snapshot() == b""
    assert ground.export()["counters"]["delivered"] == 1
