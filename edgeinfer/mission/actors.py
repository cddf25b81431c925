"""Thin Ray wrappers (xgboost_ray style) and the Ray session of a mission run.

``_RemoteSatelliteGroup`` is ``@ray.remote`` over the plain :class:`SatelliteGroup`, and
``_RemoteGroundStation`` over :class:`GroundStationNode`: the physics, queues and detectors
are unit-tested without a cluster; only distribution lives here. Satellite actors ask for
``num_cpus`` (their share of the cluster) and, when the cluster advertises it, one unit of a
custom resource (``edgeinfer_satellite_slot`` by default) so that operators can say how many
satellite processes each node takes; ``scheduling_strategy="SPREAD"`` spreads them over
nodes. With ``detection.provider`` cuda or tensorrt they also ask for a GPU fraction. Actors are
sized to the nodes that can hold them (:mod:`edgeinfer.mission.capacity`), and a placement
that cannot fit fails at once instead of leaving actors pending. The ground actor asks for no
CPU (it only checks and stores packets).

A local Ray for the run takes a loopback node address (:func:`loopback_address`, 127.0.0.2
where the system routes it, as Linux does: Ray replaces 127.0.0.1 with the machine's outward
address; ../shared/ENVIRONMENT.md), runs without the dashboard, and sets
``RAY_AUTH_MODE=disabled`` in this process's environment when unset (Ray 2.60 token
authentication must agree between processes; the CI script exports the same).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray

from edgeinfer.errors import ConfigError, GroupLost
from edgeinfer.link import PacketKey
from edgeinfer.mission.capacity import cluster_capacity
from edgeinfer.mission.chaos import KillSwitch
from edgeinfer.node.ground import GroundStationNode
from edgeinfer.node.group import SatelliteGroup
from edgeinfer.node.settings import NodeSettings, SceneRef
from edgeinfer.scene import set_gdal_cache_mb

logger = logging.getLogger(__name__)

#: The node address of a local Ray. Ray rewrites 127.0.0.1 and localhost to the machine's
#: outward address (../shared/ENVIRONMENT.md), so its processes would advertise and dial that.
LOOPBACK = "127.0.0.2"
#: Where the system has only 127.0.0.1 on loopback (macOS without an alias): Ray then uses the
#: outward address whatever it is given.
LOOPBACK_FALLBACK = "127.0.0.1"
#: GDAL block cache of a satellite actor, MiB: the CLI's own cap (edgeinfer.cli.main); the
#: tiler's peak RSS is flat with it (benchmarks/bench_tiling_memory.py, docs/performance.md).
ACTOR_GDAL_CACHE_MB = 64


def loopback_address() -> str:
    """:data:`LOOPBACK` if a socket can bind to it here, else :data:`LOOPBACK_FALLBACK`
    (logged: Ray will then advertise the outward address)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
    except OSError as exc:
        logger.info(
            "%s is not a loopback address here (%s); the local Ray gets %s, which Ray replaces "
            "with this machine's outward address (on macOS: sudo ifconfig lo0 alias %s)",
            LOOPBACK,
            exc,
            LOOPBACK_FALLBACK,
            LOOPBACK,
        )
        return LOOPBACK_FALLBACK
    return LOOPBACK


class _RayGround:
    """The ground actor seen from a satellite actor: a blocking ``receive``."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def receive(self, packets: Sequence[bytes], t_s: float, station: str) -> list[PacketKey]:
        keys = ray.get(self.handle.receive.remote(list(packets), t_s, station))
        return [PacketKey(*k) for k in keys]


class _RayKiller:
    """The fault actor seen from a satellite actor: a blocking ``claim``."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def claim(self, group: str, index: int, t_s: float, pid: int) -> bool:
        return bool(ray.get(self.handle.claim.remote(group, index, t_s, pid)))


@ray.remote
class _RemoteSatelliteGroup(SatelliteGroup):
    def __init__(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: Any,
        killer: Any = None,
    ) -> None:
        # GDAL's block cache is per process and defaults to 5 % of RAM: capped as in the CLI
        # (streaming tiling decodes each block about once; docs/performance.md)
        set_gdal_cache_mb(ACTOR_GDAL_CACHE_MB)
        super().__init__(
            satellites,
            settings,
            scenes,
            _RayGround(_actor(ground)),
            killer=None if killer is None else _RayKiller(_actor(killer)),
        )

    def _die(self) -> None:
        """A real crash: the process ends at once, files and transactions as they are;
        Ray restarts the actor (max_restarts), which restores its checkpoint."""
        os._exit(1)

    def node_id(self) -> str:
        """The Ray node this actor runs on (tests check the spread over nodes)."""
        return str(ray.get_runtime_context().get_node_id())


_RemoteKillSwitch = ray.remote(KillSwitch)


def _actor(ref: Any) -> Any:
    """An actor handle from a handle or a named actor's name. Satellite groups get the
    ground and the fault actor by NAME: a restarted actor's constructor arguments then hold
    no actor handle (Ray warns that restarts depending on such arguments can fail)."""
    return ray.get_actor(ref) if isinstance(ref, str) else ref


