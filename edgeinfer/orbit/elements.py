"""Orbital elements -> sgp4 records -> TLE text; sun-synchronous inclination and node time.

Generated orbits are built with sgp4's ``Satrec.sgp4init`` on the WGS-72 constants SGP4 uses
(Vallado et al. 2006, AIAA 2006-6753) and written out as TLE lines with correct checksums by
:func:`tle_from_satrec`, so a generated constellation is as portable as a CelesTrak file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sgp4.alpha5 import to_alpha5
from sgp4.api import WGS72, Satrec

from edgeinfer.errors import OrbitError
from edgeinfer.orbit.timeutil import as_utc, julian_date
from edgeinfer.orbit.tle import TLE, tle_checksum

# WGS-72 constants, the ones SGP4 and TLEs use (Vallado et al. 2006, AIAA 2006-6753, table 1).
MU_KM3_S2 = 398600.8
EARTH_RADIUS_WGS72_KM = 6378.135
J2_WGS72 = 0.001082616

# Mean motion of the mean Sun: 360 deg per tropical year of 365.2421897 days (Vallado,
# Fundamentals of Astrodynamics and Applications, 4th ed., 2013, sec. 3.5 and eq. 9-41 context).
SUN_MEAN_MOTION_RAD_S = 2.0 * math.pi / (365.2421897 * 86400.0)

_SGP4_EPOCH_JD = 2433281.5  # sgp4init epochs count days from 1949 December 31 00:00 UT
_XPDOTP = 1440.0 / (2.0 * math.pi)  # rev/day per rad/min


def sso_inclination_deg(altitude_km: float, eccentricity: float = 0.0) -> float:
    """Inclination (deg) that makes the J2 nodal precession follow the mean Sun.

    Secular nodal rate from J2 (Vallado 2013, eq. 9-41):
    ``dOmega/dt = -3/2 * n * J2 * (R/p)^2 * cos(i)`` with ``p = a (1 - e^2)`` and
    ``n = sqrt(mu / a^3)``; setting it to +360 deg per tropical year gives
    ``cos(i) = -2 * dOmega/dt * p^2 / (3 * n * J2 * R^2)``. ``altitude_km`` is the mean
    altitude above the WGS-72 equatorial radius (about 98.6 deg at 786 km, 97.4 deg at 500 km).
    """
    a = EARTH_RADIUS_WGS72_KM + altitude_km
    p = a * (1.0 - eccentricity**2)
    n = math.sqrt(MU_KM3_S2 / a**3)
    cos_i = -2.0 * SUN_MEAN_MOTION_RAD_S * p**2 / (3.0 * n * J2_WGS72 * EARTH_RADIUS_WGS72_KM**2)
    if not -1.0 <= cos_i <= 1.0:
        raise OrbitError(
            f"no sun-synchronous orbit exists at altitude_km={altitude_km}; use an altitude "
            "below about 5970 km"
        )
    return math.degrees(math.acos(cos_i))


def gmst_rad(value: datetime) -> float:
    """Greenwich mean sidereal time (IAU 1982, the TEME angle of AIAA 2006-6753 app. C)."""
    jd, fr = julian_date(value)
    t = (jd - 2451545.0 + fr) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    return ((jd % 1.0 + fr + g / 86400.0 % 1.0) % 1.0) * 2.0 * math.pi


def raan_for_ltan_deg(epoch: datetime, ltan_hours: float) -> float:
    """RAAN (deg, TEME) putting the ascending node at local mean solar time ``ltan_hours``.

    Local mean time of a meridian is UT + longitude/15 h, and the node's longitude is
    RAAN - GMST, so RAAN = GMST + 15 deg/h * (LTAN - UT) (Wertz & Larson, Space Mission
    Analysis and Design, 3rd ed., sec. 6.2 on sun-synchronous node times). For a sun-synchronous
    orbit the descending node is 12 h from the ascending one (10:30 LTDN = 22:30 LTAN).
    """
    e = as_utc(epoch)
    ut_h = e.hour + e.minute / 60.0 + (e.second + e.microsecond * 1e-6) / 3600.0
    return (math.degrees(gmst_rad(e)) + 15.0 * (ltan_hours - ut_h)) % 360.0


@dataclass(frozen=True)
class OrbitalElements:
    """Mean (SGP4) Keplerian elements at ``epoch``; angles in degrees."""

    epoch: datetime
    inclination_deg: float
    raan_deg: float
    eccentricity: float
    arg_perigee_deg: float
    mean_anomaly_deg: float
    mean_motion_rev_per_day: float
    bstar_per_earth_radius: float = 0.0

    @classmethod
    def circular(
        cls,
        epoch: datetime,
        altitude_km: float,
        inclination_deg: float,
        raan_deg: float,
        arg_latitude_deg: float,
    ) -> OrbitalElements:
        """A circular orbit whose SGP4 mean semi-major axis is R_eq + ``altitude_km``."""
        return cls(
            epoch=as_utc(epoch),
            inclination_deg=inclination_deg,
            raan_deg=raan_deg % 360.0,
            eccentricity=0.0,
            arg_perigee_deg=0.0,
            mean_anomaly_deg=arg_latitude_deg % 360.0,
            mean_motion_rev_per_day=mean_motion_for_altitude(altitude_km, inclination_deg),
        )

    def to_satrec(self, catalog_number: int = 99999) -> Satrec:
        """Initialise an sgp4 record from these elements (WGS-72, improved mode)."""
        if not 0.0 <= self.eccentricity < 1.0:
            raise OrbitError(
                f"eccentricity {self.eccentricity} is outside [0, 1); give a bound orbit"
            )
        if not 0.0 <= self.inclination_deg <= 180.0:
            raise OrbitError(f"inclination_deg {self.inclination_deg} is outside [0, 180]")
        jd, fr = julian_date(self.epoch)
        sat = Satrec()
        sat.sgp4init(
            WGS72,
            "i",
            catalog_number,
            (jd - _SGP4_EPOCH_JD) + fr,
            self.bstar_per_earth_radius,
            0.0,
            0.0,
            self.eccentricity,
            math.radians(self.arg_perigee_deg % 360.0),
            math.radians(self.inclination_deg),
            math.radians(self.mean_anomaly_deg % 360.0),
            self.mean_motion_rev_per_day / _XPDOTP,
            math.radians(self.raan_deg % 360.0),
        )
        if sat.error:
            raise OrbitError(f"sgp4init rejected the elements {self} (sgp4 error {sat.error})")
        return sat


def mean_motion_for_altitude(
    altitude_km: float, inclination_deg: float, eccentricity: float = 0.0
) -> float:
    """TLE (Kozai) mean motion in rev/day whose SGP4 mean semi-major axis is R + altitude.

    SGP4 converts the TLE's Kozai mean motion to a Brouwer one before use; the difference
    moves the semi-major axis by a few km, so this solves for it with sgp4init itself.
    """
    if altitude_km <= 0:
        raise OrbitError(f"altitude_km must be > 0, got {altitude_km}")
    target_er = (EARTH_RADIUS_WGS72_KM + altitude_km) / EARTH_RADIUS_WGS72_KM
    n_rad_min = math.sqrt(MU_KM3_S2 / (target_er * EARTH_RADIUS_WGS72_KM) ** 3) * 60.0
    for _ in range(6):
        sat = Satrec()
        sat.sgp4init(
            WGS72, "i", 1, 27000.0, 0.0, 0.0, 0.0, eccentricity, 0.0,
            math.radians(inclination_deg), 0.0, n_rad_min, 0.0,
        )  # fmt: skip
        n_rad_min *= (sat.a / target_er) ** 1.5
    return n_rad_min * _XPDOTP


def _exp_field(value: float) -> str:
    """TLE 8-character exponent field ' NNNNN-N' meaning 0.NNNNN x 10^-N."""
    if value == 0.0:
        return " 00000+0"
    sign = "-" if value < 0 else " "
    exponent = math.floor(math.log10(abs(value))) + 1
    mantissa = round(abs(value) / 10.0**exponent * 1e5)
    if mantissa >= 100000:
        mantissa //= 10
        exponent += 1
    if not -9 <= exponent <= 9:
        raise OrbitError(f"value {value} does not fit a TLE exponent field (|exponent| > 9)")
    return f"{sign}{mantissa:05d}{'-' if exponent < 0 else '+'}{abs(exponent)}"


def _angle(value_rad: float) -> str:
    deg = round(math.degrees(value_rad) % 360.0, 4) % 360.0
    return f"{deg:8.4f}"


def tle_from_satrec(
    sat: Satrec, name: str, catalog_number: int | None = None, intl_designator: str = ""
) -> TLE:
    """Write an sgp4 record as a verified TLE (fields from the record, fresh checksums)."""
    number = to_alpha5(int(sat.satnum if catalog_number is None else catalog_number))
    epoch = datetime(1949, 12, 31) + timedelta(
        days=sat.jdsatepoch - _SGP4_EPOCH_JD + sat.jdsatepochF
    )
    start = datetime(epoch.year, 1, 1)
    doy = (epoch - start).total_seconds() / 86400.0 + 1.0
    doy = round(doy, 8)
    ndot = sat.ndot * _XPDOTP * 1440.0
    ndot_text = f"{ndot: .8f}".replace("0.", ".", 1)
    nddot = sat.nddot * _XPDOTP * 1440.0 * 1440.0
    ecc = round(sat.ecco * 1e7)
    if ecc >= 10_000_000:
        raise OrbitError(f"eccentricity {sat.ecco} does not fit a TLE; give e < 1")
    l1 = (
        f"1 {number}{(sat.classification or 'U')[:1]} {intl_designator[:8]:<8} "
        f"{epoch.year % 100:02d}{doy:012.8f} {ndot_text:>10} {_exp_field(nddot)} "
        f"{_exp_field(sat.bstar)} {sat.ephtype % 10} {sat.elnum % 10000:4d}"
    )
    l2 = (
        f"2 {number} {math.degrees(sat.inclo):8.4f} {_angle(sat.nodeo)} {ecc:07d} "
        f"{_angle(sat.argpo)} {_angle(sat.mo)} {sat.no_kozai * _XPDOTP:11.8f}"
        f"{sat.revnum % 100000:5d}"
    )
    l1 += str(tle_checksum(l1 + "0"))
    l2 += str(tle_checksum(l2 + "0"))
    return TLE.from_lines(name, l1, l2, source=f"<generated {name}>")
