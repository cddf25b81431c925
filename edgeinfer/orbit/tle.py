"""Two-line element sets (TLEs): parse CelesTrak 2- and 3-line text, verify, write back.

The column layout is the NORAD/CelesTrak one (T.S. Kelso, "NORAD Two-Line Element Set Format",
celestrak.org/columns/v04n03; Vallado et al. 2006, AIAA 2006-6753, appendix). Each line ends in
a modulo-10 checksum: the sum of its digits plus one for each minus sign. A bad line raises
:class:`~edgeinfer.errors.OrbitError` whose first line says where and what is wrong and whose
next lines show the user's line over the expected template, with a caret at the first bad
column (the way sgp4 reports a malformed TLE).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sgp4.api import Satrec
from sgp4.conveniences import sat_epoch_datetime

from edgeinfer.errors import OrbitError

logger = logging.getLogger(__name__)

TEMPLATE_LINE1 = "1 NNNNNC NNNNNAAA NNNNN.NNNNNNNN +.NNNNNNNN +NNNNN-N +NNNNN-N N NNNNN"
TEMPLATE_LINE2 = "2 NNNNN NNN.NNNN NNN.NNNN NNNNNNN NNN.NNNN NNN.NNNN NN.NNNNNNNNNNNNNN"
TLE_LINE_LENGTH = 69

_DIGIT = frozenset("0123456789")
_NUM = _DIGIT | {" "}
_SIGN = frozenset(" +-")
_ALNUM = _DIGIT | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ANY = frozenset(chr(c) for c in range(32, 127))


def _columns(spec: list[tuple[int, int, frozenset[str], str]]) -> list[tuple[frozenset[str], str]]:
    cols: list[tuple[frozenset[str], str]] = [(_ANY, "any")] * TLE_LINE_LENGTH
    for first, last, allowed, what in spec:  # 1-based inclusive columns as in the format doc
        for c in range(first - 1, last):
            cols[c] = (allowed, what)
    return cols


# Allowed characters per column (Kelso, "NORAD Two-Line Element Set Format").
_LINE1 = _columns(
    [
        (1, 1, frozenset("1"), "'1'"),
        (2, 2, frozenset(" "), "a space"),
        (3, 3, _ALNUM, "the catalog number (digit or Alpha-5 letter)"),
        (4, 7, _DIGIT, "a catalog-number digit"),
        (8, 8, frozenset("UCS "), "the classification U, C or S"),
        (9, 9, frozenset(" "), "a space"),
        (10, 17, _ANY, "the international designator"),
        (18, 18, frozenset(" "), "a space"),
        (19, 23, _NUM, "an epoch digit (YYDDD)"),
        (24, 24, frozenset("."), "'.' in the epoch"),
        (25, 32, _NUM, "an epoch fraction digit"),
        (33, 33, frozenset(" "), "a space"),
        (34, 34, _SIGN, "the sign of ndot"),
        (35, 35, frozenset("."), "'.' in ndot"),
        (36, 43, _NUM, "an ndot digit"),
        (44, 44, frozenset(" "), "a space"),
        (45, 45, _SIGN, "the sign of nddot"),
        (46, 50, _NUM, "an nddot mantissa digit"),
        (51, 51, _SIGN, "the exponent sign of nddot"),
        (52, 52, _DIGIT, "the exponent digit of nddot"),
        (53, 53, frozenset(" "), "a space"),
        (54, 54, _SIGN, "the sign of BSTAR"),
        (55, 59, _NUM, "a BSTAR mantissa digit"),
        (60, 60, _SIGN, "the exponent sign of BSTAR"),
        (61, 61, _DIGIT, "the exponent digit of BSTAR"),
        (62, 62, frozenset(" "), "a space"),
        (63, 63, _NUM, "the ephemeris type"),
        (64, 64, frozenset(" "), "a space"),
        (65, 68, _NUM, "an element-set-number digit"),
        (69, 69, _DIGIT, "the checksum digit"),
    ]
)
_LINE2 = _columns(
    [
        (1, 1, frozenset("2"), "'2'"),
        (2, 2, frozenset(" "), "a space"),
        (3, 3, _ALNUM, "the catalog number (digit or Alpha-5 letter)"),
        (4, 7, _DIGIT, "a catalog-number digit"),
        (8, 8, frozenset(" "), "a space"),
        (9, 11, _NUM, "an inclination digit"),
        (12, 12, frozenset("."), "'.' in the inclination"),
        (13, 16, _NUM, "an inclination digit"),
        (17, 17, frozenset(" "), "a space"),
        (18, 20, _NUM, "a RAAN digit"),
        (21, 21, frozenset("."), "'.' in the RAAN"),
        (22, 25, _NUM, "a RAAN digit"),
        (26, 26, frozenset(" "), "a space"),
        (27, 33, _NUM, "an eccentricity digit (implied leading '0.')"),
        (34, 34, frozenset(" "), "a space"),
        (35, 37, _NUM, "an argument-of-perigee digit"),
        (38, 38, frozenset("."), "'.' in the argument of perigee"),
        (39, 42, _NUM, "an argument-of-perigee digit"),
        (43, 43, frozenset(" "), "a space"),
        (44, 46, _NUM, "a mean-anomaly digit"),
        (47, 47, frozenset("."), "'.' in the mean anomaly"),
        (48, 51, _NUM, "a mean-anomaly digit"),
        (52, 52, frozenset(" "), "a space"),
        (53, 54, _NUM, "a mean-motion digit"),
        (55, 55, frozenset("."), "'.' in the mean motion"),
        (56, 63, _NUM, "a mean-motion digit"),
        (64, 68, _NUM, "a revolution-number digit"),
        (69, 69, _DIGIT, "the checksum digit"),
    ]
)


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 columns: digits count their value, '-' counts 1."""
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def _bad_line(
    source: str, lineno: int, line: str, which: int, column: int, problem: str
) -> OrbitError:
    template = TEMPLATE_LINE1 if which == 1 else TEMPLATE_LINE2
    caret = " " * (column - 1) + "^" if column >= 1 else ""
    return OrbitError(
        f"{source}:{lineno}: bad TLE line {which}: {problem}; fix the line to match the template\n"
        f"  got:      {line}\n"
        f"  expected: {template}\n"
        f"            {caret}"
    )


