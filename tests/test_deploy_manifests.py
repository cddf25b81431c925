"""deploy/ manifests: every YAML parses; the KubeRay RayCluster and RayJob and the Ray
cluster-launcher files have their required fields; every `ray start` parameter and
`ray job submit` flag is a real option of the installed Ray; commands run by the manifests and
the README are real `edgeinfer` commands whose flags parse; the satellite-slot resource is the
one the mission engine asks for, with at least one slot per CPU; the cluster missions load and
run."""

from __future__ import annotations

import copy
import importlib.metadata as md
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
YAML_FILES = sorted(DEPLOY.rglob("*.yaml"))
LAUNCHERS = [DEPLOY / "cluster.yaml", DEPLOY / "cluster-onprem.yaml"]
README = (DEPLOY / "README.md").read_text()
MISSIONS = sorted((DEPLOY / "missions").glob("*.toml"))
RAY_VERSION = md.version("ray")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def load(path: Path) -> Any:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert len(docs) == 1, f"{path.name}: one document expected"
    return docs[0]


RAYCLUSTER = load(KUBERAY / "raycluster.yaml")
RAYJOB = load(KUBERAY / "rayjob.yaml")


def satellite_resource() -> str:
    """The custom resource satellite actors ask for: the mission engine's default."""
    try:
        from edgeinfer.mission.config import ExecutionSection
    except ImportError as exc:  # pragma: no cover - the mission engine is part of the package
        pytest.skip(f"edgeinfer.mission is not importable yet ({exc})")
    return str(ExecutionSection.model_fields["satellite_resource"].default)


def ray_option_names(command: Any) -> set[str]:
    """Every option string of a click command (Ray's click or typer's vendored one)."""
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def ray_start_options() -> set[str]:
    from ray.scripts.scripts import start

    return ray_option_names(start)


def run_command() -> Any:
    """`edgeinfer run` as click sees it (skips where the subcommand is not there)."""
    import typer

    from edgeinfer.cli.main import app

    command = getattr(typer.main.get_command(app), "commands", {}).get("run")
    if command is None:
        pytest.skip("`edgeinfer run` is not registered in edgeinfer.cli.main yet")
    return command


