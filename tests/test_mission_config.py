"""Mission TOML: every example loads; every mistake is ONE line naming key, value and choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinfer.errors import ConfigError
from edgeinfer.mission import MissionConfig, apply_overrides, load_mission, sample_mission_path
from edgeinfer.mission.build import build_constellation, build_stations, plan_placement
from edgeinfer.mission.loading import parse_value

MISSIONS = sorted(sample_mission_path().parent.glob("*.toml"))


def _error(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_mission(sample_mission_path(), overrides)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("path", MISSIONS, ids=[p.stem for p in MISSIONS])
def test_every_example_mission_loads_and_builds(path: Path) -> None:
    config = load_mission(path)
    assert isinstance(config, MissionConfig) and config.source == str(path.resolve())
    for scene in config.scenes:
        assert Path(scene.path).is_absolute()
        assert Path(scene.path).parent == (path.parent / "../generated").resolve()
    assert len(build_constellation(config)) >= 1
    assert build_stations(config)


def test_the_sample_mission_is_the_default_and_says_what_the_brief_needs() -> None:
    config = load_mission()
    assert config.mission.name == "sample"
    assert config.constellation.kind == "sso" and config.constellation.n_satellites == 4
    assert {s.product for s in config.scenes} == {"sentinel2", "sar"}
    assert config.mission.start.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["constellation.kind=leo"], "constellation.kind = 'leo': Input should be 'sso', 'walker'"),
        (["budgets.powr.x=1"], "budgets.powr: unknown key; allowed here: power, thermal"),
        (["mission.duration_h=-1"], "mission.duration_h = -1: Input should be greater than 0"),
        (["mission.start=yesterday"], "use ISO-8601 UTC such as 2023-10-25T00:00:00Z"),
        (["scenes.1.product=x"], "scenes[1].product = 'x': Input should be 'auto', 'geotiff'"),
        (["ground_stations.0.name=Nowhere"], "'Nowhere' is not a built-in station (Svalbard"),
        (["ground_stations.1.lat_deg=95"], "ground_stations[1].lat_deg = 95"),
        (["accelerator.profile=tpu"], "choose one of host, jetson_orin_nano"),
        (["execution.satellite_resource=sat_group_1"], "must not contain '_group_'"),
        (["constellation.planes=2"], "kind = 'sso' is one sun-synchronous plane"),
        (["constellation.kind=tle"], "kind = 'tle' needs tle_file"),
        (["detection.overlap=600"], "overlap 600 must be smaller than tile_size"),
        (["detection.detectors=['fire','boats']"], "detection.detectors[1] = 'boats'"),
        (["downlink.priority.boats=3"], "priority.boats: unknown detector"),
        (["budgets.thermal.resume_below_c=90"], "resume_below_c must be <= throttle_above_c"),
    ],
)
def test_mistakes_name_the_key_the_value_and_what_is_allowed(
    override: list[str], expected: str
) -> None:
    text = _error(override)
    assert text.startswith("sample.toml: ")
    assert expected in text


def test_missing_keys_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^mission: mission\.start is required \(and 4 more"):
        load_mission(
            {"mission": {"duration_h": 1}, "constellation": {}, "ground_stations": [], "scenes": []}
        )
    with pytest.raises(ConfigError, match="does not exist"):
        load_mission(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mission\nname = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_mission(bad)


def test_paths_resolve_against_the_mission_file(tmp_path: Path) -> None:
    text = sample_mission_path().read_text().replace("../generated/", "scenes/")
    (tmp_path / "m.toml").write_text(text)
    config = load_mission(tmp_path / "m.toml")
    assert config.scenes[0].path == str((tmp_path / "scenes" / "s2_coast.tif").resolve())


def test_overrides_parse_toml_values_and_index_lists() -> None:
    data = {"a": {"b": 1}, "items": [{"x": 1}, {"x": 2}]}
    out = apply_overrides(data, ["a.b=2.5", "items.1.x=true", "a.c='text'", "new.key=[1, 2]"])
    assert out == {
        "a": {"b": 2.5, "c": "text"},
        "items": [{"x": 1}, {"x": True}],
        "new": {"key": [1, 2]},
    }
    assert data["a"] == {"b": 1}  # the input is not changed
    assert parse_value("Svalbard") == "Svalbard"
    with pytest.raises(ConfigError, match=r"item number 0\.\.1"):
        apply_overrides(data, ["items.5.x=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(data, ["nothing"])


def test_walker_and_placement() -> None:
    config = load_mission(
        None,
        {
            "constellation": {
                "kind": "walker",
                "n_satellites": 64,
                "planes": 8,
                "phasing": 1,
                "altitude_km": 550.0,
                "inclination_deg": 53.0,
                "swath_km": 100.0,
            },
        },
    )
    names = build_constellation(config).names
    assert len(names) == 64 and names[0] == "WALKER-P1-S1"
    auto = plan_placement(config, names, cluster_cpus=2)
    assert len(auto.groups) == 2 and auto.satellites_per_actor == 32
    assert auto.cpus_per_actor == 1.0 and auto.threads == 1
    assert [i for g in auto.groups for i, _ in g] == list(range(64))
    fixed = load_mission(
        None, {"execution.satellites_per_actor": 5, "constellation.n_satellites": 8}
    )
    p = plan_placement(fixed, tuple(f"S{i}" for i in range(8)), cluster_cpus=2)
    assert [len(g) for g in p.groups] == [4, 4] and p.cpus_per_actor == 1.0
    one = plan_placement(load_mission(), ("A",), cluster_cpus=2)
    assert one.threads == 2  # a single actor gets the whole machine


def test_auto_placement_on_a_gpu_gives_each_actor_two_lanes_of_cpus() -> None:
    """On CUDA/TensorRT ``auto`` plans one actor per GPU_LANES CPUs (each actor's two lanes
    overlap host and device work; measured on an H100, docs/performance.md "GPU")."""
    names = tuple(f"S{i}" for i in range(16))
    for provider, actors, threads in (("cpu", 16, 1), ("cuda", 8, 2), ("tensorrt", 8, 2)):
        config = load_mission(None, {"detection.provider": provider})
        p = plan_placement(config, names, cluster_cpus=16)
        assert (len(p.groups), p.cpus_per_actor, p.threads) == (actors, 16 / actors, threads)
        assert [i for g in p.groups for i, _ in g] == list(range(16))
    cuda = load_mission(None, {"detection.provider": "cuda"})
    assert len(plan_placement(cuda, names, cluster_cpus=3).groups) == 1  # 3 // 2
    assert len(plan_placement(cuda, names[:3], cluster_cpus=16).groups) == 3  # <= satellites
    fixed = load_mission(None, {"detection.provider": "cuda", "execution.satellites_per_actor": 1})
    assert len(plan_placement(fixed, names, cluster_cpus=16).groups) == 16  # as asked


def test_lanes_reach_the_nodes_and_a_bad_value_names_the_key() -> None:
    from edgeinfer.mission.build import node_settings

    config = load_mission(None, {"detection.lanes": 3})
    assert node_settings(config, 6, 0.0, None).detection.lanes == 3
    assert node_settings(load_mission(), 2, 0.0, None).detection.lanes is None  # auto
    with pytest.raises(ConfigError, match=r"lanes must be >= 1 or 'auto'"):
        load_mission(None, {"detection.lanes": 0})


def test_batch_size_auto_follows_the_provider_and_a_bad_value_names_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``batch_size = "auto"`` (the default) is settled in the satellite's process, by the
    provider there: 1 on CPU, 2 where a GPU provider runs; an explicit size is kept; 0 and
    sizes past 1024 are refused by name."""
    import edgeinfer.detect.sessions as sessions_module
    from edgeinfer.budget import get_accelerator
    from edgeinfer.mission.build import node_settings
    from edgeinfer.node.costs import CostModel
    from edgeinfer.node.engine import InferenceEngine

    def batch(config: MissionConfig) -> int:
        settings = node_settings(config, 2, 0.0, None).detection
        engine = InferenceEngine(settings, CostModel(get_accelerator("host")))
        engine.close()
        return engine.batch_size

    monkeypatch.setattr(sessions_module, "available_providers", lambda: ("CPUExecutionProvider",))
    assert load_mission().detection.batch_size == "auto"
    assert node_settings(load_mission(), 2, 0.0, None).detection.batch_size is None
    assert batch(load_mission()) == 1
    config = load_mission(None, {"detection.batch_size": 4})
    assert node_settings(config, 2, 0.0, None).detection.batch_size == 4
    assert batch(config) == 4
    monkeypatch.setattr(
        sessions_module,
        "available_providers",
        lambda: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    )
    assert batch(load_mission(None, {"detection.provider": "cuda"})) == 2
    for bad, says in ((0, "must be >= 1 or 'auto'"), (2000, "at most 1024")):
        with pytest.raises(ConfigError, match=rf"detection\.batch_size = {bad}: .*{says}"):
            load_mission(None, {"detection.batch_size": bad})


