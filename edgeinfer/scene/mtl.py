"""Landsat MTL metadata: the text ODL form (pre-Collection, Collection 1 and 2) and the
Collection 2 JSON form, flattened to ``KEY -> value`` (group names differ between
collections, key names do not: USGS LSDS-1574 appendix and the Collection 2 Level-1 Data
Format Control Book LSDS-1822).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.errors import SceneError

_LINE = re.compile(r"^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$")
_TEXT_ROOTS = ("GROUP = L1_METADATA_FILE", "GROUP = LANDSAT_METADATA_FILE")


def looks_like_mtl(path: Path) -> bool:
    """True when the file's first bytes are a Landsat MTL (text or JSON), whatever its name."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512).decode("ascii", errors="replace")
    except OSError:
        return False
    stripped = head.lstrip()
    if any(stripped.startswith(root) for root in _TEXT_ROOTS):
        return True
    return stripped.startswith("{") and (
        '"LANDSAT_METADATA_FILE"' in head or '"L1_METADATA_FILE"' in head
    )


@dataclass(frozen=True)
class LandsatMetadata:
    """The MTL values edgeinfer uses; ``values`` keeps every key (flattened)."""

    path: str
    values: dict[str, str] = field(repr=False)

    def get_float(self, key: str) -> float | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            return None

    def require_float(self, key: str) -> float:
        value = self.get_float(key)
        if value is None:
            raise SceneError(
                f"Landsat MTL {self.path} has no numeric {key}; pass the complete MTL file "
                "delivered with the product"
            )
        return value

    @property
    def spacecraft(self) -> str | None:
        return self.values.get("SPACECRAFT_ID")

    @property
    def product_id(self) -> str | None:
        return self.values.get("LANDSAT_PRODUCT_ID") or self.values.get("LANDSAT_SCENE_ID")

    @property
    def sun_elevation_deg(self) -> float | None:
        return self.get_float("SUN_ELEVATION")

    @property
    def earth_sun_distance_au(self) -> float | None:
        return self.get_float("EARTH_SUN_DISTANCE")

    @property
    def acquired(self) -> dt.datetime | None:
        """DATE_ACQUIRED + SCENE_CENTER_TIME as an aware UTC datetime (date at 00:00 when the
        time is absent)."""
        date_s = self.values.get("DATE_ACQUIRED") or self.values.get("ACQUISITION_DATE")
        if not date_s:
            return None
        date = dt.date.fromisoformat(date_s)
        time_s = self.values.get("SCENE_CENTER_TIME") or self.values.get("SCENE_CENTER_SCAN_TIME")
        if not time_s:
            return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)
        match = re.match(r"(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?", time_s)
        if match is None:
            return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)
        hh, mm, ss, frac = match.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return dt.datetime(
            date.year, date.month, date.day, int(hh), int(mm), int(ss), micro, tzinfo=dt.UTC
        )

    def band_file(self, band: str) -> str | None:
        """File name the MTL records for band ``"1"``..``"11"`` or ``"QUALITY"``."""
        return self.values.get(f"FILE_NAME_BAND_{band}") or (
            self.values.get("FILE_NAME_QUALITY_L1_PIXEL") if band == "QUALITY" else None
        )


def read_mtl(path: Path) -> LandsatMetadata:
    """Parse a Landsat MTL file (text ODL or JSON)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise SceneError(f"cannot read Landsat MTL {path}: {exc.strerror}; check the path") from exc
    if text.lstrip().startswith("{"):
        try:
            tree = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SceneError(
                f"Landsat MTL {path} is not valid JSON ({exc.msg}); re-download the product"
            ) from exc
        values: dict[str, str] = {}
        _flatten(tree, values)
    else:
        values = _parse_odl(text)
    if not values:
        raise SceneError(f"Landsat MTL {path} holds no KEY = VALUE lines; re-download the product")
    return LandsatMetadata(str(path), values)


def _parse_odl(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        key, raw = match.groups()
        if key in ("GROUP", "END_GROUP"):
            continue
        values.setdefault(key, raw.strip().strip('"'))
    return values


def _flatten(node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict | list):
                _flatten(value, out)
            else:
                out.setdefault(str(key), "" if value is None else str(value))
    elif isinstance(node, list):
        for item in node:
            _flatten(item, out)
