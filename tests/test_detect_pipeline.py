"""detect_scene: tiling, cloud screen, detectors, alerts and the numbers it reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from scipy import ndimage
from test_detect_helpers import threshold_model

from edgeinfer.detect.pipeline import detect_scene
from edgeinfer.detect.records import RECORD_SIZE
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.errors import ConfigError, ModelError, UnknownNameError
from edgeinfer.scene.bands import Band
from edgeinfer.scene.types import Scene, Tile


class ArrayScene(Scene):
    """An in-memory, non-georeferenced scene: ``data`` (b, h, w), ``valid`` (h, w)."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, names: tuple[str, ...]) -> None:
        self.data = data.astype(np.float32)
        self.valid_mask = valid
        self.scene_id = "array_scene"
        self.product = "landsat"
        self.height, self.width = valid.shape
        self.bands = tuple(Band(n, "reflectance") for n in names)
        self.crs = None
        self.transform = None
        self.capture_time = dt.datetime(2022, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
        self.pixel_size_m = 30.0
        self.source = "memory"
        self.meta = {"raw_bytes": 2 * data.size}  # as if uint16 DN

    def read(
        self, window: Window, band_names: tuple[str, ...] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        idx = [self.band_names.index(n) for n in (band_names or self.band_names)]
        c0, r0, w, h = (
            int(v) for v in (window.col_off, window.row_off, window.width, window.height)
        )
        out = np.zeros((len(idx), h, w), dtype=np.float32)
        valid = np.zeros((h, w), dtype=bool)
        ch, cw = min(h, self.height - r0), min(w, self.width - c0)
        out[:, :ch, :cw] = self.data[idx, r0 : r0 + ch, c0 : c0 + cw]
        valid[:ch, :cw] = self.valid_mask[r0 : r0 + ch, c0 : c0 + cw]
        return np.where(valid, out, 0).astype(np.float32), valid


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    d = tmp_path / "models"
    threshold_model(d, "fire_t", "fire", ("B7",), threshold=0.5, product="landsat")
    threshold_model(d, "cloud_t", "cloud", ("CL",), threshold=0.5, product="any")
    threshold_model(d, "ship_t", "ship", ("VV",), threshold=0.5, product="sar")
    return ModelRegistry(d)


def _scene(cloud_share: float = 0.9) -> ArrayScene:
    """64 x 64, four 32-px tiles; one fire pixel pair per tile; the top-left tile is
    ``cloud_share`` cloudy; the bottom-right tile's right half is nodata."""
    b7 = np.zeros((64, 64))
    cl = np.zeros((64, 64))
    valid = np.ones((64, 64), dtype=bool)
    for r0, c0 in [(0, 0), (0, 32), (32, 0), (32, 32)]:
        b7[r0 + 10, c0 + 10 : c0 + 12] = 0.9
    cloudy = np.zeros(32 * 32)
    cloudy[: round(cloud_share * 32 * 32)] = 1.0
    cl[:32, :32] = cloudy.reshape(32, 32)
    return ArrayScene(np.stack([b7, cl]), valid, ("B7", "CL"))


def test_cloud_screen_drops_cloudy_tiles_before_fire(registry: ModelRegistry) -> None:
    calls: list[tuple[int, int | None]] = []
    res = detect_scene(
        _scene(0.9),
        ["fire", "cloud"],
        provider="cpu",
        tile_size=32,
        overlap=0,
        batch_size=3,
        threads=1,
        progress=lambda done, total: calls.append((done, total)),
        registry=registry,
    )
    assert list(res.models) == ["cloud", "fire"]  # cloud first
    assert res.tiles_total == 4 and res.tiles_cloudy == 1 and res.tiles_inferred == 3
    assert res.cloud_fractions == {
        "r0_c0": 922 / 1024,
        "r0_c32": 0.0,
        "r32_c0": 0.0,
        "r32_c32": 0.0,
    }
    # (col_min, row_min, col_max, row_max): the fires of tiles r0_c32, r32_c0, r32_c32
    assert sorted(a.bbox_px for a in res.alerts) == [
        (10, 42, 12, 43),
        (42, 10, 44, 11),
        (42, 42, 44, 43),
    ]
    assert res.alerts_per_class == {"fire": {"candidate": 3}}
    assert res.raw_bytes == 2 * 2 * 64 * 64
    assert res.alert_bytes == 3 * RECORD_SIZE
    assert res.ratio == pytest.approx(res.raw_bytes / (3 * RECORD_SIZE))
    assert res.provider == "cpu" and res.providers == {"cloud_t": "cpu", "fire_t": "cpu"}
    assert set(res.inference_s) == {"cloud_t", "fire_t"} and all(
        v > 0 for v in res.inference_s.values()
    )
    assert calls[-1] == (4, 4) and calls[0] == (3, 4)
    assert all(
        a.capture_time == dt.datetime(2022, 3, 4, 5, 6, 7, tzinfo=dt.UTC) for a in res.alerts
    )
    summary = res.summary()
    assert summary["alerts"] == 3 and summary["tiles_cloudy"] == 1
    assert summary["cloud_fraction_mean"] == round(922 / 1024 / 4, 4)


def test_threshold_is_strictly_greater(registry: ModelRegistry) -> None:
    res = detect_scene(
        _scene(0.7), ["cloud", "fire"], provider="cpu", tile_size=32, overlap=0, registry=registry
    )
    assert res.cloud_fractions["r0_c0"] == pytest.approx(0.7, abs=1e-3)
    frac = res.cloud_fractions["r0_c0"]
    res2 = detect_scene(
        _scene(0.7),
        ["cloud", "fire"],
        provider="cpu",
        tile_size=32,
        overlap=0,
        cloud_threshold=frac,
        registry=registry,
    )
    assert res2.tiles_cloudy == 0 and len(res2.alerts) == 4
    res3 = detect_scene(
        _scene(0.7),
        ["cloud", "fire"],
        provider="cpu",
        tile_size=32,
        overlap=0,
        cloud_threshold=frac - 1e-6,
        registry=registry,
    )
    assert res3.tiles_cloudy == 1 and len(res3.alerts) == 3


def test_without_cloud_every_tile_runs_fire(registry: ModelRegistry) -> None:
    res = detect_scene(
        _scene(1.0), ["fire"], provider="cpu", tile_size=32, overlap=0, registry=registry
    )
    assert res.tiles_cloudy == 0 and res.tiles_inferred == 4 and len(res.alerts) == 4
    assert res.cloud_fractions == {}


def test_empty_tiles_run_no_model(registry: ModelRegistry) -> None:
    scene = _scene(0.0)
    scene.valid_mask[32:, 32:] = False  # nodata corner: one whole tile
    res = detect_scene(scene, ["fire"], provider="cpu", tile_size=32, overlap=0, registry=registry)
    assert (res.tiles_total, res.tiles_empty, res.tiles_inferred) == (4, 1, 3)
    assert len(res.alerts) == 3


def test_overlapping_tiles_report_each_object_once(registry: ModelRegistry) -> None:
    rng = np.random.default_rng(7)
    b7 = (rng.uniform(size=(70, 70)) > 0.97).astype(np.float64)
    b7[20:23, 27:30] = 1.0  # an object inside the overlap of the first two tiles
    scene = ArrayScene(np.stack([b7, np.zeros_like(b7)]), np.ones((70, 70), bool), ("B7", "CL"))
    res = detect_scene(
        scene, ["fire"], provider="cpu", tile_size=32, overlap=8, batch_size=4, registry=registry
    )
    labels, _ = ndimage.label(b7 > 0.5, structure=np.ones((3, 3)))
    truth = sorted(
        (s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)
    )
    assert sorted(a.bbox_px for a in res.alerts) == truth
    assert res.tiles_total == 9


class _Recorder:
    """A MaskWriter that keeps what it is given."""

    def __init__(self, path: Path, scene: Scene, detector: str) -> None:
        self.path, self.detector = path, detector
        self.tiles: dict[str, np.ndarray] = {}
        self.closed = False
        WRITERS.append(self)

    def write_tile(self, tile: Tile, classes: np.ndarray) -> None:
        self.tiles[tile.tile_id] = classes.copy()

    def close(self) -> None:
        self.closed = True


WRITERS: list[_Recorder] = []


def test_masks_go_to_one_writer_per_detector(registry: ModelRegistry, tmp_path: Path) -> None:
    WRITERS.clear()
    out = {"fire": tmp_path / "fire.tif", "cloud": tmp_path / "cloud.tif"}
    res = detect_scene(
        _scene(0.9),
        ["fire", "cloud"],
        provider="cpu",
        tile_size=32,
        overlap=0,
        mask_out=out,
        registry=registry,
        mask_writer=_Recorder,
    )
    assert res.masks == out
    by = {w.detector: w for w in WRITERS}
    assert by["fire"].path == out["fire"] and all(w.closed for w in WRITERS)
    assert sorted(by["cloud"].tiles) == ["r0_c0", "r0_c32", "r32_c0", "r32_c32"]
    assert sorted(by["fire"].tiles) == ["r0_c32", "r32_c0", "r32_c32"]  # cloudy tile dropped
    assert np.count_nonzero(by["fire"].tiles["r32_c0"]) == 2
    assert np.count_nonzero(by["cloud"].tiles["r0_c0"]) == round(0.9 * 32 * 32)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_masks_with_the_scene_writer(registry: ModelRegistry, tmp_path: Path) -> None:
    big = ArrayScene(np.zeros((2, 256, 256)), np.ones((256, 256), bool), ("B7", "CL"))
    big.data[0, 100, 200:203] = 0.9
    big.data[1, :128, :128] = 1.0  # the top-left tile is all cloud
    big.data[0, 5, 5] = 0.9  # ... and hides a fire
    out = {"fire": tmp_path / "fire.tif"}
    res = detect_scene(
        big,
        ["fire", "cloud"],
        provider="cpu",
        tile_size=128,
        overlap=16,
        mask_out=out,
        registry=registry,
    )
    assert res.tiles_cloudy == 1 and len(res.alerts) == 1
    with rasterio.open(out["fire"]) as ds:
        fire = ds.read(1)
    assert fire.shape == (256, 256)
    assert fire[5, 5] == 255  # in the core of the dropped tile: never decided
    assert np.argwhere(fire == 1).tolist() == [[100, 200], [100, 201], [100, 202]]


def test_errors_name_the_problem(registry: ModelRegistry) -> None:
    kw = {"provider": "cpu", "tile_size": 32, "overlap": 0, "registry": registry}
    with pytest.raises(UnknownNameError, match=r"unknown detector 'smoke'.*cloud, fire, ship"):
        detect_scene(_scene(), ["fire", "smoke"], **kw)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=r"ship_t is for product sar and needs bands VV"):
        detect_scene(_scene(), ["ship"], **kw)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match=r"unknown provider 'gpu'"):
        detect_scene(_scene(), ["fire"], provider="gpu", registry=registry)
    with pytest.raises(ConfigError, match=r"cloud_threshold = 1.5"):
        detect_scene(_scene(), ["fire"], cloud_threshold=1.5, registry=registry)
    with pytest.raises(ConfigError, match=r"no detectors"):
        detect_scene(_scene(), [" "], registry=registry)
    with pytest.raises(UnknownNameError, match=r"mask detector 'ship'"):
        detect_scene(_scene(), ["fire"], mask_out={"ship": Path("x.tif")}, **kw)  # type: ignore[arg-type]


