"""The Sentinel-2-like coastal scene: land, sea, beach, a town and pier, ships, clouds and
sub-pixel active fires, with the physical truth of every object.

Placement: UTM zone 11N (EPSG:32611), 10.24 km x 10.24 km at 10 m, centred near Malibu Pier,
California (34.036 N, 118.678 W): a south-facing coast backed by chaparral, among the most
fire-prone land in the USA (e.g. the Woolsey fire, November 2018). The land/sea layout is
synthetic; only the location, sun geometry and spectra aim to be plausible.

Acquisition: 2023-10-25T18:19Z, 10:24 local mean solar time, about when Sentinel-2 passes, in
the Santa Ana fire season. Sun elevation 40.0 deg and azimuth 154 deg at the scene centre then
(NOAA/Meeus equations, edgeinfer.scene.solar; skyfield gives the same to 0.1 deg) [derived].

Values are TOA-reflectance-like: a surface spectrum, darkened in cloud shadow, plus a Rayleigh
path reflectance; then fires, then clouds, then noise, then the 20 m bands averaged over their 2x2
blocks, then DN = round(reflectance * 10000) (Sentinel-2 L1C quantification value 10000,
REFERENCE.md; no baseline-04.00 offset, so reflectance = DN / 10000 exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from _s2_objects import place_fires, place_ships
from _textures import (
    F64,
    Bool,
    block_mean_2x2,
    box_coverage,
    fractal_noise,
    paste_max,
    shift,
    smooth_noise,
    smooth_profile,
)
from _writers import TruthObject
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

from edgeinfer.scene import tile_windows
from edgeinfer.scene.bands import SENTINEL2_MSI

SHAPE = (1024, 1024)
PIXEL_M = 10.0
CRS_S2 = CRS.from_epsg(32611)
TRANSFORM = Affine(PIXEL_M, 0.0, 338130.0, 0.0, -PIXEL_M, 3772970.0)
SUN_ELEVATION_DEG = 40.0
SUN_AZIMUTH_DEG = 154.0
ACQUIRED_UTC = "2023-10-25T18:19:00Z"
BANDS = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12")
TWENTY_M_BANDS = ("B8A", "B11", "B12")  # native 20 m (ESA Sentinel-2 User Handbook)
DN_PER_REFLECTANCE = 10000.0  # L1C quantification value (REFERENCE.md)
NOISE_SD = 0.0005  # reflectance; [assumed], of the order of L1C radiometric noise
CLOUD_MASK_MIN_OPACITY = 0.2  # a pixel is "cloud" in the truth mask at opacity >= this
SHADOW_DEPTH = 0.75  # share of the surface signal a cloud of opacity 1 shadows [assumed]
# A diagonal swath edge: pixels with col < NODATA_SLOPE * (row - NODATA_ROW0) are nodata (DN 0).
NODATA_ROW0 = 600
NODATA_SLOPE = 0.25

# Surface reflectance per band B02, B03, B04, B08, B8A, B11, B12. Rounded values typical of the
# material's spectrum as plotted in the USGS Spectral Library Version 7 (Kokaly et al. 2017, USGS
# Data Series 1035) and remote-sensing textbooks (e.g. Jensen, Remote Sensing of the
# Environment); approximate, not a band convolution of one sample.
SPECTRA: dict[str, tuple[float, ...]] = {
    # green leaves: chlorophyll dip in red, NIR plateau, water absorption lowers SWIR
    "green_veg": (0.035, 0.075, 0.045, 0.38, 0.40, 0.20, 0.10),
    # senescent chaparral / dry grass: no red edge, SWIR above NIR (cellulose, lignin)
    "dry_veg": (0.060, 0.090, 0.120, 0.26, 0.28, 0.36, 0.26),
    # dry bare soil: monotonic rise to SWIR1
    "soil": (0.090, 0.130, 0.170, 0.23, 0.24, 0.33, 0.29),
    # dry quartz beach sand: bright, high in SWIR but B12 < B11 (not fire-like)
    "sand": (0.200, 0.250, 0.290, 0.34, 0.35, 0.44, 0.40),
    # concrete / light roofs and the pier deck
    "concrete": (0.220, 0.250, 0.270, 0.30, 0.30, 0.33, 0.30),
    # asphalt / dark roofs
    "asphalt": (0.050, 0.060, 0.070, 0.09, 0.09, 0.11, 0.10),
    # clear coastal sea water: absorbs strongly beyond 700 nm
    "water": (0.025, 0.020, 0.008, 0.003, 0.002, 0.0005, 0.0003),
    # added by suspended sediment near the shore (still NDWI > 0)
    "turbid_delta": (0.010, 0.030, 0.025, 0.008, 0.006, 0.001, 0.0005),
    # painted steel decks and superstructure of ships
    "ship": (0.220, 0.230, 0.230, 0.25, 0.25, 0.20, 0.15),
}
# Thick water cloud, TOA: bright and white in the visible and NIR, darker in SWIR (droplet
# absorption). Chosen to pass every Fmask cloud-candidate test in REFERENCE.md: SWIR2 0.30 >
# 0.03, NDSI 0.14 < 0.8, NDVI 0.02 < 0.8, whiteness 0.04 < 0.7, B - 0.5 R - 0.08 = 0.24 > 0,
# NIR/SWIR1 1.38 > 0.75.
CLOUD_TOA = (0.62, 0.60, 0.60, 0.62, 0.62, 0.45, 0.30)


def rayleigh_path_reflectance(wavelength_nm: float) -> float:
    """Single-scattering Rayleigh path reflectance for a nadir view under this scene's sun.

    Optical depth from Hansen & Travis 1974 (Space Sci. Rev. 16, 527):
    tau = 0.008569 lambda^-4 (1 + 0.0113 lambda^-2 + 0.00013 lambda^-4), lambda in um; path
    reflectance tau P(Theta) / (4 mu_s mu_v) with the Rayleigh phase function
    P = 3/4 (1 + cos^2 Theta). No aerosol.
    """
    lam = wavelength_nm / 1000.0
    tau = 0.008569 * lam**-4 * (1 + 0.0113 * lam**-2 + 0.00013 * lam**-4)
    mu_s = math.sin(math.radians(SUN_ELEVATION_DEG))
    cos_theta = -mu_s  # scattering angle for a nadir view: 180 deg minus the sun zenith
    phase = 0.75 * (1 + cos_theta**2)
    return tau * phase / (4 * mu_s * 1.0)


@dataclass
class S2Coast:
    """The generated scene and its truth (arrays are (rows, cols) or (bands, rows, cols))."""

    dn: npt.NDArray[np.uint16]  # what the GeoTIFF holds
    background: F64  # TOA reflectance at 10 m without fires, noise or 20 m averaging
    opacity: F64  # cloud opacity 0..1
    cloudmask: npt.NDArray[np.uint8]  # opacity >= CLOUD_MASK_MIN_OPACITY
    land: Bool
    sea: Bool  # sea surface, including under ships and the pier
    ship_cover: F64
    pier_cover: F64
    nodata: Bool
    objects: list[TruthObject]


def nodata_mask(shape: tuple[int, int] = SHAPE) -> Bool:
    """The swath-edge wedge at the lower left that carries no data."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.asarray(cols < NODATA_SLOPE * (rows - NODATA_ROW0), dtype=bool)


