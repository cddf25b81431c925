"""Routing alerts to the ground over crosslinks: the contact plan, an earliest-arrival search
in the style of Contact Graph Routing, and the relay schedule of a whole mission.

Delay-tolerant networking routes a bundle over *contacts* known in advance: a contact (from,
to, start, end) can carry data only while it lasts, and the best route is the one with the
earliest arrival, found by a Dijkstra search on the contact graph (Contact Graph Routing:
Araniti et al., "Contact Graph Routing in DTN Space Networks: Overview, Enhancements and
Performance", IEEE Communications Magazine 53(3), 2015; Fraire, De Jonckère and Burleigh,
"Routing in the Space Internet: A contact graph routing tutorial", J. Network and Computer
Applications 174, 2021; the bundle protocol: RFC 9171). Here

* the contacts are the crosslink windows (:func:`edgeinfer.orbit.crosslinks.find_crosslink_windows`)
  and each satellite's ground passes (the mission plan's :class:`~edgeinfer.node.events.Pass`);
* relays happen on a time grid of ``tick_s`` (the mission driver exchanges packets between
  satellite processes at those instants). A hop departs at the first tick inside its window;
  serialisation (74-byte alerts at Gbit/s) and light time (< 30 ms) are far below a tick, so
  hops chain within one tick and their time is accounted in the latency split, not here;
* a pass can carry what its satellite holds at the pass's start (the mission hands a whole
  pass to its satellite at AOS), so reaching the ground through a pass means being on board at
  its start.

:func:`earliest_arrival` is the single-bundle Dijkstra. :func:`relay_schedule` answers the same
question for every satellite at every tick at once, by dynamic programming backwards over the
ticks: with ``v(j, k) = min(next own pass of j at or after t_k, A(j, k + 1))`` (keep the packet
one more tick), a packet at i at tick k reaches the ground at ``A(i, k) = min over the
satellites j connected to i at t_k (crosslinks chain within a tick) of v(j, k)``, unless i
keeps its packets because it meets a station within ``forward_if_no_contact_within_s``. Both
give the same arrival times (tested), and following the schedule hop by hop delivers at the
promised time (Bellman consistency, tested).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from edgeinfer.errors import ConfigError
from edgeinfer.orbit.constellation import Constellation
from edgeinfer.orbit.crosslinks import CrosslinkWindow, find_crosslink_windows
from edgeinfer.orbit.timeutil import TimeGrid
from edgeinfer.relay.config import CrosslinksConfig

FloatArray = NDArray[np.float64]
_EPS = 1e-9


@dataclass(frozen=True)
class ContactPlan:
    """Crosslink windows, ground pass starts and the link state at every relay tick.

    ``visible`` is (pairs, ticks): pair p = (``pairs[p, 0]``, ``pairs[p, 1]``) can relay at
    tick k when a window of that pair holds ``start <= t_k < end``; ``range_km`` is the pair's
    distance there (NaN where not visible).
    """

    n_sats: int
    tick_s: float
    duration_s: float
    ticks_s: FloatArray
    pass_starts: tuple[FloatArray, ...]
    windows: tuple[CrosslinkWindow, ...]
    pairs: NDArray[np.intp]
    visible: NDArray[np.bool_]
    range_km: NDArray[np.float32]

    @classmethod
    def build(
        cls,
        constellation: Constellation,
        start: datetime,
        duration_s: float,
        pass_starts: Sequence[tuple[int, float]],
        config: CrosslinksConfig,
    ) -> ContactPlan:
        """The plan of a mission: windows of every pair, passes as (satellite, start s)."""
        n = len(constellation)
        windows = find_crosslink_windows(
            constellation,
            start,
            duration_s,
            config.max_range_km,
            config.grazing_height_km,
            step_s=config.search_step_s,
        )
        ticks = np.arange(0.0, duration_s - _EPS, config.tick_s)
        i, j = np.triu_indices(n, k=1)
        pairs = np.stack((i, j), axis=1).astype(np.intp)
        index = {(int(a), int(b)): p for p, (a, b) in enumerate(pairs)}
        visible = np.zeros((pairs.shape[0], ticks.size), dtype=bool)
        for w in windows:
            lo = int(np.searchsorted(ticks, w.start_s - _EPS, side="left"))
            hi = int(np.searchsorted(ticks, w.end_s - _EPS, side="left"))
            visible[index[(w.index_a, w.index_b)], lo:hi] = True
        rng = np.full(visible.shape, np.nan, dtype=np.float32)
        if ticks.size and visible.any():
            track = constellation.propagate(TimeGrid.from_offsets(start, ticks))
            r = track.r_teme_km
            d = np.linalg.norm(r[pairs[:, 1]] - r[pairs[:, 0]], axis=-1)
            rng = np.where(visible, d, np.nan).astype(np.float32)
        starts: list[list[float]] = [[] for _ in range(n)]
        for sat, t in pass_starts:
            starts[sat].append(float(t))
        return cls(
            n_sats=n,
            tick_s=float(config.tick_s),
            duration_s=float(duration_s),
            ticks_s=ticks,
            pass_starts=tuple(np.sort(np.asarray(s, dtype=np.float64)) for s in starts),
            windows=tuple(windows),
            pairs=pairs,
            visible=visible,
            range_km=rng,
        )

    def without(self, sats: Collection[int]) -> ContactPlan:
        """This plan with satellites ``sats`` gone (their groups were lost): no crosslink
        touches them and they have no pass, so no route starts, passes or ends there."""
        gone = set(sats)
        touching = np.asarray(np.isin(self.pairs, sorted(gone)).any(axis=1), dtype=bool)
        visible = self.visible & ~touching[:, np.newaxis]
        return replace(
            self,
            pass_starts=tuple(
                np.empty(0, dtype=np.float64) if i in gone else s
                for i, s in enumerate(self.pass_starts)
            ),
            windows=tuple(
                w for w in self.windows if w.index_a not in gone and w.index_b not in gone
            ),
            visible=visible,
            range_km=np.where(visible, self.range_km, np.nan).astype(np.float32),
        )

    def next_pass(self, sat: int, t_s: float) -> float:
        """Start of ``sat``'s first pass at or after ``t_s`` (inf if none)."""
        starts = self.pass_starts[sat]
        k = int(np.searchsorted(starts, t_s - _EPS, side="left"))
        return float(starts[k]) if k < starts.size else math.inf

    def ceil_tick(self, t_s: float) -> float:
        """The first relay tick at or after ``t_s``."""
        return math.ceil(t_s / self.tick_s - _EPS) * self.tick_s

    def adjacency(self, k: int) -> coo_matrix:
        """Symmetric link graph (satellites x satellites) at tick ``k``."""
        p = self.pairs[self.visible[:, k]]
        ones = np.ones(p.shape[0], dtype=np.int8)
        return coo_matrix((ones, (p[:, 0], p[:, 1])), shape=(self.n_sats, self.n_sats))

    def hop_range_km(self, k: int, a: int, b: int) -> float:
        """Distance between ``a`` and ``b`` at tick ``k`` (NaN if they are not linked)."""
        lo, hi = (a, b) if a < b else (b, a)
        p = lo * self.n_sats - lo * (lo + 1) // 2 + (hi - lo - 1)
        return float(self.range_km[p, k])