def check_tle_line(line: str, which: int, source: str = "<tle>", lineno: int = 0) -> None:
    """Check one TLE line against the column template and its checksum; raise OrbitError."""
    if len(line) != TLE_LINE_LENGTH:
        raise _bad_line(
            source,
            lineno,
            line,
            which,
            min(len(line), TLE_LINE_LENGTH) + 1,
            f"it has {len(line)} characters, a TLE line has {TLE_LINE_LENGTH} (checksum included)",
        )
    spec = _LINE1 if which == 1 else _LINE2
    for i, (ch, (allowed, what)) in enumerate(zip(line, spec, strict=True)):
        if ch not in allowed:
            raise _bad_line(
                source, lineno, line, which, i + 1, f"column {i + 1} is {ch!r}, expected {what}"
            )
    expected = tle_checksum(line)
    if int(line[68]) != expected:
        raise _bad_line(
            source,
            lineno,
            line,
            which,
            69,
            f"checksum is {line[68]}, the line's digits give {expected}",
        )


@dataclass(frozen=True)
class TLE:
    """One element set: a name and its two verified lines."""

    name: str
    line1: str
    line2: str

    @classmethod
    def from_lines(
        cls, name: str | None, line1: str, line2: str, source: str = "<tle>", lineno: int = 0
    ) -> TLE:
        """Verify two lines (template, checksums, matching catalog numbers) and build a TLE."""
        line1 = line1.rstrip()
        line2 = line2.rstrip()
        check_tle_line(line1, 1, source, lineno)
        check_tle_line(line2, 2, source, lineno + 1)
        if line1[2:7] != line2[2:7]:
            raise _bad_line(
                source,
                lineno + 1,
                line2,
                2,
                3,
                f"catalog number {line2[2:7]!r} differs from line 1's {line1[2:7]!r}",
            )
        clean = (name or "").strip()
        if clean.startswith("0 "):  # space-track 3LE names carry a leading "0 "
            clean = clean[2:].strip()
        return cls(clean or line1[2:7].strip(), line1, line2)

    @property
    def catalog_number(self) -> str:
        """NORAD catalog number as written (five characters, Alpha-5 allowed)."""
        return self.line1[2:7].strip()

    def satrec(self) -> Satrec:
        """The sgp4 record (WGS-72 constants, the convention TLEs are fitted with)."""
        return Satrec.twoline2rv(self.line1, self.line2)

    @property
    def epoch(self) -> datetime:
        """Epoch of the element set as an aware UTC datetime."""
        epoch: datetime = sat_epoch_datetime(self.satrec())
        return epoch

    def to_text(self, three_line: bool = True) -> str:
        """CelesTrak text: name (padded to 24 characters) then the two lines, LF endings."""
        lines = [self.name.ljust(24)] if three_line else []
        return "\n".join([*lines, self.line1, self.line2]) + "\n"