def _spec(name: str) -> F64:
    return np.asarray(SPECTRA[name], dtype=np.float64)[:, None, None]


def _coast(rng: np.random.Generator) -> tuple[Bool, F64]:
    """Land above a meandering south-facing coastline; returns (land, coast row per column)."""
    cols = SHAPE[1]
    coast_row = 560 + 45 * smooth_profile(rng, cols, 80) + 10 * smooth_profile(rng, cols, 12)
    rows = np.arange(SHAPE[0])[:, None]
    return np.asarray(rows < coast_row[None, :], dtype=bool), coast_row


def _land_surface(rng: np.random.Generator, land: Bool, coast_row: F64) -> tuple[F64, Bool]:
    """Land reflectance (bands, rows, cols): vegetation/soil mixture, beach, a small town."""
    logits = np.stack(
        [
            1.3 * fractal_noise(rng, SHAPE, (60, 15, 4), (1.0, 0.5, 0.25)) - 0.3,
            1.3 * fractal_noise(rng, SHAPE, (60, 15, 4), (1.0, 0.5, 0.25)) + 0.5,
            1.3 * fractal_noise(rng, SHAPE, (60, 15, 4), (1.0, 0.5, 0.25)) - 0.2,
        ]
    )
    weights = np.exp(logits - logits.max(axis=0))
    weights /= weights.sum(axis=0)
    surface = (
        weights[0] * _spec("green_veg") + weights[1] * _spec("dry_veg") + weights[2] * _spec("soil")
    )
    surface *= 1.0 + 0.06 * smooth_noise(rng, SHAPE, 1.5)
    # beach: land within 3 px of the sea
    dist_to_sea = ndimage.distance_transform_edt(land)
    beach = land & (dist_to_sea <= 3)
    sand = _spec("sand") * (1.0 + 0.04 * smooth_noise(rng, SHAPE, 2.0))
    surface = np.where(beach[None], sand, surface)
    # a town behind the pier: 2x2-px roofs of concrete or asphalt among irrigated gardens
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    town = (
        land & ~beach & (((rows - (coast_row[700] - 25)) / 22) ** 2 + ((cols - 700) / 70) ** 2 < 1)
    )
    blocks = (SHAPE[0] // 2, SHAPE[1] // 2)
    built = np.repeat(np.repeat(rng.uniform(0.5, 0.95, blocks), 2, 0), 2, 1)
    light = np.repeat(np.repeat(rng.random(blocks) < 0.5, 2, 0), 2, 1)
    roof = np.where(light[None], _spec("concrete"), _spec("asphalt"))
    urban = built * roof + (1 - built) * _spec("green_veg")
    surface = np.where(town[None], urban, surface)
    return surface, beach | town


def _sea_surface(rng: np.random.Generator, land: Bool) -> F64:
    """Sea reflectance: clear water, turbid within ~25 px of the shore."""
    dist_to_land = ndimage.distance_transform_edt(~land)
    turbid = np.exp(-dist_to_land / 25.0) * np.clip(0.6 + 0.3 * smooth_noise(rng, SHAPE, 20), 0, 1)
    return np.asarray(_spec("water") + turbid * _spec("turbid_delta"), dtype=np.float64)


def _pier(land: Bool, coast_row: F64) -> tuple[F64, tuple[float, float]]:
    """A 240 m x 6 m pier (Malibu Pier is about 240 m long) heading 165 deg from the shore at
    column 700; returns its coverage and the (row, col) of its seaward end."""
    length, heading = 24.0, 165.0
    start = (float(coast_row[700]) - 2.0, 700.5)
    ax_r, ax_c = -math.cos(math.radians(heading)), math.sin(math.radians(heading))
    centre = (start[0] + ax_r * length / 2, start[1] + ax_c * length / 2)
    end = (start[0] + ax_r * length, start[1] + ax_c * length)
    cover = np.zeros(SHAPE)
    r0, c0, cov = box_coverage(centre, length, 0.6, heading)
    paste_max(cover, r0, c0, cov)
    cover[land] = 0.0  # the deck over the beach is not seen apart from the sand
    return cover, end


def _clouds(rng: np.random.Generator) -> tuple[F64, F64]:
    """Cloud opacity and the opacity that shadows the ground (displaced away from the sun).

    Three layers: a thick deck over the top-right 512 px tile (> 70 % cloud, base 1.5 km),
    broken cumulus over the lower left (1 km) and a thin cirrus streak (opacity <= 0.3; its
    shadow, 9 km below, is faint and left out).
    """
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float64)
    env = np.exp(-(((rows - 240) / 300) ** 2 + ((cols - 780) / 300) ** 2))
    deck_n = fractal_noise(rng, SHAPE, (48, 12, 4), (1.0, 0.5, 0.25))
    deck = np.clip((2.4 * env - 0.9 + 0.35 * deck_n) * 3.0, 0.0, 1.0)
    env_cu = np.exp(-(((rows - 800) / 180) ** 2 + ((cols - 330) / 240) ** 2))
    cu_n = fractal_noise(rng, SHAPE, (14, 5), (1.0, 0.4))
    cumulus = np.clip((cu_n + 1.2 * env_cu - 2.0) * 2.0, 0.0, 1.0)
    cumulus *= np.clip((env_cu - 0.15) / 0.3, 0.0, 1.0)
    streak = np.exp(-(((0.4 * rows + 0.9 * cols - 1000) / 45) ** 2))
    ci_n = smooth_noise(rng, SHAPE, 6, stretch=(0.5, 3.0))
    cirrus = 0.3 * np.clip((streak - 0.05) / 0.95, 0, 1) * np.clip(0.6 + 0.4 * ci_n, 0, 1)
    opacity = 1 - (1 - deck) * (1 - cumulus) * (1 - cirrus)
    away = math.radians(SUN_AZIMUTH_DEG + 180.0)
    shadow = np.zeros(SHAPE)
    for layer, base_m in ((deck, 1500.0), (cumulus, 1000.0)):
        d_px = base_m / math.tan(math.radians(SUN_ELEVATION_DEG)) / PIXEL_M
        moved = shift(layer, -round(d_px * math.cos(away)), round(d_px * math.sin(away)))
        shadow = 1 - (1 - shadow) * (1 - moved)
    return opacity, shadow