@pytest.mark.parametrize(
    ("overrides", "want"),
    [
        ({}, (2, 1)),
        ({"faults.tmr": True}, (1, 2)),
        ({"faults.seu_rate_factor": 10.0, "faults.seu_targets": ["weights"]}, (1, 2)),
        ({"faults.seu_rate_factor": 10.0, "faults.seu_targets": ["tiles"]}, (2, 1)),
        ({"faults.tmr": True, "detection.lanes": 2}, (2, 1)),
    ],
)
def test_guarded_weights_give_an_actor_one_lane_with_every_thread(
    overrides: dict[str, object], want: tuple[int, int]
) -> None:
    """A satellite with guarded weights runs its detectors in one lane, on the process's golden
    sessions: with ``lanes = "auto"`` they get all of the actor's threads (2 here), not one
    lane's share; an explicit ``lanes`` is kept."""
    from edgeinfer.budget import get_accelerator
    from edgeinfer.mission.build import node_settings
    from edgeinfer.mission.faultplan import mission_settings
    from edgeinfer.node import CostModel, InferenceEngine

    config = load_mission(None, overrides)
    settings = mission_settings(node_settings(config, 2, 0.0, None), config)
    engine = InferenceEngine(settings.detection, CostModel(get_accelerator("jetson_orin_nano")))
    assert (engine.lanes, engine.threads_per_lane) == want
    assert engine.options.intra_op_threads == want[1]
    engine.close()