@ray.remote
class _RemoteGroundStation(GroundStationNode):
    pass


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT (or ray://HOST:PORT) nobody answers: Ray itself retries for
    minutes. ``auto`` is left to Ray."""
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); check the "
            "address (the head's GCS port, e.g. 127.0.0.2:6379, or ray://HOST:10001 for a "
            "Ray client server) or leave --address out to start a local Ray"
        ) from None


class RayExecutor:
    """Creates the mission's actors on a local Ray started for the run, or on a cluster."""

    def __init__(
        self,
        address: str | None,
        resource: str,
        local_cpus: int | None = None,
        gpu: bool = False,
    ) -> None:
        self.resource = resource
        self.max_actors: int | None = None
        self.started = False
        self._actors: list[Any] = []
        self._names: dict[int, str] = {}  # actor handle id -> name: groups look actors up
        self._groups: list[Any] = []
        if ray.is_initialized():
            logger.info("using the Ray session already started in this process")
        elif address is None:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            cpus = local_cpus or os.cpu_count() or 1
            ray.init(
                _node_ip_address=loopback_address(),
                include_dashboard=False,
                num_cpus=cpus,
                resources={resource: 1024},
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
            self.started = True
        else:
            check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except Exception as exc:  # ConnectionError, AuthenticationError, ValueError
                hint = (
                    "; set RAY_AUTH_MODE the way the cluster was started (token or disabled)"
                    if "auth" in str(exc).lower()
                    else ""
                )
                # first and last lines: a Ray Client failure's first line is only a heading
                # ("Initialization failure from server:") over the server's traceback
                lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [repr(exc)]
                detail = " ... ".join(dict.fromkeys((lines[0], lines[-1])))
                raise ConfigError(
                    f"cannot join the Ray cluster at {address!r}: {detail}{hint}"
                ) from None
        # sized to the nodes that can hold a satellite actor, not the cluster's totals
        self.capacity = cluster_capacity(ray.nodes(), resource, gpu)  # type: ignore[no-untyped-call]
        self.cpus = self.capacity.cpus
        self.has_slots = self.capacity.has_slots
        self.max_actors = self.capacity.max_actors
        self.cpu_share = self.capacity.share
        if not self.has_slots:
            logger.info("cluster has no %r resource; satellite actors use CPUs only", resource)

    def _named(self, handle: Any, name: str) -> Any:
        self._names[id(handle)] = name
        self._actors.append(handle)
        return handle

    def ground(self, path: Path | None, stations: Sequence[str]) -> Any:
        name = f"edgeinfer-ground-{uuid.uuid4().hex[:12]}"
        handle = _RemoteGroundStation.options(num_cpus=0, name=name).remote(  # type: ignore[attr-defined]
            path, list(stations)
        )
        return self._named(handle, name)

    def killswitch(self) -> Any:
        """The fault actor that confirms scheduled kills (no CPU, like the ground)."""
        name = f"edgeinfer-killswitch-{uuid.uuid4().hex[:12]}"
        handle = _RemoteKillSwitch.options(num_cpus=0, name=name).remote()  # type: ignore[attr-defined]
        return self._named(handle, name)

    def group(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: Any,
        cpus: float,
        killer: Any = None,
        max_restarts: int = 1,
    ) -> Any:
        """A satellite group actor. Ray restarts it up to ``max_restarts`` times and retries
        its calls (``max_task_retries=-1``): safe because a restarted group restores its
        checkpoint and runs each window once (edgeinfer.node.group)."""
        options: dict[str, Any] = {
            "num_cpus": cpus,
            "scheduling_strategy": "SPREAD",
            "max_restarts": max_restarts,
            "max_task_retries": -1 if max_restarts else 0,
        }
        if self.has_slots:
            options["resources"] = {self.resource: 1}
        if self.capacity.gpus_per_actor > 0:
            options["num_gpus"] = self.capacity.gpus_per_actor
        self.capacity.check_fits(len(self._groups) + 1, cpus)  # fail fast, never pend forever
        handle = _RemoteSatelliteGroup.options(**options).remote(  # type: ignore[attr-defined]
            list(satellites),
            settings,
            list(scenes),
            self._names.get(id(ground), ground),
            None if killer is None else self._names.get(id(killer), killer),
        )
        self._actors.append(handle)
        self._groups.append(handle)
        return handle

    def actor_nodes(self) -> list[str]:
        """The address of the node each satellite actor runs on, in group order ("lost" for
        an actor that died for good)."""
        where = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
        out = []
        for handle in self._groups:
            try:
                node = ray.get(handle.node_id.remote())
            except ray.exceptions.RayActorError:
                out.append("lost")
                continue
            out.append(str(where.get(node, node)))
        return out

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        return getattr(handle, method).remote(*args)

    def get(self, refs: Any) -> Any:
        """``ray.get``; an error raised inside an actor's method comes out as itself, and an
        actor that died for good (its restarts spent) as :class:`GroupLost`."""
        try:
            return ray.get(refs)
        except ray.exceptions.RayActorError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise GroupLost(f"its process died and Ray will not restart it ({first})") from None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise

    def shutdown(self) -> None:
        if self.started:  # ray.shutdown ends every actor of the session we started
            self._actors.clear()
            self._groups.clear()
            ray.shutdown()
            self.started = False
            return
        for handle in self._actors:
            try:
                ray.kill(handle)
            except Exception:  # already gone
                logger.debug("actor already gone", exc_info=True)
        self._actors.clear()
        self._groups.clear()