def screened_out(cloudy: Bool) -> Bool:
    """Pixels a tile-level cloud screen drops: the cores of the default tiles (512 px, 64 px
    overlap) that are more than 70 % cloudy (Phi-sat-1 CloudScout rule, REFERENCE.md), grown by
    8 px. The clear pixels of such a tile are lost with it, so the truth keeps fires and ships
    out of them: the sample lists only what a satellite running the defaults can see."""
    out = np.zeros(cloudy.shape, dtype=bool)
    for window, core in tile_windows(cloudy.shape[1], cloudy.shape[0], 512, 64):
        r0, c0 = int(window.row_off), int(window.col_off)
        if cloudy[r0 : r0 + int(window.height), c0 : c0 + int(window.width)].mean() > 0.7:
            cr, cc = int(core.row_off), int(core.col_off)
            out[cr : cr + int(core.height), cc : cc + int(core.width)] = True
    return ndimage.maximum_filter(out, size=17)


def build(seed: int) -> S2Coast:
    """Generate the scene for ``seed`` (a pure function of the seed)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    land, coast_row = _coast(streams[0])
    surface_land, built = _land_surface(streams[1], land, coast_row)
    sea = ~land
    surface = np.where(land[None], surface_land, _sea_surface(streams[2], land))
    pier_cover, pier_end = _pier(land, coast_row)
    surface = (1 - pier_cover) * surface + pier_cover * _spec("concrete")
    opacity, shadow = _clouds(streams[3])
    nodata = nodata_mask()
    cloud_near = ndimage.maximum_filter(opacity > 0, size=13) > 0
    cloud_near |= screened_out(opacity >= CLOUD_MASK_MIN_OPACITY)
    far_from_edge = ~ndimage.maximum_filter(nodata, size=21)
    ship_ok = sea & ~cloud_near & far_from_edge
    ship_cover, ship_bright, ships = place_ships(streams[4], ship_ok, pier_cover, pier_end, land)
    surface = (1 - ship_cover) * surface + ship_cover * ship_bright * _spec("ship")

    surface *= 1 - SHADOW_DEPTH * shadow
    path = np.array([rayleigh_path_reflectance(SENTINEL2_MSI[b].wavelength_nm or 0) for b in BANDS])
    toa = surface + path[:, None, None]
    cloud = np.asarray(CLOUD_TOA)[:, None, None] * (1 + 0.05 * smooth_noise(streams[5], SHAPE, 3))
    background = (1 - opacity) * toa + opacity * cloud

    fire_ok = land & ~built & ~cloud_near & far_from_edge
    fire_ok &= ndimage.distance_transform_edt(land) > 8
    fire_delta, fires = place_fires(streams[6], fire_ok, background, BANDS, SUN_ELEVATION_DEG)

    refl = background + fire_delta + NOISE_SD * streams[7].standard_normal(background.shape)
    for i, name in enumerate(BANDS):
        if name in TWENTY_M_BANDS:
            refl[i] = block_mean_2x2(refl[i])
    scaled = np.rint(refl * DN_PER_REFLECTANCE)
    dn = np.clip(scaled, 1, 65535).astype(np.uint16)
    dn[:, nodata] = 0
    for fire in fires:
        c0, r0, c1, r1 = fire.props["bbox_px_20m"]
        fire.props["saturated_bands"] = [
            b for i, b in enumerate(BANDS) if bool((scaled[i, r0:r1, c0:c1] > 65535).any())
        ]
    cloudmask = (opacity >= CLOUD_MASK_MIN_OPACITY).astype(np.uint8)
    objects = [*fires, *ships, *_cloud_objects(opacity, cloudmask)]
    return S2Coast(
        dn, background, opacity, cloudmask, land, sea, ship_cover, pier_cover, nodata, objects
    )


def _cloud_objects(opacity: F64, cloudmask: npt.NDArray[np.uint8]) -> list[TruthObject]:
    """One truth object per 8-connected cloud of the mask."""
    labels, _ = ndimage.label(cloudmask, structure=np.ones((3, 3), dtype=bool))
    out = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        inside = labels[sl] == i
        op = opacity[sl][inside]
        out.append(
            TruthObject(
                "cloud",
                (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop),
                {
                    "area_px": int(inside.sum()),
                    "mean_opacity": float(op.mean()),
                    "max_opacity": float(op.max()),
                },
            )
        )
    return out
