"""A real two-node Ray cluster on loopback runs missions through ``edgeinfer run --address``.

The module fixture starts a head on 127.0.0.2 and a worker on 127.0.0.3 with ``ray start
--block`` (each in a session of its own, with a private ``--temp-dir``, its own ports and
``RAY_AUTH_MODE=disabled`` like every process here; ../shared/ENVIRONMENT.md), and stops
exactly those processes at the end (every process of the two sessions: ``ray stop`` would end
other people's clusters on this machine). Each node has 1 CPU and 2 units of
``edgeinfer_satellite_slot``; the worker also has 1 (logical) GPU and 1 unit of
``edgeinfer_gpu_satellite_slot``, which only it advertises.

Checked: the driver's actors land on BOTH nodes and every output (metrics, alerts, report,
ground and onboard databases, plan) is written by the driver into ``--out``; the cluster gives
the same alerts as an in-process run; the RayJob manifest's entrypoint (``--address auto``,
``RAY_ADDRESS`` as the job supervisor sets it) and a Ray Client driver (``ray://``) run; a
resource that only one node has sizes the mission to that node (issue 8: extra actors used to
wait forever) with a GPU fraction for CUDA; sizes that cannot fit fail at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAY = shutil.which("ray", path=str(BIN)) or shutil.which("ray")
EDGEINFER = shutil.which("edgeinfer", path=str(BIN)) or shutil.which("edgeinfer")
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
SLOT, GPU_SLOT = "edgeinfer_satellite_slot", "edgeinfer_gpu_satellite_slot"
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 240.0
# A short mission that still captures a scene and delivers alerts (the sample's first 3 h:
# one capture of the coast scene, its alerts downlinked within the 3 h; 2 h deliver none).
SMALL = ("--set", "mission.duration_h=3")


_TAKEN: set[int] = set()


def _free_port(host: str) -> int:
    """A port nobody listens on now, never one handed out before in this session (the
    OS may offer a just-closed port again before the node that got it binds it)."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _TAKEN:
            _TAKEN.add(port)
            return port


def _session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``, read from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(entry.name))
    return out


