"""Scheduled actor kills: when which satellite group dies (seeded), and the fault actor that
lets each kill happen exactly once.

Like xgboost_ray's ``FaultToleranceManager``, kills are data decided before the run, not
wall-clock accidents: :func:`kill_schedule` turns a mission's ``[faults]`` table into
``(simulated time, group)`` pairs from ``mission.seed``; each group receives its kill times
and, when its simulated clock reaches one, asks the :class:`KillSwitch` (a Ray actor beside
the ground station) whether to die. The switch says yes once per kill, so the restarted
actor, replaying the same simulated time from its checkpoint, lives on. On Ray the group then
ends its process with ``os._exit`` (a real crash: no cleanup, open SQLite transactions and
all) and Ray restarts it (``max_restarts``); in-process runs raise
:class:`~edgeinfer.node.ActorCrash` and the local executor rebuilds the group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.mission.config_faults import FaultsSection
from edgeinfer.orbit import Constellation

_EVERY_ORBIT, _AT_TIMES, _AT_RATE = 1, 2, 3
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, order=True)
class Kill:
    """Satellite group ``group`` (its place in the placement) dies at ``t_s``."""

    t_s: float
    group: int
    reason: str = "orbit"


def orbit_period_s(constellation: Constellation) -> float:
    """Mean Keplerian period of the constellation's satellites, from the SGP4 mean motion
    (``no_kozai``, radians per minute)."""
    motions = [s.no_kozai for s in constellation.satrecs]
    return float(np.mean([2.0 * math.pi / n * 60.0 for n in motions]))


def kill_schedule(
    faults: FaultsSection, n_groups: int, duration_s: float, period_s: float, seed: int
) -> list[Kill]:
    """The mission's kills in time order.

    ``kill_every_orbit``: one kill in each orbital period, at a uniformly drawn point of its
    middle 80 %, groups taken in turn (every actor dies in turn). ``kill_times_h``: at those
    times, groups drawn at random. ``kill_rate_per_day``: a Poisson process of that rate,
    groups drawn at random. Each source has its own random stream of ``seed``.
    """
    if n_groups < 1:
        return []
    kills: list[Kill] = []
    if faults.kill_every_orbit:
        rng = np.random.default_rng([seed, _EVERY_ORBIT])
        for k in range(math.ceil(duration_s / period_s)):
            t = (k + rng.uniform(0.1, 0.9)) * period_s
            if t < duration_s:
                kills.append(Kill(float(t), k % n_groups, "orbit"))
    if faults.kill_times_h:
        rng = np.random.default_rng([seed, _AT_TIMES])
        for hours in faults.kill_times_h:
            kills.append(Kill(hours * 3600.0, int(rng.integers(n_groups)), "time"))
    if faults.kill_rate_per_day > 0:
        rng = np.random.default_rng([seed, _AT_RATE])
        t = 0.0
        while True:
            t += float(rng.exponential(SECONDS_PER_DAY / faults.kill_rate_per_day))
            if t >= duration_s:
                break
            kills.append(Kill(t, int(rng.integers(n_groups)), "rate"))
    return sorted(kills)


class KillSwitch:
    """The fault actor: confirms each scheduled kill once, and remembers who died when."""

    def __init__(self) -> None:
        self._fired: dict[tuple[str, int], dict[str, Any]] = {}

    def claim(self, group: str, index: int, t_s: float, pid: int) -> bool:
        """True the first time group ``group`` asks about its kill ``index`` (it must die
        now), False afterwards (its restarted self replays past that time)."""
        key = (str(group), int(index))
        if key in self._fired:
            return False
        self._fired[key] = {"group": key[0], "kill": key[1], "t_s": float(t_s), "pid": int(pid)}
        return True

    def fired(self) -> list[dict[str, Any]]:
        """The kills that happened, in time order."""
        return sorted(self._fired.values(), key=lambda k: (k["t_s"], k["group"]))
