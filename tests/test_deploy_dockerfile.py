"""deploy/Dockerfile, read statically (no Docker engine here): instructions parse, COPY sources
exist and survive the .dockerignore, pip extras exist in pyproject and never put onnxruntime
beside onnxruntime-gpu, base images, Python and Ray versions agree with the project's
environment, and the tags it documents are the images the manifests run."""

from __future__ import annotations

import fnmatch
import importlib.metadata as md
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
K8S_FILES = sorted((DEPLOY / "kuberay").glob("*.yaml"))


@dataclass
class Stage:
    """One build stage: its base image, name and instructions (variables substituted)."""

    base: str
    name: str | None
    args: dict[str, str] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [text for kw, text in self.instructions if kw == keyword]


def _logical_lines(text: str) -> list[str]:
    """Instructions with backslash continuations joined and comment lines dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


def _substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m.group(1) or m.group(2), m.group(0)),
        text,
    )


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, as Docker reads them."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        assert keyword in {
            "ARG", "FROM", "LABEL", "ENV", "RUN", "WORKDIR", "COPY", "USER", "CMD",
            "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "SHELL", "VOLUME", "STOPSIGNAL", "ADD",
        }, f"unknown Dockerfile instruction {keyword!r}"  # fmt: skip
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(_substitute(words[0], global_args), name))
            continue
        if keyword == "ARG":
            key, _, default = rest.partition("=")
            if not stages:
                global_args[key] = default
            else:
                stages[-1].args[key] = default or global_args.get(key, "")
            continue
        assert stages, f"{keyword} before the first FROM"
        stage = stages[-1]
        stage.instructions.append((keyword, _substitute(rest, {**global_args, **stage.args})))
    return global_args, stages


GLOBAL_ARGS, STAGES = parse_dockerfile(DOCKERFILE)
BY_NAME = {s.name: s for s in STAGES if s.name}
TARGETS = ("cpu", "gpu")


def documented_tags() -> dict[str, str]:
    """``# tag TARGET: IMAGE`` lines of the Dockerfile's header."""
    tags = dict(re.findall(r"^# tag (\w+): (\S+)$", DOCKERFILE.read_text(), flags=re.M))
    assert set(tags) == set(TARGETS), f"the Dockerfile documents tags for {sorted(tags)}"
    return tags


def pip_installs(stage: Stage) -> list[list[str]]:
    """The arguments of every ``pip install`` in the stage's RUN instructions."""
    found = []
    for run in stage.all("RUN"):
        for words in shell_commands(run):
            if len(words) >= 2 and words[0] in {"pip", "pip3"} and words[1] == "install":
                found.append(words[2:])
    return found


def shell_commands(line: str) -> list[list[str]]:
    """A shell line cut into simple commands at ``&&``, ``||``, ``;`` and ``|`` (quotes kept)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in {"&&", "||", ";", "|"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def extras_of(args: list[str]) -> list[str]:
    """The extras asked of the project itself (``.[cpu]``, ``-e ".[gpu]"``)."""
    out: list[str] = []
    for arg in args:
        match = re.fullmatch(r"\.\[([\w,-]+)\]", arg)
        if match:
            out += match.group(1).split(",")
    return out


def test_the_dockerfile_has_a_cpu_and_a_gpu_target() -> None:
    assert set(TARGETS) <= set(BY_NAME)
    for target in TARGETS:
        stage = BY_NAME[target]
        assert stage.all("CMD") and "edgeinfer" in stage.all("CMD")[-1]
        # No ENTRYPOINT: KubeRay and the cluster launcher give the command themselves.
        assert not stage.all("ENTRYPOINT")
        assert stage.all("USER")[-1] == "edgeinfer", f"{target}: must end as the non-root user"


def test_copy_sources_exist_and_are_not_ignored() -> None:
    ignore = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for target in TARGETS:
        copies = BY_NAME[target].all("COPY")
        assert "--from=src /src ./" in copies, f"{target}: must copy the project from stage src"
        for copy in copies:
            assert copy.split()[0] in {"--from=uv", "--from=src"}, copy
    for copy in BY_NAME["src"].all("COPY"):
        words = copy.split()
        assert words[-1].startswith("/src/"), copy
        for source in words[:-1]:
            assert (ROOT / source).exists(), f"src: COPY source {source} is missing"
            hit = [p for p in ignore if fnmatch.fnmatch(source, p.rstrip("/"))]
            assert not hit, f"src: COPY {source} is excluded by {hit}"
    # The image regenerates the sample scenes; their generator must be copied in.
    for target in TARGETS:
        runs = " ".join(BY_NAME[target].all("RUN"))
        assert "python sample_data/generate.py" in runs
    assert (ROOT / "sample_data" / "generate.py").is_file()


def test_pip_extras_exist_and_never_mix_onnxruntime_builds() -> None:
    for target in TARGETS:
        installs = pip_installs(BY_NAME[target])
        asked = [e for args in installs for e in extras_of(args)]
        assert asked == [target], f"{target}: installs the project with extras {asked}"
        assert set(asked) <= set(EXTRAS)
        named = [Requirement(a).name for args in installs for a in args if a[0].isalpha()]
        other = "onnxruntime" if target == "gpu" else "onnxruntime-gpu"
        assert other not in named, f"{target}: pip installs {other}"
        # the build itself refuses an image with the other build installed
        assert f"! pip show {other}" in " ".join(BY_NAME[target].all("RUN"))
    gpu = {Requirement(r).name for r in EXTRAS["gpu"]}
    cpu = {Requirement(r).name for r in EXTRAS["cpu"]}
    assert "onnxruntime-gpu" in gpu and "onnxruntime" not in gpu
    assert "onnxruntime" in cpu and "onnxruntime-gpu" not in cpu


def _closure(requirements: list[str]) -> set[str]:
    """Installed distributions pulled in by ``requirements`` (markers for this interpreter)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        extras = req.extras
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
            elif any(sub.marker.evaluate({"extra": e}) for e in extras):
                sub.marker = None
                todo.append(sub)
    return seen