def parse_tle_text(text: str, source: str = "<tle>") -> list[TLE]:
    """Parse CelesTrak 2-line or 3-line text (CRLF or LF, padded names) into TLEs.

    A 3-line set is a name line followed by lines 1 and 2; a 2-line set is named after its
    catalog number. Anything else raises :class:`OrbitError` naming ``source`` and line number.
    """
    raw = [ln.rstrip() for ln in text.splitlines()]
    out: list[TLE] = []
    i = 0
    n = len(raw)
    while i < n:
        line = raw[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("1 ") and i + 1 < n and raw[i + 1].startswith("2 "):
            out.append(TLE.from_lines(None, line, raw[i + 1], source, i + 1))
            i += 2
            continue
        if line.startswith(("1 ", "2 ")) and len(line) >= 60:
            which = 1 if line.startswith("1 ") else 2
            problem = "line 2 does not follow it" if which == 1 else "no line 1 precedes it"
            raise _bad_line(source, i + 1, line, which, 1, problem)
        if i + 2 < n and raw[i + 1].startswith("1") and raw[i + 2].startswith("2"):
            out.append(TLE.from_lines(line, raw[i + 1], raw[i + 2], source, i + 2))
            i += 3
            continue
        nxt = raw[i + 1] if i + 1 < n else ""
        raise _bad_line(
            source,
            i + 2,
            nxt,
            1,
            1,
            f"name line {line.strip()!r} is not followed by TLE lines 1 and 2",
        )
    logger.debug("parsed %d element sets from %s", len(out), source)
    return out


def read_tle_file(path: str | Path) -> list[TLE]:
    """Read a CelesTrak TLE file (2- or 3-line, CRLF or LF)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OrbitError(f"cannot read TLE file {p}: {exc.strerror}; check the path") from None
    tles = parse_tle_text(text, str(p))
    if not tles:
        raise OrbitError(f"TLE file {p} holds no element sets; give a CelesTrak 2- or 3-line file")
    return tles


def write_tle_file(path: str | Path, tles: list[TLE], three_line: bool = True) -> None:
    """Write element sets as CelesTrak text (LF endings)."""
    Path(path).write_text("".join(t.to_text(three_line) for t in tles), encoding="ascii")


# How far from its epoch a TLE is trusted without a warning. SGP4 from a TLE is good to about
# 1 km at the epoch and drifts 1-3 km/day away from it (REFERENCE.md, "Orbits"; the growth of
# SGP4's error with time from epoch: Vallado et al. 2006, "Revisiting Spacetrack Report #3",
# AIAA 2006-6753). At 30 days that is 30-90 km, i.e. 4-12 s along a 786 km orbit flown at
# ~7.5 km/s (sqrt(GM/r)): pass and eclipse times and which scenes a satellite images are no
# longer trustworthy. Old TLEs are only warned about, never refused (historical studies).
STALE_TLE_DAYS = 30.0
_DRIFT_KM_PER_DAY = (1.0, 3.0)  # REFERENCE.md, "Orbits"
_LISTED = 10  # satellites named in one warning line; the rest are counted


def epoch_offset_days(epoch: datetime, start: datetime, end: datetime) -> float:
    """Days from the window ``[start, end]`` to ``epoch``: negative when the epoch is before
    the start, positive after the end, 0 inside."""
    if epoch < start:
        return (epoch - start).total_seconds() / 86400.0
    if epoch > end:
        return (epoch - end).total_seconds() / 86400.0
    return 0.0


def tle_epoch_ages(tles: Iterable[TLE], start: datetime, end: datetime) -> dict[str, float]:
    """Per satellite, days between its TLE epoch and the nearest instant of ``[start, end]``
    (0 when the epoch lies inside), rounded to 0.01 day."""
    return {t.name: round(abs(epoch_offset_days(t.epoch, start, end)), 2) for t in tles}


def warn_stale_tles(
    tles: Iterable[TLE], start: datetime, end: datetime, limit_days: float = STALE_TLE_DAYS
) -> list[str]:
    """Log one WARNING naming every satellite whose TLE epoch is more than ``limit_days``
    from the window ``[start, end]`` (its epoch, how far and on which side) with the fix;
    return their names. The satellites are still propagated."""
    stale = []
    for t in tles:
        offset = epoch_offset_days(t.epoch, start, end)
        if abs(offset) > limit_days:
            side = "before the window's start" if offset < 0 else "after the window's end"
            epoch = t.epoch.strftime("%Y-%m-%dT%H:%MZ")
            stale.append((t.name, f"{t.name} (epoch {epoch}, {abs(offset):.1f} days {side})"))
    if stale:
        listed = "; ".join(text for _, text in stale[:_LISTED])
        more = f"; and {len(stale) - _LISTED} more" if len(stale) > _LISTED else ""
        low, high = _DRIFT_KM_PER_DAY
        logger.warning(
            "%d TLE(s) are more than %g days from the window %s..%s: %s%s. SGP4 drifts "
            "%g-%g km/day from a TLE's epoch, so their positions, passes and eclipses may be "
            "far off; fetch current TLEs (e.g. CelesTrak, https://celestrak.org/NORAD/elements/) "
            "or move the window near the epoch",
            len(stale),
            limit_days,
            start.strftime("%Y-%m-%dT%H:%MZ"),
            end.strftime("%Y-%m-%dT%H:%MZ"),
            listed,
            more,
            low,
            high,
        )
    return [name for name, _ in stale]
