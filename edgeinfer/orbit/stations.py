"""Ground stations: a typed record, a small built-in list of real sites, and CLI specs.

Coordinates of the built-in sites are rounded public values (sources beside each entry);
altitudes are approximate (+- 50 m, which moves pass times by far less than a second).
``downlink_rate_bps`` defaults to 220 Mbit/s, the Planet Dove X-band peak rate
(../shared/REFERENCE.md, "Downlink and packets"), since the rate belongs to the link more
than to the site.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeinfer.errors import ConfigError, unknown_name
from edgeinfer.orbit.frames import FloatArray, enu_basis, geodetic_to_ecef

DEFAULT_MIN_ELEVATION_DEG = 5.0  # the mask of REFERENCE.md's pass statistics
DEFAULT_DOWNLINK_RATE_BPS = 220e6  # Planet Dove X-band peak (REFERENCE.md)


@dataclass(frozen=True)
class GroundStation:
    """A receiving site: WGS84 position, elevation mask and downlink rate."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG
    downlink_rate_bps: float = DEFAULT_DOWNLINK_RATE_BPS
    source: str = ""

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ConfigError(f"station {self.name!r}: lat_deg {self.lat_deg} is outside [-90, 90]")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise ConfigError(
                f"station {self.name!r}: lon_deg {self.lon_deg} is outside [-180, 360]"
            )
        if not -90.0 <= self.min_elevation_deg < 90.0:
            raise ConfigError(
                f"station {self.name!r}: min_elevation_deg {self.min_elevation_deg} "
                "is outside [-90, 90)"
            )
        if self.downlink_rate_bps < 0:
            raise ConfigError(f"station {self.name!r}: downlink_rate_bps must be >= 0")

    @property
    def ecef_km(self) -> FloatArray:
        """Earth-fixed position (km)."""
        return geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m / 1000.0)

    @property
    def enu(self) -> FloatArray:
        """Local east/north/up unit vectors (rows) in Earth-fixed coordinates."""
        return enu_basis(self.lat_deg, self.lon_deg)

    def with_mask(self, min_elevation_deg: float) -> GroundStation:
        """The same site with another elevation mask."""
        return GroundStation(
            self.name,
            self.lat_deg,
            self.lon_deg,
            self.alt_m,
            min_elevation_deg,
            self.downlink_rate_bps,
            self.source,
        )


def builtin_stations() -> dict[str, GroundStation]:
    """Real EO ground stations, keyed by lower-case short name."""
    sites = [
        # KSAT SvalSat, Plataberget, Svalbard (ksat.no; position as used in REFERENCE.md pass stats)
        GroundStation(
            "Svalbard", 78.23, 15.39, 500.0, source="KSAT SvalSat, Platåberget (ksat.no)"
        ),
        # ASI Centro di Geodesia Spaziale (ILRS site log MATM 7941: 40.6486 N 16.7046 E, 537 m)
        GroundStation(
            "Matera", 40.6486, 16.7046, 537.0, source="ASI CGS Matera (ILRS site log 7941)"
        ),
        # ESA ESTRACK Kiruna, Salmijarvi (esa.int ESTRACK Kiruna station page)
        GroundStation("Kiruna", 67.8571, 20.9643, 402.0, source="ESA ESTRACK Kiruna (esa.int)"),
        # Inuvik Satellite Station Facility, NWT (Natural Resources Canada ISSF)
        GroundStation(
            "Inuvik", 68.3195, -133.5490, 90.0, source="Inuvik Satellite Station Facility (NRCan)"
        ),
        # KSAT TrollSat at the Norwegian Troll research station, Queen Maud Land
        GroundStation(
            "Troll",
            -72.0117,
            2.5350,
            1270.0,
            source="KSAT TrollSat / Norwegian Polar Institute Troll",
        ),
        # NASA Near Earth Network McMurdo Ground Station (MG1), Ross Island
        GroundStation(
            "McMurdo", -77.8391, 166.6670, 150.0, source="NASA NEN McMurdo Ground Station"
        ),
        # SANSA Space Operations / HartRAO, Hartebeesthoek (HartRAO: 25.8897 S 27.6861 E, 1416 m)
        GroundStation(
            "Hartebeesthoek", -25.8897, 27.6861, 1416.0, source="SANSA Hartebeesthoek (HartRAO)"
        ),
        # ESA ESTRACK Kourou (Diane), French Guiana: an equatorial site
        GroundStation("Kourou", 5.2515, -52.8047, 15.0, source="ESA ESTRACK Kourou (esa.int)"),
        # Alaska Satellite Facility, Fairbanks (asf.alaska.edu)
        GroundStation(
            "Fairbanks",
            64.8594,
            -147.8500,
            180.0,
            source="Alaska Satellite Facility (asf.alaska.edu)",
        ),
    ]
    return {s.name.lower(): s for s in sites}


def station_from_spec(spec: str, min_elevation_deg: float | None = None) -> GroundStation:
    """A built-in station by name (case-insensitive) or ``LAT,LON,ALT_M`` in degrees and metres."""
    text = spec.strip()
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) not in (2, 3):
            raise ConfigError(
                f"bad station {spec!r}; give a known name or LAT,LON,ALT_M in degrees and metres, "
                "e.g. 78.23,15.39,500"
            )
        alt = values[2] if len(values) == 3 else 0.0
        try:
            st = GroundStation(f"{values[0]:.4f},{values[1]:.4f}", values[0], values[1], alt)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; give LAT,LON,ALT_M with -90 <= LAT <= 90 and -180 <= LON <= 360 "
                "(degrees; ALT_M in metres), e.g. 78.23,15.39,500"
            ) from exc
    else:
        known = builtin_stations()
        found = known.get(text.lower())
        if found is None:
            err = unknown_name("station", spec, [s.name for s in known.values()])
            raise type(err)(f"{err}; or give LAT,LON,ALT_M such as 78.23,15.39,500")
        st = found
    return st if min_elevation_deg is None else st.with_mask(min_elevation_deg)