def check_edgeinfer_command(words: list[str], where: str) -> Any:
    """``edgeinfer run ...`` parses with the real CLI (without running it)."""
    assert words[:2] == ["edgeinfer", "run"], f"{where}: {shlex.join(words)}"
    command = run_command()
    known = ray_option_names(command)
    for word in words[2:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"{where}: `edgeinfer run` has no {word}"
    return command.make_context("run", list(words[2:]))


def slots(params: dict[str, str]) -> dict[str, float]:
    """KubeRay's ``resources: '"{\\"name\\": N}"'``: a JSON object inside literal quotes."""
    text = params.get("resources")
    if text is None:
        return {}
    assert text.startswith('"') and text.endswith('"'), "KubeRay wants the quoted form"
    parsed = json.loads(text[1:-1].replace('\\"', '"'))
    assert isinstance(parsed, dict)
    return {str(k): float(v) for k, v in parsed.items()}


def cpu_quantity(value: str | int) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def groups(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec["headGroupSpec"], *spec["workerGroupSpecs"]]


def container(group: dict[str, Any]) -> dict[str, Any]:
    containers = group["template"]["spec"]["containers"]
    assert len(containers) >= 1
    return dict(containers[0])


@pytest.mark.parametrize("path", YAML_FILES, ids=[p.name for p in YAML_FILES])
def test_every_yaml_under_deploy_parses(path: Path) -> None:
    doc = load(path)
    assert isinstance(doc, dict)
    assert ("apiVersion" in doc and "kind" in doc) or "cluster_name" in doc


def test_raycluster_has_head_worker_groups_and_gpu_group() -> None:
    assert RAYCLUSTER["apiVersion"] == "ray.io/v1" and RAYCLUSTER["kind"] == "RayCluster"
    spec = RAYCLUSTER["spec"]
    assert spec["rayVersion"] == RAY_VERSION, "rayVersion must match the image's Ray"
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "the head must not take satellites"
    names = {w["groupName"] for w in spec["workerGroupSpecs"]}
    assert {"cpu-workers", "gpu-workers"} <= names
    for worker in spec["workerGroupSpecs"]:
        lo, n, hi = worker["minReplicas"], worker["replicas"], worker["maxReplicas"]
        assert all(isinstance(v, int) for v in (lo, n, hi)) and 0 <= lo <= n <= hi
        gpus = container(worker)["resources"]["limits"].get("nvidia.com/gpu")
        assert (gpus is not None) == (worker["groupName"] == "gpu-workers")
    for group in groups(spec):
        params = group["rayStartParams"]
        assert all(isinstance(v, str) for v in params.values()), "KubeRay wants strings"
        assert int(params["object-store-memory"]) > 0
        mounts = {m["mountPath"]: m["name"] for m in container(group)["volumeMounts"]}
        assert mounts["/data"] == "data" and "/dev/shm" in mounts
        volumes = {v["name"]: v for v in group["template"]["spec"]["volumes"]}
        claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
        assert claim == load(KUBERAY / "pvc.yaml")["metadata"]["name"]
    assert "ReadWriteMany" in load(KUBERAY / "pvc.yaml")["spec"]["accessModes"]


def test_raystartparams_are_ray_start_options() -> None:
    options = ray_start_options()
    for spec in (RAYCLUSTER["spec"], RAYJOB["spec"]["rayClusterSpec"]):
        for group in groups(spec):
            for key in group["rayStartParams"]:
                assert f"--{key}" in options, f"`ray start` has no --{key}"


def test_custom_resource_is_the_one_actors_ask_for_with_a_slot_per_cpu() -> None:
    from edgeinfer.mission.config import ExecutionSection

    name = satellite_resource()
    spec = RAYCLUSTER["spec"]
    assert slots(spec["headGroupSpec"]["rayStartParams"]) == {}
    for worker in spec["workerGroupSpecs"]:
        advertised = slots(worker["rayStartParams"])
        cpus = cpu_quantity(container(worker)["resources"]["limits"]["cpu"])
        # the driver makes one actor per cluster CPU: every CPU needs a slot, or actors wait
        assert advertised.get(name, 0) >= cpus, f"{worker['groupName']}: slots < CPUs"
        for resource in advertised:
            assert "_group_" not in resource  # read as a placement-group resource by Ray
            ExecutionSection(satellite_resource=resource)  # a name a mission may ask for
    gpu = next(w for w in spec["workerGroupSpecs"] if w["groupName"] == "gpu-workers")
    assert "edgeinfer_gpu_satellite_slot" in slots(gpu["rayStartParams"])
    assert "edgeinfer_gpu_satellite_slot" in README


def test_rayjob_runs_a_mission_on_the_same_cluster_spec() -> None:
    assert RAYJOB["apiVersion"] == "ray.io/v1" and RAYJOB["kind"] == "RayJob"
    spec = RAYJOB["spec"]
    assert "rayClusterSpec" in spec or "clusterSelector" in spec
    assert spec["rayClusterSpec"] == RAYCLUSTER["spec"], "keep rayjob.yaml's cluster in sync"
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] >= 0
    words = shlex.split(spec["entrypoint"])
    ctx = check_edgeinfer_command(words, "rayjob entrypoint")
    assert ctx.params["address"] == "auto"
    assert str(ctx.params["out"]).startswith("/data/out/"), "outputs must land on the volume"
    # the mission it runs is one the seeding Job copies to /data/missions
    mission = Path(str(ctx.params["mission"]))
    assert mission.parent == Path("/data/missions")
    assert (DEPLOY / "missions" / mission.name).is_file()
    seed = load(KUBERAY / "seed-data.yaml")
    script = " ".join(seed["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "/opt/edgeinfer/deploy/missions/*.toml" in script and "/data/missions" in script


def _readme_commands(program: str) -> list[list[str]]:
    """README command lines running ``program`` (continuations joined, ``VAR=x`` prefixes and
    trailing comments or ``&`` dropped)."""
    text = README.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip().split(" #")[0].split(" &")[0]
        if re.match(rf"(?:[A-Z_]+=\S*\s+)*{re.escape(program)}\b", line):
            words = shlex.split(line)
            found.append(words[words.index(program.split()[0]) :])
    assert found, f"the README shows no `{program}` command"
    return found


def _check_overrides(ctx: Any) -> None:
    """The ``--set`` values of a command load with the mission it names (the deploy missions
    stand in for their copies on /data/missions; none: the embedded sample)."""
    from edgeinfer.api import load_mission

    mission = ctx.params["mission"]
    path = None if mission is None else DEPLOY / "missions" / Path(str(mission)).name
    load_mission(path, list(ctx.params["overrides"] or []))


def test_readme_job_submissions_use_real_flags_and_commands() -> None:
    from ray.dashboard.modules.job.cli import submit

    known = ray_option_names(submit)
    for words in _readme_commands("ray job submit"):
        cut = words.index("--")
        for word in words[3:cut]:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"`ray job submit` has no {word}"
        _check_overrides(check_edgeinfer_command(words[cut + 1 :], "README ray job submit"))
    for words in _readme_commands("edgeinfer run"):
        _check_overrides(check_edgeinfer_command(words, "README"))
    for match in re.findall(r"deploy/[\w./-]+\.(?:yaml|toml|md)|deploy/Dockerfile", README):
        assert (ROOT / match).exists(), f"README names {match}, which does not exist"


def test_readme_loopback_cluster_commands_are_ray_start_options() -> None:
    options = ray_start_options()
    starts = _readme_commands("ray start")
    assert any("--head" in w for w in starts) and any("--resources" in " ".join(w) for w in starts)
    for words in starts:
        for word in words[2:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"`ray start` has no {word}"
        joined = " ".join(words)
        assert re.search(r"--node-ip-address=127\.\d+\.\d+\.\d+", joined), "stay on loopback"
        assert "--memory=" in joined and "--object-store-memory=" in joined
    worker = next(w for w in starts if "--head" not in w)
    resources = json.loads(next(w for w in worker if w.startswith("--resources=")).split("=", 1)[1])
    assert satellite_resource() in resources
    assert "RAY_AUTH_MODE" in README


def _launcher_ray_starts(config: dict[str, Any]) -> list[list[str]]:
    lines = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    return [w for line in lines for w in _split_shell(line) if w[:2] == ["ray", "start"]]


def _split_shell(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    for token in lexer:
        if token in {";", "&&", "||", "|"}:
            out.append([])
        else:
            out[-1].append(token)
    return [w for w in out if w]


@pytest.mark.parametrize("path", LAUNCHERS, ids=[p.name for p in LAUNCHERS])
def test_cluster_launcher_config_is_valid_for_ray(path: Path) -> None:
    pytest.importorskip("jsonschema", reason="Ray validates cluster YAML with jsonschema")
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load(path)
    assert config["cluster_name"] and config["provider"]["type"]
    prepared = prepare_config(copy.deepcopy(config))  # Ray's own defaults and checks
    validate_config(prepared)
    options = ray_start_options()
    for words in _launcher_ray_starts(config):
        for word in words[2:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"{path.name}: `ray start` has no {word}"
    common = " ".join(config["setup_commands"])
    assert f'"ray[default]=={RAY_VERSION}"' in common and f"--python {PYTHON}" in common
    assert '-e "$HOME/edgeinfer[cpu]"' in common and "[gpu]" not in common


def test_aws_launcher_node_types_advertise_satellite_slots() -> None:
    config = load(DEPLOY / "cluster.yaml")
    for key in ("cluster_name", "provider", "available_node_types", "head_node_type"):
        assert config[key], key
    name = satellite_resource()
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"]["CPU"] == 0
    for type_name, node in types.items():
        cpus = node["resources"].get("CPU", 0)
        assert node["resources"].get(name, 0) >= cpus, f"{type_name}: slots < CPUs"
        assert not any("_group_" in r for r in node["resources"])
    gpu = types["ray.worker.gpu"]
    setup = " ".join(gpu["worker_setup_commands"])
    assert gpu["resources"]["GPU"] >= 1 and '-e "$HOME/edgeinfer[gpu]"' in setup
    assert "[cpu]" not in setup and f'"ray[default]=={RAY_VERSION}"' in setup


def test_onprem_launcher_workers_advertise_satellite_slots() -> None:
    config = load(DEPLOY / "cluster-onprem.yaml")
    starts = _launcher_ray_starts(config)
    head = next(w for w in starts if "--head" in w)
    assert "--num-cpus=0" in head
    worker = next(w for w in starts if "--head" not in w)
    resources = json.loads(next(w for w in worker if w.startswith("--resources=")).split("=", 1)[1])
    assert resources[satellite_resource()] >= 1


@pytest.mark.parametrize("path", MISSIONS, ids=[p.stem for p in MISSIONS])
def test_cluster_mission_loads_with_scenes_on_the_shared_volume(path: Path) -> None:
    from edgeinfer.api import load_mission

    config = load_mission(path)
    assert config.execution.satellite_resource == satellite_resource()
    for scene in config.scenes:
        assert Path(scene.path).parent == Path("/data/scenes"), scene.path
    manifest = ROOT / "sample_data" / "generated" / "manifest.json"
    if manifest.is_file():  # the seeding Job copies these files from the image
        names = set(json.loads(manifest.read_text())["files"])
        assert {Path(s.path).name for s in config.scenes} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", MISSIONS, ids=[p.stem for p in MISSIONS])
def test_cluster_mission_runs_on_the_sample_scenes(path: Path, tmp_path: Path) -> None:
    """The shipped mission end to end, in-process, with /data/scenes mapped to the repo's
    generated scenes (2 satellites, 6 h: the file's settings otherwise)."""
    from edgeinfer.api import load_mission, run_mission

    generated = ROOT / "sample_data" / "generated"
    config = load_mission(path)
    local = [generated / Path(s.path).name for s in config.scenes]
    if not all(p.is_file() for p in local):
        pytest.skip("sample scenes absent: run `python sample_data/generate.py` (make sample)")
    overrides = [f"scenes.{i}.path={p}" for i, p in enumerate(local)]
    overrides += ["constellation.n_satellites=2", "mission.duration_h=6", "output.report=false"]
    result = run_mission(load_mission(path, overrides), tmp_path, use_ray=False)
    assert {"metrics", "alerts", "ground_db"} <= set(result.files)
    assert result.total["satellites"] == 2 and result.total["alerts_delivered"] > 0