def test_no_core_dependency_pulls_in_cpu_onnxruntime() -> None:
    """The gpu image installs the core dependencies too: none of them may bring onnxruntime."""
    closure = _closure(PYPROJECT["project"]["dependencies"])
    assert "ray" in closure and "rasterio" in closure  # the walk really followed the graph
    assert "onnxruntime" not in closure and "onnxruntime-gpu" not in closure
    assert "onnxruntime" in _closure(EXTRAS["cpu"])  # ... and it would have seen one


def test_base_images_and_versions_match_the_project() -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert GLOBAL_ARGS["PYTHON_VERSION"] == python
    assert f">={python}" in PYPROJECT["project"]["requires-python"].replace(" ", "")
    assert re.fullmatch(rf"python:{re.escape(python)}-slim(-\w+)?", BY_NAME["cpu"].base)
    # onnxruntime-gpu 1.31 needs CUDA 13 and cuDNN 9 (../shared/ENVIRONMENT.md)
    assert re.fullmatch(
        r"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+", BY_NAME["gpu"].base
    )
    assert f"uv python install {python}" in " ".join(BY_NAME["gpu"].all("RUN"))
    assert GLOBAL_ARGS["RAY_VERSION"] == md.version("ray"), "pin Ray to the tested version"
    for target in TARGETS:
        installs = pip_installs(BY_NAME[target])
        assert any(f"ray[default]=={md.version('ray')}" in args for args in installs)
    assert GLOBAL_ARGS["EDGEINFER_VERSION"] == PYPROJECT["project"]["version"]


def test_runtime_environment_of_the_image() -> None:
    from edgeinfer.detect.registry import MODELS_ENV

    for target in TARGETS:
        stage = BY_NAME[target]
        env = " ".join(stage.all("ENV"))
        assert f"{MODELS_ENV}=/opt/edgeinfer/models" in env
        assert "/opt/edgeinfer" in stage.all("WORKDIR")
        assert "--from=src /src ./" in stage.all("COPY")
        # KubeRay's probes run wget in the Ray container
        assert re.search(r"apt-get install [^&]*\bwget\b", " ".join(stage.all("RUN")))
    src = BY_NAME["src"].all("COPY")
    assert "models /src/models" in src and "deploy/missions /src/deploy/missions" in src


def _containers(doc: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) pairs anywhere in a manifest."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if isinstance(doc, dict):
        if isinstance(doc.get("containers"), list):
            found += [(doc, c) for c in doc["containers"]]
        for value in doc.values():
            found += _containers(value)
    elif isinstance(doc, list):
        for value in doc:
            found += _containers(value)
    return found


def test_manifests_run_the_documented_images_as_the_image_user() -> None:
    tags = documented_tags()
    version = PYPROJECT["project"]["version"]
    assert tags == {t: tags["cpu"].rsplit(":", 1)[0] + f":{version}-{t}" for t in TARGETS}
    uid = int(GLOBAL_ARGS["APP_UID"])
    seen = set()
    for path in K8S_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            for pod, container in _containers(doc):
                limits = container.get("resources", {}).get("limits", {})
                want = tags["gpu"] if "nvidia.com/gpu" in limits else tags["cpu"]
                assert container["image"] == want, f"{path.name}: {container['name']}"
                seen.add(container["image"])
                ctx = pod.get("securityContext", {})
                assert ctx.get("runAsUser") == uid and ctx.get("runAsNonRoot") is True
    assert seen == set(tags.values())
    readme = (DEPLOY / "README.md").read_text()
    registry, _, name_tag = tags["cpu"].rpartition("/")
    name = name_tag.split(":")[0]
    assert f'sed -i "s#{registry}#$REGISTRY#g"' in readme
    for target in TARGETS:
        assert f"--target {target} -t $REGISTRY/{name}:{version}-{target} ." in readme
        assert f"docker build -f deploy/Dockerfile --target {target} -t {tags[target]} ." in (
            DOCKERFILE.read_text()
        )


@pytest.mark.parametrize("target", TARGETS)
def test_gpu_target_checks_its_provider_and_cpu_target_does_not(target: str) -> None:
    runs = " ".join(BY_NAME[target].all("RUN"))
    assert ("CUDAExecutionProvider" in runs) == (target == "gpu")