@dataclass(frozen=True)
class Route:
    """An earliest-arrival route: hops (from, to, departure s) and the ground arrival."""

    source: int
    start_s: float
    arrival_s: float
    holder: int
    hops: tuple[tuple[int, int, float], ...] = ()


def earliest_arrival(plan: ContactPlan, source: int, start_s: float) -> Route:
    """Dijkstra over the contact graph (CGR): the earliest time a packet on board ``source``
    at ``start_s`` can reach the ground, and how. Arrival = start of the delivering pass."""
    if not 0 <= source < plan.n_sats:
        raise ConfigError(f"satellite index {source} is outside 0..{plan.n_sats - 1}")
    out_edges: list[list[tuple[int, float, float]]] = [[] for _ in range(plan.n_sats)]
    for w in plan.windows:
        out_edges[w.index_a].append((w.index_b, w.start_s, w.end_s))
        out_edges[w.index_b].append((w.index_a, w.start_s, w.end_s))
    label = [math.inf] * plan.n_sats
    label[source] = start_s
    pred: dict[int, tuple[int, float]] = {}
    heap = [(start_s, source)]
    best, holder = math.inf, source
    while heap:
        t, u = heapq.heappop(heap)
        if t > label[u] or t >= best:
            continue
        ground = plan.next_pass(u, t)
        if ground < best:
            best, holder = ground, u
        for v, s, e in out_edges[u]:
            depart = plan.ceil_tick(max(t, s))
            if depart >= e - _EPS or depart >= plan.duration_s or depart >= label[v]:
                continue
            label[v] = depart
            pred[v] = (u, depart)
            heapq.heappush(heap, (depart, v))
    hops: list[tuple[int, int, float]] = []
    node = holder
    while node != source and node in pred:
        u, depart = pred[node]
        hops.append((u, node, depart))
        node = u
    return Route(source, start_s, best, holder, tuple(reversed(hops)))


