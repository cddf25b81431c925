"""Orbits for edgeinfer: TLEs, generated constellations, propagation, passes, eclipses, imaging.

Most users want these names::

    from edgeinfer.orbit import Constellation, TimeGrid, find_contacts, station_from_spec
"""

from edgeinfer.orbit.constellation import Constellation, Track
from edgeinfer.orbit.eclipse import (
    Eclipse,
    SunEphemeris,
    eclipse_fraction,
    find_eclipses,
    shadow_function,
    sunlit,
)
from edgeinfer.orbit.elements import (
    OrbitalElements,
    mean_motion_for_altitude,
    raan_for_ltan_deg,
    sso_inclination_deg,
    tle_from_satrec,
)
from edgeinfer.orbit.imaging import ImagingOpportunity, imaging_opportunities
from edgeinfer.orbit.passes import Contact, elevation_deg, find_contacts, slant_range_km
from edgeinfer.orbit.stations import GroundStation, builtin_stations, station_from_spec
from edgeinfer.orbit.timeutil import TimeGrid, format_utc, parse_utc
from edgeinfer.orbit.tle import TLE, parse_tle_text, read_tle_file, tle_checksum, write_tle_file

__all__ = [
    "TLE",
    "Constellation",
    "Contact",
    "Eclipse",
    "GroundStation",
    "ImagingOpportunity",
    "OrbitalElements",
    "SunEphemeris",
    "TimeGrid",
    "Track",
    "builtin_stations",
    "eclipse_fraction",
    "elevation_deg",
    "find_contacts",
    "find_eclipses",
    "format_utc",
    "imaging_opportunities",
    "mean_motion_for_altitude",
    "parse_tle_text",
    "parse_utc",
    "raan_for_ltan_deg",
    "read_tle_file",
    "shadow_function",
    "slant_range_km",
    "sso_inclination_deg",
    "station_from_spec",
    "sunlit",
    "tle_checksum",
    "tle_from_satrec",
    "write_tle_file",
]
