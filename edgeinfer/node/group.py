"""``SatelliteGroup``: the logical satellites that share one process (one Ray actor).

Each Ray actor is a separate ~90 MiB process (../shared/ENVIRONMENT.md), so a mission maps
many logical satellites to one actor: the group holds one :class:`InferenceEngine` (detector
sessions loaded once per process), one :class:`Fleet` (budgets stepped as arrays over its
satellites) and a :class:`SatelliteNode` per satellite. The driver hands it, once, the orbit
plan's duty rows and its events cut into windows (:meth:`configure`), then asks it to run
window after window (:meth:`run`); during a pass a node talks to the ground directly through
``ground.receive``, so a window is ONE call per group however many tiles and packets.

Crash recovery (:mod:`edgeinfer.node.checkpoint`): with a state folder, the group writes a
checkpoint after every window. A group constructed where a checkpoint exists (an actor
restarted by Ray, or rebuilt in-process after an :class:`ActorCrash`) restores it, and
:meth:`run` of any window replays every window after the checkpoint up to it, so calls may
be repeated or arrive out of order (Ray's retried actor tasks) and still run each window
once, in order. With crosslinks a relay step also changes the state between windows (custody
acks, relayed packets, energy, packets taken for relay): it is checkpointed too, with what the
step applied, so that a step retried after a restart applies nothing twice
(:func:`edgeinfer.relay.transfer.relay_step`). Scheduled kills (``configure(kills=...)``) end
the process at their simulated time, once each, as confirmed by the fault actor
(:class:`Killer`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError, EdgeInferError
from edgeinfer.link import PacketKey, store_path
from edgeinfer.node.checkpoint import (
    ActorCrash,
    CheckpointStore,
    Killer,
    database_image,
    node_restore,
    node_snapshot,
    write_image,
)
from edgeinfer.node.engine import InferenceEngine
from edgeinfer.node.events import Capture, Event, Pass, Uplink
from edgeinfer.node.fleet import Fleet
from edgeinfer.node.satellite import SatelliteNode
from edgeinfer.node.settings import NodeSettings, SceneRef
from edgeinfer.node.uplinks import UplinkedModel

logger = logging.getLogger(__name__)

Window = tuple[float, list[Event]]
"""``(until_s, events)``: a window ends at ``until_s``; its events are in time order."""


class GroundLike(Protocol):
    """Anything that receives a batch of packets and returns the keys to acknowledge."""

    def receive(
        self, packets: Sequence[bytes], t_s: float, station: str
    ) -> Sequence[PacketKey | Sequence[int]]: ...


class SatelliteGroup:
    """Satellites ``satellites`` = [(mission index, name), ...] in one process."""

    def __init__(
        self,
        satellites: Sequence[tuple[int, str]],
        settings: NodeSettings,
        scenes: Sequence[SceneRef],
        ground: GroundLike,
        preload: bool = True,
        killer: Killer | None = None,
    ) -> None:
        if not satellites:
            raise ConfigError("a satellite group needs at least one satellite")
        t0 = time.perf_counter()
        self.satellites = [(int(i), str(n)) for i, n in satellites]
        self.key = f"group{self.satellites[0][0]:03d}"
        self.settings = settings
        self.scenes = {s.key: s for s in scenes}
        self.ground = ground
        self.killer = killer
        self.engine = InferenceEngine(settings.detection, settings.cost)
        if preload:
            for ref in scenes:
                try:
                    self.engine.prepare(ref)
                except EdgeInferError:  # a bad scene fails at its capture, reported there
                    logger.debug("scene %s does not prepare", ref.key, exc_info=True)
        self.fleet: Fleet | None = None
        self.nodes: dict[int, SatelliteNode] = {}
        self.windows: list[Window] = []
        self.kills: list[float] = []
        self.updates: dict[int, UplinkedModel] = {}
        self.done = -1
        self.relay_applied: Any = None  # the last relay step applied (edgeinfer.relay.transfer)
        self._claimed: set[int] = set()
        self._trace_cols = 0
        self.store: CheckpointStore | None = None
        self.starts = 1
        self.wall_s: dict[str, float] = {"startup": 0.0, "run": 0.0, "checkpoint": 0.0}
        if settings.state_dir is not None:
            self.store = CheckpointStore(Path(settings.state_dir) / f"{self.key}.ckpt.sqlite")
            self.starts = self.store.record_start(os.getpid())
            setup = self.store.load_setup()
            if setup is not None:
                self._restore(setup)
        self.wall_s["startup"] = time.perf_counter() - t0

    @property
    def restarts(self) -> int:
        """Process starts after the first (crashes recovered from a checkpoint)."""
        return self.starts - 1

    # -- setup -----------------------------------------------------------------------------

    def configure(
        self,
        step_s: float,
        duration_s: float,
        sunlit: NDArray[np.float64],
        imaging: NDArray[np.float64],
        transmitting: NDArray[np.float64],
        windows: Sequence[Window] = (),
        kills: Sequence[float] = (),
        updates: Sequence[UplinkedModel] = (),
    ) -> int:
        """Create the fleet and nodes from this group's duty rows (one row per satellite, in
        the order of ``satellites``), keep its windows of events, kill times (simulated
        seconds) and the mission's model updates; returns the number of satellites. A group
        restored from a checkpoint is already configured: the call changes nothing."""
        if self.fleet is not None and self.store is not None:
            return len(self.nodes)
        setup = {
            "step_s": step_s,
            "duration_s": duration_s,
            "sunlit": np.asarray(sunlit),
            "imaging": np.asarray(imaging),
            "transmitting": np.asarray(transmitting),
            "windows": [(float(u), list(e)) for u, e in windows],
            "kills": [float(k) for k in kills],
            "updates": list(updates),
        }
        self._build(setup)
        if self.store is not None:
            self.store.save_setup(setup)
            self._checkpoint()
        return len(self.nodes)

    def _build(self, setup: dict[str, Any]) -> None:
        self.fleet = Fleet(
            self.settings.budgets.power,
            self.settings.budgets.thermal,
            setup["step_s"],
            setup["duration_s"],
            setup["sunlit"],
            setup["imaging"],
            setup["transmitting"],
        )
        self.windows = list(setup["windows"])
        self.kills = list(setup["kills"])
        self.updates = {u.index: u for u in setup["updates"]}
        self.nodes = {
            index: SatelliteNode(
                index, name, self.settings, self.engine, self.scenes, self.fleet, slot
            )
            for slot, (index, name) in enumerate(self.satellites)
        }

    # -- running ---------------------------------------------------------------------------

    def run(self, window: int) -> dict[str, Any]:
        """Run every window after the last one done, up to ``window`` (a repeated call is
        answered from the state: each window runs once)."""
        if self.fleet is None:
            raise ConfigError("SatelliteGroup.run before configure(); give it the plan's rows")
        if not 0 <= window < len(self.windows):
            raise ConfigError(f"window {window} does not exist; there are {len(self.windows)}")
        t0 = time.perf_counter()
        events = 0
        while self.done < window:
            events += self._run_window(self.done + 1)
        self.wall_s["run"] += time.perf_counter() - t0
        return {
            "window": window,
            "until_s": self.windows[window][0],
            "events": events,
            "alerts_raised": sum(n.counters["alerts_raised"] for n in self.nodes.values()),
            "restarts": self.restarts,
        }

    def relay_step(self, incoming: Any, window: int, senders: dict[int, int]) -> dict[str, Any]:
        """Crosslinks (issue 9): take in what the driver carried here (custody acks, relayed
        packets, crosslink energy), :meth:`run` up to ``window``, then hand over the pending
        alert packets of ``senders`` ({satellite: max bytes}); see edgeinfer.relay.transfer."""
        from edgeinfer.relay.transfer import relay_step

        return relay_step(self, incoming, window, senders)

    def _run_window(self, w: int) -> int:
        assert self.fleet is not None
        until_s, events = self.windows[w]
        for event in events:
            self._maybe_die(event.t_s)
            node = self.nodes[event.sat]
            if isinstance(event, Capture):
                node.capture(event.scene, event.t_s)
            elif isinstance(event, Pass):
                node.contact(
                    event.station, event.t_s, event.los_s, event.capacity_bytes, self._deliver
                )
            elif isinstance(event, Uplink):
                node.uplink(self.updates[event.update], event.t_s)
        self._maybe_die(until_s)
        self.fleet.advance(until_s)
        for node in self.nodes.values():
            node.flush()
        self.done = w
        if self.store is not None:
            self._checkpoint()
        return len(events)

    def _deliver(self, packets: list[bytes], t_posix: float, station: str) -> Any:
        acks = self.ground.receive(packets, t_posix, station)
        # a kill here loses the acknowledgements of a batch the ground has already stored
        self._maybe_die(t_posix - self.settings.start_posix_s)
        return acks

    # -- faults ----------------------------------------------------------------------------

    def _maybe_die(self, t_s: float) -> None:
        """End the process if a scheduled kill is due at ``t_s`` and has not fired yet."""
        if self.killer is None:
            return
        for index, kill_s in enumerate(self.kills):
            if kill_s <= t_s and index not in self._claimed:
                self._claimed.add(index)
                if self.killer.claim(self.key, index, kill_s, os.getpid()):
                    logger.warning(
                        "%s: killed at t=%.1f s (kill %d at %.1f s)", self.key, t_s, index, kill_s
                    )
                    self._die()

    def _die(self) -> None:
        """Die without cleaning up (the Ray actor overrides this with ``os._exit``)."""
        raise ActorCrash(self.key)

    def abandon(self) -> None:
        """Drop every open file as a dying process would (no flush, no checkpoint)."""
        for node in self.nodes.values():
            node.close()
        if self.store is not None:
            self.store.close()

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Save the state now, between windows (a relay step's changes); nothing without a
        state folder."""
        if self.store is not None:
            self._checkpoint()

    def _checkpoint(self) -> None:
        assert self.fleet is not None and self.store is not None
        t0 = time.perf_counter()
        state = {
            "done": self.done,
            "fleet": self.fleet.snapshot(),
            "nodes": {i: node_snapshot(n) for i, n in self.nodes.items()},
            "relay_applied": self.relay_applied,
        }
        links = {
            i: database_image(n.queue.path)
            for i, n in self.nodes.items()
            if n.queue.path is not None
        }
        soc, temp = self.fleet.trace_columns(self._trace_cols)
        self.store.save(self.done, state, links, self._trace_cols, soc, temp)
        self._trace_cols += soc.shape[1]
        self.wall_s["checkpoint"] = self.wall_s.get("checkpoint", 0.0) + time.perf_counter() - t0

    def _restore(self, setup: dict[str, Any]) -> None:
        assert self.store is not None
        saved = self.store.load()
        if saved is None:
            raise ConfigError(f"{self.store.path} has a setup but no checkpoint; delete it")
        for node_index, image in saved.links.items():
            write_image(store_path(Path(self.settings.state_dir or "."), node_index), image)
        self._build(setup)
        assert self.fleet is not None
        self.fleet.restore(saved.state["fleet"], saved.soc, saved.temperature)
        runners = {
            name: self.engine.runner(name)
            for state in saved.state["nodes"].values()
            for name in state["hazards"]["guards"]
        }
        for index, state in saved.state["nodes"].items():
            node_restore(self.nodes[index], state, runners, self.updates)
        self.done = int(saved.state["done"])
        self.relay_applied = saved.state.get("relay_applied")
        self._trace_cols = saved.soc.shape[1]
        logger.warning(
            "%s restarted (start %d, pid %d): restored the checkpoint after window %d",
            self.key,
            self.starts,
            os.getpid(),
            self.done,
        )

    # -- the end ---------------------------------------------------------------------------

    def finish(self, end_s: float) -> dict[str, Any]:
        """End the mission (after running any window not run yet): per-satellite reports,
        logs, raised records, budget traces and (when the queues are on disk) each
        satellite's database as bytes."""
        if self.fleet is None:
            raise ConfigError("SatelliteGroup.finish before configure()")
        if self.windows:
            self.run(len(self.windows) - 1)
        reports: dict[int, dict[str, Any]] = {}
        databases: dict[int, bytes] = {}
        raised: dict[int, dict[int, bytes]] = {}
        for index, node in self.nodes.items():
            node.finish(end_s)
            rep = node.report()
            rep["capture_log"] = node.capture_log
            rep["pass_log"] = node.pass_log
            rep["actor_restarts"] = self.restarts
            reports[index] = rep
            raised[index] = dict(node.raised)
            node.close()
            if node.queue.path is not None and Path(node.queue.path).exists():
                databases[index] = Path(node.queue.path).read_bytes()
        return {
            "reports": reports,
            "databases": databases,
            "raised": raised,
            "soc": self.fleet.soc_trace,
            "temperature_c": self.fleet.temperature_trace,
            "satellites": [i for i, _ in self.satellites],
            "providers": self.engine.providers(),
            "lanes": self.engine.lanes,
            "threads_per_lane": self.engine.threads_per_lane,
            "batch_size": self.engine.batch_size,
            "models": self.engine.models_loaded(),
            "wall_s": dict(self.wall_s),
            "group": self.key,
            "restarts": self.restarts,
            "pids": self.store.starts() if self.store is not None else [os.getpid()],
        }

    def close(self) -> None:
        self.engine.close()
        if self.store is not None:
            self.store.close()
