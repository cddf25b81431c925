"""benchmarks/run_all.py and its parts on tiny inputs (never the full benchmark, never a timed
assertion): the ratio functions, the bars, argument parsing, the benchmark scene, and the
workload paths agreeing with ``detect_scene`` on the alerts they find."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from edgeinfer.bench import make_scene, tiled_size
from edgeinfer.errors import SceneError
from edgeinfer.scene import tile_windows

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run_all  # noqa: E402  (a script folder, not a package)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "generated" / "s2_coast.tif"


def _measurements() -> dict[str, object]:
    return {
        "bare": [
            {"tiles_per_s": 10.0, "tiles": 100, "cpu_s": 5.0},
            {"tiles_per_s": 12.0, "tiles": 100, "cpu_s": 6.0},
        ],
        "pipeline": [
            {"tiles_per_s": 9.0, "tiles": 100, "cpu_s": 8.0},
            {"tiles_per_s": 11.4, "tiles": 100, "cpu_s": 6.25},
        ],
        "ray_data": [{"tiles_per_s": 3.0}, {"tiles_per_s": 4.0}],
        "ray_data_tuned": [{"tiles_per_s": 7.6}, {"tiles_per_s": 5.0}],
        "naive": [{"tiles_per_s": 10.0}],
        "rss": {
            "peak_rss_mib_base": 800.0,
            "peak_rss_mib_4x": 1000.0,
            "tiles_4x": 8,
            "tiles_base": 2,
        },
        "mission": {"sim_s_per_wall_s": 2500.0, "simulated_s": 86400.0, "wall_s": 34.56},
        "orbit": {"sim_s_per_wall_s": 120000.0, "simulated_s": 86400.0, "wall_s": 0.72},
    }


def test_ratios_use_the_best_of_each_path() -> None:
    r = run_all.compute_ratios(_measurements())
    assert r["pipeline_vs_bare"] == pytest.approx(11.4 / 12.0)  # best pipeline / best bare
    assert r["vs_ray_data"] == pytest.approx(11.4 / 4.0)
    assert r["vs_ray_data_tuned"] == pytest.approx(11.4 / 7.6)  # reported, no bar
    assert r["vs_naive"] == pytest.approx(1.14)
    assert r["rss_ratio_4x"] == pytest.approx(1.25)
    assert r["sim_speedup"] == 2500.0 and r["orbit_budget_speedup"] == 120000.0
    # per CPU second: best pipeline 100/6.25 = 16 tiles/s, best bare 100/5 = 20 tiles/s
    assert r["pipeline_vs_bare_cpu"] == pytest.approx(0.8)


def test_bars_met_not_met_and_not_measured() -> None:
    verdict = run_all.judge(run_all.compute_ratios(_measurements()))
    assert verdict["pipeline_vs_bare"] == {
        "value": pytest.approx(0.95),
        "bar": ">= 0.9",
        "met": True,
    }
    assert verdict["vs_naive"]["met"] is False  # 1.14 < 1.2
    assert verdict["rss_ratio_4x"]["met"] is False  # 1.25 > 1.1 (a <= bar)
    assert verdict["vs_ray_data"]["met"] and verdict["orbit_budget_speedup"]["met"]
    empty = run_all.judge(run_all.compute_ratios({}))
    assert all(v["value"] is None and v["met"] is None for v in empty.values())
    assert set(empty) == set(run_all.BARS)
    assert "vs_ray_data_tuned" not in run_all.BARS


def test_ratio_and_absolute_numbers() -> None:
    assert run_all.ratio(3.0, 2.0) == 1.5
    assert run_all.ratio(None, 2.0) is None and run_all.ratio(1.0, 0.0) is None
    text = run_all.absolute_numbers(_measurements())
    assert text["pipeline_vs_bare"] == "pipeline 11.40 / bare 12.00 tiles/s"
    assert text["vs_ray_data_tuned"] == "pipeline 11.40 / ray_data_tuned 7.60 tiles/s"
    assert "1000 / 800 MiB" in text["rss_ratio_4x"]
    assert text["sim_speedup"] == "86400 simulated s in 34.560 wall s"


def test_arguments() -> None:
    assert run_all.parse_grid("16x12") == (16, 12)
    for bad in ("16", "0x3", "ax2"):
        with pytest.raises(run_all.argparse.ArgumentTypeError, match="COLSxROWS"):
            run_all.parse_grid(bad)
    assert run_all.parse_skip("naive, ray_data") == {"naive", "ray_data"}
    with pytest.raises(run_all.argparse.ArgumentTypeError, match="choose from"):
        run_all.parse_skip("gpu")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.sampled_from([(512, 64), (256, 0), (64, 8)]))
def test_tiled_size_gives_exactly_that_grid(cols: int, rows: int, tiling: tuple[int, int]) -> None:
    tile, overlap = tiling
    width, height = tiled_size(cols, rows, tile, overlap)
    windows = tile_windows(width, height, tile, overlap)
    assert len(windows) == cols * rows
    assert all(w.width == tile and w.height == tile for w, _ in windows)  # no clipped edge


def _source(path: Path, bands: int = 3) -> np.ndarray:
    rng = np.random.default_rng(4)
    data = rng.integers(1, 60000, size=(bands, 40, 56), dtype=np.uint16)
    profile = {
        "driver": "GTiff",
        "width": 56,
        "height": 40,
        "count": bands,
        "dtype": "uint16",
        "nodata": 0,
        "crs": CRS.from_epsg(32611),
        "transform": Affine(10.0, 0, 338130.0, 0, -10.0, 3772970.0),
        "tiled": True,
        "blockxsize": 16,
        "blockysize": 16,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(EDGEINFER_PRODUCT="sentinel2")
        dst.scales = (1e-4,) * bands
        dst.set_band_description(1, "B02")
    return data


def test_make_scene_mirrors_the_source_like_numpy_pad(tmp_path: Path) -> None:
    data = _source(tmp_path / "src.tif")
    made = make_scene(tmp_path / "big.tif", 150, 97, source=tmp_path / "src.tif")
    with rasterio.open(made.path) as ds:
        got = ds.read()
        assert ds.tags()["EDGEINFER_PRODUCT"] == "sentinel2"
        assert ds.scales == (1e-4,) * 3 and ds.descriptions[0] == "B02"
        assert ds.transform == Affine(10.0, 0, 338130.0, 0, -10.0, 3772970.0)
    # independent truth: numpy's symmetric padding repeats an array by reflection
    truth = np.pad(data, ((0, 0), (0, 97 - 40), (0, 150 - 56)), mode="symmetric")
    np.testing.assert_array_equal(got, truth)
    assert made.megapixels == pytest.approx(150 * 97 / 1e6)
    again = make_scene(tmp_path / "big.tif", 150, 97, source=tmp_path / "src.tif")
    assert again.path.stat().st_mtime_ns == made.path.stat().st_mtime_ns  # reused, not rewritten


def test_make_scene_without_a_source_says_make_sample(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="make sample"):
        make_scene(tmp_path / "x.tif", 10, 10, source=tmp_path / "absent.tif")


@pytest.mark.slow
def test_workload_paths_find_the_alerts_detect_scene_finds(tmp_path: Path) -> None:
    if not SAMPLE.exists():
        pytest.skip("sample scenes absent: run `make sample`")
    from paths_local import preload, run_bare, run_naive
    from workload import make_workload

    from edgeinfer.api import detect_scene, open_scene

    workload = make_workload(tmp_path, 2, 1, captures=1, threads_total=1)
    assert workload.tiles == 2 and workload.models["ship"].name == "ship_optical"
    with open_scene(workload.scene.path) as scene:
        truth = detect_scene(scene, ["cloud", "fire", "ship"], provider="cpu", batch_size=2)
    naive = run_naive(workload)
    assert naive.tiles == 2 and naive.alerts == len(truth.alerts) > 0
    pre = preload(workload)
    assert pre.clear == truth.tiles_inferred
    bare = run_bare(workload, pre, "threads")
    assert bare.tiles == 2 and bare.detail["session_runs"] == len(pre.items)


def test_paired_ratios_follow_the_interleaved_runs() -> None:
    m = _measurements()
    assert run_all.paired_ratios(m) == [pytest.approx(0.9), pytest.approx(0.95)]
    # bare's intra-op run (measured after the pairs) is not half of a pair
    runs = {
        "bare": [
            {"path": "bare_threads", "tiles_per_s": 10.0},
            {"path": "bare_intra", "tiles_per_s": 1.0},
        ],
        "pipeline": [{"tiles_per_s": 9.0}, {"tiles_per_s": 9.5}],
    }
    assert run_all.paired_ratios(runs) == [pytest.approx(0.9)]
    assert run_all.paired_ratios({}) == []


def test_work_folder_keeps_a_given_folder_and_removes_a_temporary_one(tmp_path: Path) -> None:
    """The benchmark scripts' scene folder: ``--work DIR`` is made and left; without it the
    temporary folder goes however the run ends (scenes are hundreds of MB)."""
    from workload import work_folder

    keep = tmp_path / "keep" / "here"
    with work_folder(keep, "edgeinfer-test-") as work:
        assert work == keep and keep.is_dir()
        (work / "scene.tif").write_bytes(b"x")
    assert (keep / "scene.tif").exists()
    seen: list[Path] = []
    with (
        pytest.raises(RuntimeError, match="benchmark failed"),
        work_folder(None, "edgeinfer-test-") as work,
    ):
        seen.append(work)
        assert work.name.startswith("edgeinfer-test-")
        (work / "scene.tif").write_bytes(b"x")
        raise RuntimeError("benchmark failed")
    assert seen and not seen[0].exists()