@dataclass(frozen=True)
class Forward:
    """At tick ``tick`` (``t_s``), ``sender`` hands its alert packets along ``path`` to
    ``receiver``, which reaches the ground at ``expected_arrival_s`` instead of the sender's
    ``kept_arrival_s``."""

    tick: int
    t_s: float
    sender: int
    receiver: int
    path: tuple[int, ...]
    expected_arrival_s: float
    kept_arrival_s: float

    @property
    def hops(self) -> int:
        return len(self.path) - 1


@dataclass
class RelaySchedule:
    """Forwards per tick and the expected ground arrival ``arrival_s[i, k]`` of a packet on
    board satellite i at tick k (inf: never within the mission)."""

    plan: ContactPlan
    arrival_s: FloatArray
    forwards: dict[int, list[Forward]] = field(default_factory=dict)

    def senders(self, k: int) -> list[int]:
        return [f.sender for f in self.forwards.get(k, [])]

    @property
    def ticks_with_forwards(self) -> list[int]:
        return sorted(self.forwards)


def relay_schedule(plan: ContactPlan, forward_if_no_contact_within_s: float) -> RelaySchedule:
    """Who forwards to whom at every tick (see the module docstring)."""
    n, ticks = plan.n_sats, plan.ticks_s
    n_ticks = ticks.size
    own = np.full((n, n_ticks), np.inf)
    for i, starts in enumerate(plan.pass_starts):
        nxt = np.searchsorted(starts, ticks - _EPS, side="left")
        ok = nxt < starts.size
        own[i, ok] = starts[nxt[ok]]
    keeps = own - ticks[np.newaxis, :] <= forward_if_no_contact_within_s
    arrival = np.full((n, n_ticks + 1), np.inf)
    forwards: dict[int, list[Forward]] = {}
    for k in range(n_ticks - 1, -1, -1):
        v = np.minimum(own[:, k], arrival[:, k + 1])
        arrival[:, k] = v
        if not plan.visible[:, k].any():
            continue
        adj = plan.adjacency(k)
        _, labels = connected_components(adj, directed=False)
        best = np.full(labels.max() + 1, np.inf)
        np.minimum.at(best, labels, v)
        better = (best[labels] < v) & ~keeps[:, k]
        if not better.any():
            continue
        senders = np.nonzero(better)[0]
        arrival[senders, k] = best[labels[senders]]
        dist, pred = shortest_path(
            adj, directed=False, unweighted=True, indices=senders, return_predecessors=True
        )
        out = []
        for row, src in enumerate(senders.tolist()):
            comp = int(labels[src])
            cands = np.nonzero((labels == comp) & (v == best[comp]))[0]
            j = int(min(cands, key=lambda c: (float(dist[row, c]), int(c))))
            path = [j]
            while path[-1] != src:
                path.append(int(pred[row, path[-1]]))
            out.append(
                Forward(
                    tick=k,
                    t_s=float(ticks[k]),
                    sender=src,
                    receiver=j,
                    path=tuple(reversed(path)),
                    expected_arrival_s=float(best[comp]),
                    kept_arrival_s=float(v[src]),
                )
            )
        forwards[k] = out
    return RelaySchedule(plan, arrival[:, :n_ticks], forwards)
