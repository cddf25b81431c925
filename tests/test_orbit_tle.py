"""TLE parsing, verification and writing, against the real CelesTrak files and sgp4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from sgp4.api import Satrec

from edgeinfer.errors import OrbitError
from edgeinfer.orbit import (
    TLE,
    parse_tle_text,
    read_tle_file,
    tle_checksum,
    tle_from_satrec,
    write_tle_file,
)
from edgeinfer.orbit.tle import TEMPLATE_LINE1, TEMPLATE_LINE2

RAW = ("tle_earth_observation", "raw")
FILES = {
    "celestrak_resource_2016-02-17_UpdateTLE.txt": 112,
    "celestrak_resource_2016-04-18_py-sat-track.txt": 109,
    "celestrak_resource_2024-10-05_SatView.txt": 165,
}
S2A_NAME_LINE = "SENTINEL-2A             "  # CelesTrak pads names to 24 characters


@pytest.fixture(scope="module")
def s2a_lines() -> tuple[str, str, str]:
    path = shared_path(*RAW, "celestrak_resource_2024-10-05_SatView.txt")
    tles = {t.name: t for t in read_tle_file(path)}
    t = tles["SENTINEL-2A"]
    return S2A_NAME_LINE, t.line1, t.line2


@pytest.mark.parametrize("name,count", sorted(FILES.items()))
def test_real_files_parse_with_counts_from_readme(name: str, count: int) -> None:
    tles = read_tle_file(shared_path(*RAW, name))
    assert len(tles) == count  # the README: 386 element sets in all, all with good checksums
    for t in tles:
        assert t.name == t.name.strip() and t.name  # padding and CR stripped
        assert int(t.line1[68]) == tle_checksum(t.line1)
        assert int(t.line2[68]) == tle_checksum(t.line2)


def test_parsed_lines_match_the_csv_the_data_helper_derived() -> None:
    import csv

    rows = list(csv.DictReader(shared_path("tle_earth_observation", "eo_satellites.csv").open()))
    by_file: dict[str, dict[str, TLE]] = {}
    for row in rows:
        if row["source_file"] not in by_file:
            by_file[row["source_file"]] = {
                t.name: t for t in read_tle_file(shared_path(*RAW, row["source_file"]))
            }
        t = by_file[row["source_file"]][row["name"]]
        assert (t.line1, t.line2) == (row["line1"], row["line2"])
        assert t.catalog_number == row["norad_id"]
        assert abs((t.epoch - _iso(row["epoch_utc"])).total_seconds()) < 1e-3


def _iso(text: str):  # type: ignore[no-untyped-def]
    from edgeinfer.orbit import parse_utc

    return parse_utc(text)


def test_two_line_format_names_sets_by_catalog_number(s2a_lines: tuple[str, str, str]) -> None:
    _, l1, l2 = s2a_lines
    three = parse_tle_text("\r\n".join(s2a_lines) + "\r\n")
    two = parse_tle_text(f"{l1}\n{l2}\n\n")
    assert three[0].name == "SENTINEL-2A"
    assert two[0].name == "40697"
    assert (two[0].line1, two[0].line2) == (three[0].line1, three[0].line2)


def test_space_track_three_line_names_lose_the_zero_prefix(s2a_lines: tuple[str, str, str]) -> None:
    _, l1, l2 = s2a_lines
    assert parse_tle_text(f"0 SENTINEL-2A\n{l1}\n{l2}\n")[0].name == "SENTINEL-2A"


def test_bad_checksum_shows_line_and_template(s2a_lines: tuple[str, str, str]) -> None:
    name, l1, l2 = s2a_lines
    bad = l1[:68] + str((int(l1[68]) + 1) % 10)
    with pytest.raises(OrbitError) as info:
        parse_tle_text(f"{name}\n{bad}\n{l2}\n", source="mine.tle")
    msg = str(info.value)
    first, got, expected, caret = msg.splitlines()
    assert first.startswith("mine.tle:2: bad TLE line 1: checksum is")
    assert got.endswith(bad) and expected.endswith(TEMPLATE_LINE1)
    assert caret.index("^") == got.index(bad) + 68  # caret under column 69


def test_bad_column_is_pointed_at(s2a_lines: tuple[str, str, str]) -> None:
    name, l1, l2 = s2a_lines
    bad2 = l2[:11] + "," + l2[12:]  # the inclination's decimal point (column 12)
    with pytest.raises(OrbitError, match=r"line 2: column 12 is ','") as info:
        parse_tle_text(f"{name}\n{l1}\n{bad2}\n")
    lines = str(info.value).splitlines()
    assert lines[2].endswith(TEMPLATE_LINE2)
    assert lines[3].index("^") == lines[1].index(bad2) + 11


def test_short_line_and_missing_line_two_are_rejected(s2a_lines: tuple[str, str, str]) -> None:
    name, l1, l2 = s2a_lines
    with pytest.raises(OrbitError, match="69"):
        parse_tle_text(f"{name}\n{l1[:60]}\n{l2}\n")
    with pytest.raises(OrbitError, match="not followed by TLE lines"):
        parse_tle_text(f"{name}\n{l1}\n")
    with pytest.raises(OrbitError, match="line 2 does not follow"):
        parse_tle_text(f"{l1}\n{name}\n")


def test_catalog_numbers_of_both_lines_must_match(s2a_lines: tuple[str, str, str]) -> None:
    name, l1, l2 = s2a_lines
    other = l2[:2] + "40698" + l2[7:68]
    other += str(tle_checksum(other + "0"))
    with pytest.raises(OrbitError, match="catalog number '40698' differs"):
        parse_tle_text(f"{name}\n{l1}\n{other}\n")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(OrbitError, match=r"nothere\.tle"):
        read_tle_file(tmp_path / "nothere.tle")
    empty = tmp_path / "empty.tle"
    empty.write_text("\n")
    with pytest.raises(OrbitError, match="holds no element sets"):
        read_tle_file(empty)


def test_writer_reproduces_every_2024_celestrak_line_exactly() -> None:
    tles = read_tle_file(shared_path(*RAW, "celestrak_resource_2024-10-05_SatView.txt"))
    for t in tles:
        w = tle_from_satrec(t.satrec(), t.name, intl_designator=t.line1[9:17].strip())
        assert (w.line1, w.line2) == (t.line1, t.line2)


def test_writer_matches_2016_lines_up_to_the_zero_exponent_sign() -> None:
    # CelesTrak wrote a zero nddot as "00000-0" in 2016 and "00000+0" in 2024; both mean 0.
    for t in read_tle_file(shared_path(*RAW, "celestrak_resource_2016-04-18_py-sat-track.txt")):
        w = tle_from_satrec(t.satrec(), t.name, intl_designator=t.line1[9:17].strip())
        assert w.line2 == t.line2
        assert w.line1[:68] == t.line1[:68].replace(" 00000-0 ", " 00000+0 ")
        a, b = Satrec.twoline2rv(w.line1, w.line2), t.satrec()
        e1, r1, _ = a.sgp4(a.jdsatepoch + 1.0, 0.0)
        e2, r2, _ = b.sgp4(b.jdsatepoch + 1.0, 0.0)
        assert e1 == e2 == 0 and np.allclose(r1, r2, atol=0.0, rtol=0.0)


def test_write_and_read_back(tmp_path: Path) -> None:
    tles = read_tle_file(shared_path(*RAW, "celestrak_resource_2016-02-17_UpdateTLE.txt"))[:5]
    for three in (True, False):
        out = tmp_path / f"x{three}.tle"
        write_tle_file(out, tles, three_line=three)
        back = read_tle_file(out)
        assert [(b.line1, b.line2) for b in back] == [(t.line1, t.line2) for t in tles]
        assert [b.name for b in back] == (
            [t.name for t in tles] if three else [t.catalog_number for t in tles]
        )
