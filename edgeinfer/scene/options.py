"""Options of :func:`edgeinfer.scene.open_scene`, validated once and passed to the readers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rasterio.enums import Resampling

from edgeinfer.errors import ConfigError
from edgeinfer.scene.bands import canonical_band_name

PRODUCTS = ("auto", "geotiff", "landsat", "sentinel2", "sar")
RESAMPLINGS = ("nearest", "bilinear", "cubic", "average")


@dataclass(frozen=True)
class OpenOptions:
    """What the user told us about a product (everything optional)."""

    bands: tuple[str, ...] | None = None
    acquired: dt.datetime | dt.date | None = None
    scene_id: str | None = None
    pixel_size_m: float | None = None
    resolution_m: float | None = None
    processing_baseline: float | None = None
    sun_elevation_deg: float | None = None
    resampling: str = "nearest"
    reflectance_scale: float | None = None

    @property
    def resampling_enum(self) -> Resampling:
        return Resampling[self.resampling]

    @property
    def acquired_datetime(self) -> dt.datetime | None:
        """``acquired`` as an aware UTC datetime (a bare date -> midnight UTC)."""
        value = self.acquired
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)

    @property
    def acquired_has_time(self) -> bool:
        return isinstance(self.acquired, dt.datetime)


def make_options(
    bands: Sequence[str] | str | None,
    acquired: dt.datetime | dt.date | str | None,
    scene_id: str | None,
    pixel_size_m: float | None,
    resolution_m: float | None,
    processing_baseline: str | float | None,
    sun_elevation_deg: float | None,
    resampling: str,
    reflectance_scale: float | None = None,
) -> OpenOptions:
    """Validate the raw option values (ConfigError naming the option on a bad value)."""
    return OpenOptions(
        bands=_bands(bands),
        acquired=_acquired(acquired),
        scene_id=scene_id,
        pixel_size_m=_positive("pixel_size_m", pixel_size_m),
        resolution_m=_positive("resolution_m", resolution_m),
        processing_baseline=parse_baseline(processing_baseline),
        sun_elevation_deg=_sun(sun_elevation_deg),
        resampling=_resampling(resampling),
        reflectance_scale=_positive("reflectance_scale", reflectance_scale),
    )


def parse_baseline(value: str | float | None) -> float | None:
    """Sentinel-2 processing baseline: ``"04.00"``, ``"N0400"``, ``"0400"`` or ``4.0``."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = value.strip().upper().lstrip("N")
    match = re.fullmatch(r"(\d{2})\.?(\d{2})", text)
    if match is None:
        raise ConfigError(
            f"processing_baseline {value!r} is not a Sentinel-2 baseline; use e.g. '04.00', "
            "'N0400' or 4.0"
        )
    return int(match.group(1)) + int(match.group(2)) / 100.0


def _bands(bands: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if bands is None:
        return None
    items = bands.split(",") if isinstance(bands, str) else list(bands)
    names = tuple(canonical_band_name(str(b).strip()) for b in items)
    if not names or any(not n for n in names):
        raise ConfigError(
            f"bands {bands!r} contains an empty name; give comma-separated names like B1,B2,B3"
        )
    return names


def _acquired(value: dt.datetime | dt.date | str | None) -> dt.datetime | dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"acquired {value!r} is not an ISO date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
        ) from None


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number of metres, got {value!r}")
    return float(value)


def _sun(value: float | None) -> float | None:
    if value is None:
        return None
    if not 0.0 < value <= 90.0:
        raise ConfigError(
            f"sun_elevation_deg must be in (0, 90] for a daytime optical scene, got {value!r}"
        )
    return float(value)


def _resampling(value: str) -> str:
    if value not in RESAMPLINGS:
        raise ConfigError(
            f"resampling {value!r} is unknown; choose one of {', '.join(RESAMPLINGS)}"
        )
    return value