def _signal(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(sid: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := _session_members(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _stop_session(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> list[int]:
    """SIGTERM every process of the session ``proc`` leads (Ray's own daemons and the
    actor workers it spawned), SIGKILL what is left after ``grace_s`` (README: some outlive
    SIGTERM); returns what is still alive after that."""
    _signal(_session_members(proc.pid), signal.SIGTERM)
    proc.poll()
    _signal(_wait_gone(proc.pid, grace_s), signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return _wait_gone(proc.pid, 10.0)


@dataclass
class LoopbackCluster:
    """A head and a worker node; ``run`` runs ``edgeinfer`` against them in a subprocess."""

    address: str
    client_address: str
    env: dict[str, str]
    nodes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def run(
        self, args: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        assert EDGEINFER is not None
        return subprocess.run(
            [EDGEINFER, *args],
            env=env or self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    def log_tail(self) -> str:
        """The nodes' ``ray start`` output and the head's Ray Client server logs."""
        client = sorted(self.logs[0].parent.glob("*/session_latest/logs/ray_client_server*.err"))
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in [*self.logs, *client]
            if p.exists()
        )


def _node_command(head: bool, gcs_port: int, client_port: int, temp: Path, ip: str) -> list[str]:
    assert RAY is not None
    resources: dict[str, float] = {SLOT: 2}
    cmd = [RAY, "start", "--block", f"--node-ip-address={ip}", "--num-cpus=1"]
    if head:
        cmd += [
            "--head",
            f"--port={gcs_port}",
            "--include-dashboard=false",
            f"--dashboard-host={ip}",
            f"--dashboard-port={_free_port(ip)}",
            f"--ray-client-server-port={client_port}",
        ]
    else:
        cmd += [f"--address={HEAD_IP}:{gcs_port}", "--num-gpus=1"]
        resources[GPU_SLOT] = 1
    # every port of its own, so that other Ray clusters on this machine never collide
    for flag in (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--metrics-export-port",
        "--runtime-env-agent-port",
    ):
        cmd.append(f"{flag}={_free_port(ip)}")
    # two nodes on one machine would each advertise all its memory (ENVIRONMENT.md)
    cmd += [
        "--memory=2000000000",
        "--object-store-memory=100000000",
        f"--resources={json.dumps(resources)}",
        "--disable-usage-stats",
        f"--temp-dir={temp}",
    ]
    return cmd


def _wait_for_line(proc: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"ray node did not start ({log}):\n{log.read_text(errors='replace')}")


def _wait_for_nodes(env: dict[str, str], address: str, n: int) -> None:
    """Until the GCS lists ``n`` alive nodes (a worker's raylet registers a moment after its
    ``ray start`` returns)."""
    code = (
        "import ray, sys, time\n"
        f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n"
        "t = time.monotonic()\n"
        f"while sum(x['Alive'] for x in ray.nodes()) < {n} and time.monotonic() - t < 60:\n"
        "    time.sleep(0.5)\n"
        f"sys.exit(0 if sum(x['Alive'] for x in ray.nodes()) >= {n} else 1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"cluster has fewer than {n} nodes:\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    if RAY is None or EDGEINFER is None:
        pytest.skip("the `ray` and `edgeinfer` commands are not installed beside this Python")
    if not sys.platform.startswith("linux"):
        pytest.skip("loopback addresses 127.0.0.2/3 need Linux (other systems need aliases)")
    # Ray puts Unix sockets under --temp-dir, and a socket path must stay under 108 bytes:
    # pytest's tmp_path is too deep, so a short private folder in the system temp dir.
    temp = Path(tempfile.mkdtemp(prefix="eir-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        RAY_AUTH_MODE="disabled",  # as .ci/run exports; the same for every process
        RAY_USAGE_STATS_ENABLED="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    gcs_port, client_port = _free_port(HEAD_IP), _free_port(HEAD_IP)
    nodes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for head, ip in ((True, HEAD_IP), (False, WORKER_IP)):
            log = temp / f"{ip}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    _node_command(head, gcs_port, client_port, temp / ip, ip),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its session holds every process it spawns
                )
            nodes.append(proc)
            logs.append(log)
            _wait_for_line(proc, log, "--block", START_TIMEOUT_S)
        address = f"{HEAD_IP}:{gcs_port}"
        _wait_for_nodes(env, address, 2)
        yield LoopbackCluster(address, f"ray://{HEAD_IP}:{client_port}", env, nodes, logs)
    finally:
        left = [pid for proc in reversed(nodes) for pid in _stop_session(proc)]
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes of the test cluster outlived it: {left}"


def _ok(done: subprocess.CompletedProcess[str], cluster: LoopbackCluster) -> None:
    assert done.returncode == 0, (
        f"edgeinfer exited {done.returncode}\nstderr:\n{done.stderr[-4000:]}\n"
        f"cluster logs:\n{cluster.log_tail()}"
    )


def _metrics(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "metrics.json").read_text()))


def _assert_outputs(out: Path, n_satellites: int) -> dict[str, Any]:
    """Everything the driver gathers is in ``out``, and the files agree with each other."""
    metrics = _metrics(out)
    for name in ("alerts.geojson", "report.html", "ground.sqlite", "plan.json"):
        assert (out / name).is_file(), name
    onboard = sorted(p.name for p in (out / "onboard").glob("sat*.link.sqlite"))
    assert onboard == [f"sat{i:03d}.link.sqlite" for i in range(n_satellites)]
    delivered = metrics["total"]["alerts_delivered"]
    features = json.loads((out / "alerts.geojson").read_text())["features"]
    with sqlite3.connect(out / "ground.sqlite") as con:
        in_db = con.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    assert len(features) == in_db == delivered > 0
    assert "data:image/png;base64," in (out / "report.html").read_text()
    return metrics


def test_cli_run_spreads_actors_over_both_nodes(cluster: LoopbackCluster, tmp_path: Path) -> None:
    out = tmp_path / "cluster"
    args = ["--set", "constellation.n_satellites=4", *SMALL]
    _ok(cluster.run(["run", "--address", cluster.address, "--out", str(out), *args]), cluster)
    metrics = _assert_outputs(out, 4)
    run = metrics["run"]
    # 2 nodes x 1 CPU: 2 actors of 2 satellites, one actor on each node
    assert run["cluster_cpus"] == 2.0 and run["actors"] == 2 and run["cpus_per_actor"] == 1.0
    assert sorted(run["actor_nodes"]) == [HEAD_IP, WORKER_IP]
    # the cluster changes no result: the same alerts as every satellite in one process
    local = tmp_path / "local"
    _ok(cluster.run(["run", "--no-ray", "--out", str(local), *args]), cluster)
    assert (out / "alerts.geojson").read_bytes() == (local / "alerts.geojson").read_bytes()
    assert _metrics(local)["run"]["actor_nodes"] == []


def test_rayjob_entrypoint_runs_with_address_auto(cluster: LoopbackCluster, tmp_path: Path) -> None:
    """deploy/kuberay/rayjob.yaml's entrypoint, with the shared volume /data mapped to a
    folder here (the mission and the sample scenes copied as the seeding Job does) and
    RAY_ADDRESS set as Ray's job supervisor sets it for the job's driver."""
    spec = yaml.safe_load((ROOT / "deploy" / "kuberay" / "rayjob.yaml").read_text())["spec"]
    data = tmp_path / "data"
    (data / "missions").mkdir(parents=True)
    (data / "scenes").mkdir()
    mission = (ROOT / "deploy" / "missions" / "constellation32.toml").read_text()
    assert '"/data/scenes/' in mission
    (data / "missions" / "constellation32.toml").write_text(mission.replace('"/data/', f'"{data}/'))
    generated = ROOT / "sample_data" / "generated"
    if not (generated / "s2_coast.tif").exists():
        subprocess.run(
            [sys.executable, str(ROOT / "sample_data" / "generate.py"), "--quiet"], check=True
        )
    for f in generated.iterdir():
        (data / "scenes" / f.name).symlink_to(f)
    words = [w.replace("/data/", f"{data}/") for w in shlex.split(spec["entrypoint"])]
    assert words[:2] == ["edgeinfer", "run"] and words[words.index("--address") + 1] == "auto"
    env = dict(cluster.env, RAY_ADDRESS=cluster.address)
    # 32 satellites over a day is the benchmark's job (benchmarks/bench_scale.py): 4 here
    done = cluster.run([*words[1:], "--set", "constellation.n_satellites=4", *SMALL], env=env)
    _ok(done, cluster)
    out = Path(words[words.index("--out") + 1])
    assert out.is_relative_to(data)
    metrics = _assert_outputs(out, 4)
    assert metrics["run"]["mission"] == "constellation32"
    assert sorted(metrics["run"]["actor_nodes"]) == [HEAD_IP, WORKER_IP]


def test_ray_client_driver(cluster: LoopbackCluster, tmp_path: Path) -> None:
    out = tmp_path / "client"
    args = ["run", "--address", cluster.client_address, "--out", str(out)]
    args += ["--set", "constellation.n_satellites=2", *SMALL]
    done = cluster.run(args)
    if "Initialization failure from server" in done.stderr:
        # Ray's client proxy now and then fails to start the per-client server on a loaded
        # machine (its log: "SpecificServer startup failed"); a client's retry is the fix.
        done = cluster.run(args)
    _ok(done, cluster)
    metrics = _assert_outputs(out, 2)
    assert sorted(metrics["run"]["actor_nodes"]) == [HEAD_IP, WORKER_IP]


def test_a_resource_on_one_node_sizes_the_mission_to_it(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    """deploy/README.md's GPU route: only the worker has the GPU slot (and the GPU). The
    mission gets one actor there, with a GPU fraction; before, the driver sized actors to
    both nodes' CPUs and the second waited forever for a slot. onnxruntime (CPU build) falls
    back to CPU, which metrics.json shows."""
    out = tmp_path / "gpu"
    args = [
        "--set",
        "constellation.n_satellites=2",
        "--set",
        "detection.provider=cuda",
        "--set",
        f"execution.satellite_resource={GPU_SLOT}",
        *SMALL,
    ]
    _ok(cluster.run(["run", "--address", cluster.address, "--out", str(out), *args]), cluster)
    run = _metrics(out)["run"]
    assert run["actor_nodes"] == [WORKER_IP]
    assert run["actors"] == 1 and run["satellites_per_actor"] == 2 and run["cluster_cpus"] == 1.0
    assert set(run["providers"].values()) <= {"cpu", "cuda"}


def test_sizes_that_cannot_fit_fail_at_once(cluster: LoopbackCluster, tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = cluster.run(
        [
            "run",
            "--address",
            cluster.address,
            "--out",
            str(tmp_path / "nofit"),
            "--set",
            "execution.cpus_per_actor=2",
            *SMALL,
        ]
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "do not fit the cluster" in done.stderr and SLOT in done.stderr
    assert time.monotonic() - t0 < 60.0  # an error, not a wait for resources
