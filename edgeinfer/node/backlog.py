"""A satellite's tiles waiting for the accelerator, first in, first out, in modelled seconds.

A captured tile becomes a :class:`Job` whose cost is the modelled accelerator time of the
cloud screen plus, when the screen found it clear, the object detectors
(:class:`~edgeinfer.node.costs.CostModel`). The budgets grant seconds step by step
(:class:`~edgeinfer.node.fleet.Fleet`); the head job consumes them and completes when its cost
is paid, at a modelled completion time. When the budgets refuse a step, each waiting job notes
why (``power`` or ``thermal``, counted once per job and reason as deferred); with
``on_refusal = "skip"`` the whole backlog is dropped, and with ``max_defer_s`` jobs that have
waited longer than that since capture are dropped; dropped jobs count as skipped for the
reason that held them.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rasterio.windows import Window

from edgeinfer.errors import ConfigError
from edgeinfer.scene import Tile

_EPS_S = 1e-9
REFUSAL_POLICIES = ("defer", "skip")


@dataclass
class Job:
    """One captured tile on its way through the accelerator."""

    job_id: int
    scene: str
    window: Window
    core: Window
    capture_s: float
    clear: bool
    cost_s: float
    raw_bytes: int
    remaining_s: float = 0.0
    waited: set[str] = field(default_factory=set)
    tile: Tile | None = None

    def __post_init__(self) -> None:
        self.remaining_s = self.cost_s

    @property
    def storage_id(self) -> str:
        return f"tile:{self.job_id}"


class Backlog:
    """FIFO of :class:`Job` s with the refusal policy; ``on_done(job, t_s)`` is called for each
    completed job and ``on_drop(job, reason)`` for each dropped one."""

    def __init__(
        self,
        on_done: Callable[[Job, float], None],
        on_drop: Callable[[Job, str], None],
        counters: Counter[str],
        on_refusal: str = "defer",
        max_defer_s: float | None = None,
    ) -> None:
        if on_refusal not in REFUSAL_POLICIES:
            raise ConfigError(
                f"on_refusal {on_refusal!r} is unknown; choose one of {', '.join(REFUSAL_POLICIES)}"
            )
        self._jobs: deque[Job] = deque()
        self._total_s = 0.0
        self._on_done = on_done
        self._on_drop = on_drop
        self._counters = counters
        self.on_refusal = on_refusal
        self.max_defer_s = max_defer_s

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs)

    def backlog_s(self) -> float:
        return self._total_s if self._jobs else 0.0

    def push(self, job: Job, now_s: float) -> None:
        """Queue ``job``; a job without cost completes at once."""
        if job.cost_s <= _EPS_S:
            self._on_done(job, now_s)
            return
        self._jobs.append(job)
        self._total_s += job.remaining_s

    def remove(self, job_id: int) -> Job | None:
        """Take a job out (its tile was evicted from storage)."""
        for job in self._jobs:
            if job.job_id == job_id:
                self._jobs.remove(job)
                self._total_s -= job.remaining_s
                return job
        return None

    def work(self, granted_s: float, start_s: float, end_s: float) -> None:
        """Spend ``granted_s`` accelerator seconds from ``start_s`` on the head jobs."""
        t = start_s
        left = granted_s
        while left > _EPS_S and self._jobs:
            job = self._jobs[0]
            use = min(job.remaining_s, left)
            job.remaining_s -= use
            self._total_s -= use
            left -= use
            t += use
            if job.remaining_s <= _EPS_S:
                self._jobs.popleft()
                self._on_done(job, min(t, end_s))
        if not self._jobs:
            self._total_s = 0.0

    def refused(self, reason: str, start_s: float, end_s: float) -> None:
        """The budgets refused the accelerator for ``[start_s, end_s]`` because of ``reason``."""
        for job in self._jobs:
            if reason not in job.waited:
                job.waited.add(reason)
                self._counters[f"tiles_deferred_{reason}"] += 1
        if self.on_refusal == "skip":
            while self._jobs:
                self._drop(self._jobs.popleft(), reason)
        elif self.max_defer_s is not None:
            limit = self.max_defer_s
            while self._jobs and end_s - self._jobs[0].capture_s > limit:
                self._drop(self._jobs.popleft(), reason)
        if not self._jobs:
            self._total_s = 0.0

    def snapshot(self) -> tuple[list[Job], float]:
        """Copies of the waiting jobs without their cached pixels, and the seconds they
        still need (a checkpoint: the tiles are read again from the scene when their turn
        comes)."""
        return [bare_job(j) for j in self._jobs], self._total_s

    def restore(self, state: tuple[list[Job], float]) -> None:
        """Back to a :meth:`snapshot`."""
        jobs, total_s = state
        self._jobs = deque(bare_job(j) for j in jobs)
        self._total_s = float(total_s)

    def drain(self) -> list[Job]:
        """Take every waiting job out (the mission ended)."""
        jobs = list(self._jobs)
        self._jobs.clear()
        self._total_s = 0.0
        return jobs

    def _drop(self, job: Job, reason: str) -> None:
        self._total_s -= job.remaining_s
        self._on_drop(job, reason)


def bare_job(job: Job) -> Job:
    """A copy of ``job`` without its cached tile (``remaining_s`` and ``waited`` kept)."""
    out = copy.copy(job)
    out.waited = set(job.waited)
    out.tile = None
    return out