def test_skip_unfit_keeps_going(registry: ModelRegistry) -> None:
    res = detect_scene(
        _scene(0.0),
        ["ship", "fire"],
        provider="cpu",
        tile_size=32,
        overlap=0,
        skip_unfit=True,
        registry=registry,
    )
    assert list(res.models) == ["fire"] and "ship" in res.skipped and len(res.alerts) == 4


def test_skip_unfit_with_nothing_fitting_is_an_error(registry: ModelRegistry) -> None:
    """Skipping the detectors that do not fit must not end in a run of no detector at all."""
    with pytest.raises(
        ModelError, match=r"no detector has a model that fits scene .*ship: .*ship_t"
    ):
        detect_scene(_scene(), ["ship"], provider="cpu", skip_unfit=True, registry=registry)


def test_a_junk_model_file_does_not_stop_the_others(registry: ModelRegistry) -> None:
    (registry.models_dir / "fire_x.onnx").write_bytes(b"junk")
    res = detect_scene(
        _scene(0.0), ["fire"], provider="cpu", tile_size=32, overlap=0, registry=registry
    )
    assert list(res.models) == ["fire"] and len(res.alerts) == 4
    assert list(registry.broken()) == [registry.models_dir / "fire_x.onnx"]
    with pytest.raises(ModelError, match=r"fire_x\.onnx is not a readable ONNX model"):
        detect_scene(_scene(), ["fire"], provider="cpu", registry=registry, prefer=["fire_x"])
