"""Which nodes of a Ray cluster can hold satellite actors, and how many actors fit there.

A satellite actor asks for ``num_cpus`` (its CPU share), one unit of the satellite resource
(``[execution] satellite_resource``) when the cluster advertises it, and a GPU fraction when
the mission runs its models on CUDA or TensorRT. Ray places an actor only on ONE node that has
all of these free, so the mission must be sized to those nodes, not to the cluster's totals: a
cluster whose GPU slots sit on one node of four would otherwise get actors sized to all four
nodes' CPUs, and the surplus would wait forever (``PENDING_CREATION``).

:func:`cluster_capacity` reads ``ray.nodes()`` (plain dicts, so this module needs no Ray and
unit-tests without a cluster) into a :class:`Capacity`: the eligible nodes, how many actors
of a given CPU share fit on them (:meth:`Capacity.fitting`), and the largest CPU share at which
``n`` actors fit (:meth:`Capacity.share`), which ``plan_placement`` uses in ``auto`` mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeinfer.errors import ConfigError

# Ray keeps resource quantities to 4 decimal places (fractional resources are multiples of
# 0.0001, Ray's docs "Fractional Resource Requirements"); requests are rounded down to that
# grid so that k requests of a share never add up to more than the node has.
RESOURCE_GRID = 10_000
_EPS = 1e-9


def _floor_grid(value: float) -> float:
    return math.floor(value * RESOURCE_GRID + _EPS) / RESOURCE_GRID


@dataclass(frozen=True)
class NodeCapacity:
    """One node that can hold satellite actors: its address and what it advertises."""

    address: str
    cpus: float
    slots: float
    gpus: float


@dataclass(frozen=True)
class Capacity:
    """The nodes that can hold a satellite actor and what each actor asks for besides CPUs.

    ``slots`` of a node is ``inf`` when the cluster does not advertise the satellite resource
    (actors then ask for CPUs only). ``gpus_per_actor`` is 0 unless GPUs are asked for and the
    cluster has them.
    """

    resource: str
    nodes: tuple[NodeCapacity, ...]
    has_slots: bool
    gpus_per_actor: float

    @property
    def cpus(self) -> float:
        """CPUs on the nodes that can hold satellite actors."""
        return sum(n.cpus for n in self.nodes)

    def _per_node(self, node: NodeCapacity, cpus_per_actor: float) -> int:
        k = math.floor(node.cpus / cpus_per_actor + _EPS) if cpus_per_actor > 0 else 10**9
        k = min(k, math.floor(node.slots + _EPS)) if self.has_slots else k
        if self.gpus_per_actor > 0:
            k = min(k, math.floor(node.gpus / self.gpus_per_actor + _EPS))
        return max(0, k)

    def fitting(self, cpus_per_actor: float) -> int:
        """How many actors of ``cpus_per_actor`` CPUs fit on the cluster at once (each on one
        node, with a slot and its GPU share there)."""
        return sum(self._per_node(n, cpus_per_actor) for n in self.nodes)

    @property
    def max_actors(self) -> int:
        """Actors of one CPU each that fit: ``auto`` makes at most one actor per CPU."""
        return self.fitting(1.0)

    def share(self, n_actors: int) -> float:
        """The largest CPU share (on Ray's resource grid, >= 1 when one CPU each fits) at
        which ``n_actors`` actors all fit; the cluster's CPUs over ``n_actors`` when that fits
        (an even split over identical nodes)."""
        n = max(1, n_actors)
        even = _floor_grid(self.cpus / n)
        if even > 0 and self.fitting(even) >= n:
            return even
        # fitting() is non-increasing in the share, and the best share puts k actors on some
        # node, so it is one of cpus_i / k.
        candidates = sorted(
            {_floor_grid(node.cpus / k) for node in self.nodes for k in range(1, n + 1)} - {0.0}
        )
        # ascending shares: fitting() falls, so bisect for the last share at which n fit
        lo, hi = 0, len(candidates)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.fitting(candidates[mid]) >= n:
                lo = mid + 1
            else:
                hi = mid
        return candidates[lo - 1] if lo else 1.0  # 1.0: nothing fits, check_fits says why

    def check_fits(self, n_actors: int, cpus_per_actor: float) -> None:
        """Raise :class:`ConfigError` when ``n_actors`` actors of ``cpus_per_actor`` CPUs
        cannot all be placed at once (Ray would leave the rest pending forever)."""
        fit = self.fitting(cpus_per_actor)
        if n_actors <= fit:
            return
        asks = f"{cpus_per_actor:g} CPU"
        if self.has_slots:
            asks += f" + 1 {self.resource}"
        if self.gpus_per_actor > 0:
            asks += f" + {self.gpus_per_actor:g} GPU"
        nodes = ", ".join(
            f"{n.address} ({n.cpus:g} CPU"
            + (f", {n.slots:g} slots" if self.has_slots else "")
            + (f", {n.gpus:g} GPU" if self.gpus_per_actor > 0 else "")
            + ")"
            for n in self.nodes
        )
        raise ConfigError(
            f"{n_actors} satellite actors of {asks} each do not fit the cluster: its nodes "
            f"{nodes} hold {fit}; set execution.satellites_per_actor and "
            "execution.cpus_per_actor to 'auto' (sized to these nodes), raise "
            f"satellites_per_actor, lower cpus_per_actor, or add nodes with {self.resource}"
        )


def cluster_capacity(
    nodes: Sequence[Mapping[str, Any]], resource: str, gpu: bool = False
) -> Capacity:
    """The nodes (``ray.nodes()`` entries) that can hold satellite actors.

    A node qualifies when it is alive, has CPUs, has the satellite ``resource`` if any node
    advertises it, and has GPUs if ``gpu`` is asked and any node has them (a cluster without
    GPUs runs the models on CPU: onnxruntime falls back, and metrics.json says so). The GPU
    share of an actor is the smallest over those nodes of GPUs per actor the node holds
    (its slots, or its CPUs without slots), at most one GPU, so that a node's actors share its
    GPUs.
    """
    alive = [n for n in nodes if n.get("Alive", True)]

    def res(node: Mapping[str, Any], key: str) -> float:
        return float(node.get("Resources", {}).get(key, 0.0))

    has_slots = any(res(n, resource) > 0 for n in alive)
    use_gpu = gpu and any(res(n, "GPU") > 0 for n in alive)
    eligible = [
        NodeCapacity(
            str(n.get("NodeManagerAddress", n.get("NodeID", "?"))),
            res(n, "CPU"),
            res(n, resource) if has_slots else math.inf,
            res(n, "GPU"),
        )
        for n in alive
        if res(n, "CPU") > 0
        and (not has_slots or res(n, resource) > 0)
        and (not use_gpu or res(n, "GPU") > 0)
    ]
    if not eligible:
        wanted = (
            "CPUs" + (f" and {resource}" if has_slots else "") + (" and GPUs" if use_gpu else "")
        )
        raise ConfigError(
            f"no node of the Ray cluster has {wanted} for satellite actors; start workers "
            f"with --num-cpus > 0 and --resources='{{\"{resource}\": N}}'"
            + (" and GPUs, or set detection.provider = 'cpu'" if use_gpu else "")
        )
    gpus_per_actor = 0.0
    if use_gpu:
        per_node = [n.gpus / max(1.0, min(n.slots, math.floor(n.cpus + _EPS))) for n in eligible]
        gpus_per_actor = _floor_grid(min(1.0, *per_node))
    return Capacity(resource, tuple(eligible), has_slots, gpus_per_actor)
