"""The fixed-layout binary alert record: size, exact round trip, quantisation."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeinfer.detect.alerts import Alert
from edgeinfer.detect.records import RECORD_SIZE, AlertRecord, scene_hash
from edgeinfer.errors import LinkError

U32 = st.integers(0, 2**32 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)


def test_record_is_48_bytes_big_endian() -> None:
    assert RECORD_SIZE == 48
    rec = AlertRecord(1, 2, 3, 65535, 999, 1, -1, 2, 3, 4, 5, 6, 7, 8, 9)
    raw = rec.pack()
    assert len(raw) == 48
    assert raw[:4] == bytes([1, 1, 2, 3])  # version, detector, class, flags
    assert raw[4:6] == b"\xff\xff" and raw[6:8] == (999).to_bytes(2, "big")
    assert raw[12:16] == struct.pack(">i", -1)
    assert raw[44:48] == (9).to_bytes(4, "big")


@given(
    st.tuples(
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 65535),
        st.integers(0, 999),
        U32,
        I32,
        I32,
        U32,
        U32,
        U32,
        U32,
        U32,
        U32,
        U32,
    )
)
def test_pack_unpack_round_trips_exactly(fields: tuple[int, ...]) -> None:
    rec = AlertRecord(*fields)
    raw = rec.pack()
    assert len(raw) == RECORD_SIZE
    assert AlertRecord.unpack(raw) == rec


def _alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "alert_id": "x",
        "detector": "fire",
        "cls": 2,
        "class_name": "detected",
        "confidence": 0.73,
        "pixel_count": 5,
        "bbox_px": (10, 20, 13, 22),
        "centroid_px": (11.5, 21.0),
        "centroid_lonlat": (-122.4194155, 37.7749295),
        "footprint_lonlat": None,
        "scene_id": "LC08_L1TP_044034_20200801",
        "tile_id": "t",
        "capture_time": dt.datetime(2020, 8, 1, 18, 40, 12, 345678, tzinfo=dt.UTC),
    }
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-90, 90),
    conf=st.floats(0, 1),
    when=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)),
)
def test_quantisation_error_is_bounded(
    lon: float, lat: float, conf: float, when: dt.datetime
) -> None:
    alert = _alert(centroid_lonlat=(lon, lat), confidence=conf, capture_time=when)
    back = AlertRecord.unpack(alert.to_record(sequence=7).pack())
    assert back.lonlat is not None and back.capture_time is not None
    assert abs(back.lonlat[0] - lon) <= 0.5e-6 + 1e-12  # micro-degree rounding
    assert abs(back.lonlat[1] - lat) <= 0.5e-6 + 1e-12
    assert abs(back.confidence - conf) <= 0.5 / 65535 + 1e-12
    # naive datetimes are UTC; milliseconds truncate
    delta = when.replace(tzinfo=dt.UTC) - back.capture_time
    assert dt.timedelta(0) <= delta < dt.timedelta(milliseconds=1)
    assert back.sequence == 7


def test_from_alert_fields() -> None:
    rec = _alert().to_record(sequence=42)
    assert (rec.detector, rec.cls, rec.pixel_count, rec.bbox_px) == ("fire", 2, 5, (10, 20, 13, 22))
    assert rec.lon_udeg == -122419416 and rec.lat_udeg == 37774930
    # 2020-08-01 is 20 * 365 + 5 leap days + 213 days (Jan-Jul 2020) = 7518 days after
    # 2000-01-01; 18:40:12 is 67212 s into the day
    assert rec.time_s == 7518 * 86400 + 67212 and rec.time_ms == 345
    assert rec.scene_hash == scene_hash("LC08_L1TP_044034_20200801")
    chip = _alert(centroid_lonlat=None, capture_time=None, detector="ship").to_record()
    assert chip.lonlat is None and chip.capture_time is None and chip.flags == 0
    assert chip.detector == "ship"


def test_bad_bytes_and_values_are_link_errors() -> None:
    raw = AlertRecord(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0).pack()
    with pytest.raises(LinkError, match=r"has 47 bytes, expected 48"):
        AlertRecord.unpack(raw[:-1])
    with pytest.raises(LinkError, match=r"version 9 is unknown"):
        AlertRecord.unpack(b"\x09" + raw[1:])
    with pytest.raises(LinkError, match=r"cls = 256 is outside 0\.\.255"):
        AlertRecord(1, 256, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0)
    with pytest.raises(LinkError, match=r"time_s = -1"):
        _alert(capture_time=dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)).to_record()
