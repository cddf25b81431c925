"""Sizing satellite actors to the nodes that can hold them (no cluster needed).

Node lists are written as ``ray.nodes()`` returns them (``Alive``, ``NodeManagerAddress``,
``Resources``); expected counts and shares are worked out by hand in the comments. The
multi-node run on a real loopback cluster is in tests/test_cluster_run.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.errors import ConfigError
from edgeinfer.mission import load_mission
from edgeinfer.mission.build import plan_placement
from edgeinfer.mission.capacity import cluster_capacity

SLOT = "edgeinfer_satellite_slot"
GPU_SLOT = "edgeinfer_gpu_satellite_slot"


def node(address: str, resources: dict[str, float], alive: bool = True) -> dict[str, Any]:
    return {
        "NodeID": address,
        "NodeManagerAddress": address,
        "Alive": alive,
        "Resources": resources,
    }


# deploy/kuberay/raycluster.yaml's shape: a head with no CPUs, two 4-CPU workers with 16 slots
KUBERAY = [
    node("10.0.0.1", {"CPU": 0.0}),
    node("10.0.0.2", {"CPU": 4.0, SLOT: 16.0}),
    node("10.0.0.3", {"CPU": 4.0, SLOT: 16.0}),
]


def test_head_without_cpus_holds_no_satellites() -> None:
    cap = cluster_capacity(KUBERAY, SLOT)
    assert [n.address for n in cap.nodes] == ["10.0.0.2", "10.0.0.3"]
    assert cap.cpus == 8.0 and cap.has_slots and cap.gpus_per_actor == 0.0
    assert cap.max_actors == 8  # one 1-CPU actor per CPU; 16 slots per node do not bind


def test_share_fits_uneven_splits() -> None:
    cap = cluster_capacity(KUBERAY, SLOT)
    # 8 CPUs / 3 actors = 2.67 each: a 4-CPU node holds only one such actor, so the third
    # would wait forever; 2 CPUs each put 2 + 1 actors on the two nodes.
    assert cap.fitting(8.0 / 3.0) == 2
    assert cap.share(3) == 2.0 and cap.fitting(2.0) == 4
    assert cap.share(2) == 4.0  # even split: one whole node each
    assert cap.share(1) == 4.0  # never more than one node has (was 8: pending forever)
    assert cap.share(8) == 1.0


def test_resource_on_some_nodes_sizes_to_those_nodes() -> None:
    # The GPU pods of deploy/kuberay/raycluster.yaml: 8 CPU slots and 4 GPU slots, 1 GPU.
    nodes = [*KUBERAY, node("10.0.0.9", {"CPU": 8.0, "GPU": 1.0, SLOT: 8.0, GPU_SLOT: 4.0})]
    cap = cluster_capacity(nodes, GPU_SLOT, gpu=True)
    assert [n.address for n in cap.nodes] == ["10.0.0.9"]
    assert cap.cpus == 8.0 and cap.max_actors == 4  # the 4 GPU slots bind, not the 16 CPUs
    assert cap.gpus_per_actor == 0.25  # 1 GPU shared by the node's 4 slots
    assert cap.share(4) == 2.0 and cap.fitting(2.0) == 4
    # with the CPU slots, GPUs asked for: only the GPU node, 1 GPU / min(8 slots, 8 CPUs)
    cap = cluster_capacity(nodes, SLOT, gpu=True)
    assert [n.address for n in cap.nodes] == ["10.0.0.9"] and cap.gpus_per_actor == 0.125


def test_gpus_asked_on_a_cluster_without_gpus_use_cpus() -> None:
    cap = cluster_capacity(KUBERAY, SLOT, gpu=True)
    assert cap.gpus_per_actor == 0.0 and cap.cpus == 8.0


def test_cluster_without_the_resource_uses_cpus_only() -> None:
    nodes = [node("127.0.0.1", {"CPU": 2.0}), node("127.0.0.9", {"CPU": 64.0}, alive=False)]
    cap = cluster_capacity(nodes, SLOT)
    assert not cap.has_slots and cap.cpus == 2.0 and cap.max_actors == 2
    assert cap.fitting(0.5) == 4 and cap.share(4) == 0.5


def test_explicit_sizes_that_cannot_fit_fail_fast() -> None:
    cap = cluster_capacity(KUBERAY, SLOT)
    cap.check_fits(4, 2.0)
    with pytest.raises(ConfigError, match=r"3 satellite actors of 3 CPU \+ 1 edgeinfer") as exc:
        cap.check_fits(3, 3.0)  # one 3-CPU actor per 4-CPU node
    assert "hold 2" in str(exc.value) and "cpus_per_actor" in str(exc.value)


def test_no_eligible_node_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"--num-cpus > 0"):
        cluster_capacity([node("10.0.0.1", {"CPU": 0.0, SLOT: 4.0})], SLOT)
    with pytest.raises(ConfigError, match=r"provider = 'cpu'"):
        cluster_capacity(
            [node("a", {"CPU": 0.0, "GPU": 1.0, SLOT: 1.0}), node("b", {"CPU": 4.0, SLOT: 4.0})],
            SLOT,
            gpu=True,
        )


def test_auto_placement_fits_the_nodes() -> None:
    cap = cluster_capacity(KUBERAY, SLOT)
    config = load_mission(None, ["constellation.n_satellites=3"])
    names = tuple(f"S{i}" for i in range(3))
    p = plan_placement(config, names, cap.cpus, cap.max_actors, cap.share)
    assert len(p.groups) == 3 and p.cpus_per_actor == 2.0 and p.threads == 2
    cap.check_fits(len(p.groups), p.cpus_per_actor)
    big = tuple(f"S{i}" for i in range(64))
    p = plan_placement(config, big, cap.cpus, cap.max_actors, cap.share)
    assert len(p.groups) == 8 and p.satellites_per_actor == 8 and p.cpus_per_actor == 1.0


@settings(max_examples=200, deadline=None)
@given(
    cpus=st.lists(st.integers(1, 16), min_size=1, max_size=6),
    slots=st.lists(st.integers(1, 20), min_size=6, max_size=6),
    n=st.integers(1, 64),
)
def test_share_is_the_largest_that_fits(cpus: list[int], slots: list[int], n: int) -> None:
    nodes = [
        node(f"n{i}", {"CPU": float(c), SLOT: float(s)})
        for i, (c, s) in enumerate(zip(cpus, slots, strict=False))
    ]
    cap = cluster_capacity(nodes, SLOT)
    n = min(n, cap.max_actors)
    share = cap.share(n)
    assert share >= 1.0 and cap.fitting(share) >= n
    assert cap.fitting(share + 1e-4) < n  # the next share on Ray's grid does not fit
