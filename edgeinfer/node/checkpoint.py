"""Crash recovery of a satellite group: checkpoints at window boundaries, in SQLite.

A satellite group (one Ray actor) keeps ONE checkpoint file in its state folder,
``group{first satellite:03d}.ckpt.sqlite`` (WAL, like the link queues). It holds:

- ``setup``: what the driver configured (duty rows of the orbit plan, the windows of events,
  the kill schedule, the model updates), written once, zlib-compressed, so a restarted actor
  can rebuild itself from its constructor arguments alone;
- ``checkpoint``: the state at the end of the last completed window: the budgets of the
  fleet, each satellite's counters, backlog, storage, alert log, raised records, upset state
  and accepted updates, and an image of each satellite's link database;
- ``traces``: the budget traces, one segment per window (so a checkpoint does not rewrite
  the whole trace);
- ``starts``: one row per process start (pid): a restart is a start after the first.

Restoring writes each link database image back (after deleting its ``-wal``/``-shm``: a
left-over WAL would be replayed onto the image), then the group replays the interrupted
window. Everything a window does is deterministic given the checkpoint (simulated time, link
and upset streams seeded by satellite and time), so the replay repeats what the crashed
process did: packets the ground already stored come again with the same keys and are
dropped as duplicates, and the results equal those of a run without the crash.
"""

from __future__ import annotations

import copy
import pickle
import sqlite3
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import LinkError
from edgeinfer.link.store import StoreConfig, connect, transaction
from edgeinfer.node.backlog import bare_job

_SCHEMA = """
CREATE TABLE IF NOT EXISTS setup (id INTEGER PRIMARY KEY CHECK (id = 0), data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 0), window INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS traces (
    window INTEGER PRIMARY KEY, start INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS starts (n INTEGER PRIMARY KEY, pid INTEGER NOT NULL);
"""


class ActorCrash(BaseException):
    """Raised in place of a process death where there is no process to kill (in-process
    runs): whatever catches it must drop the object and rebuild it from its checkpoint.
    A BaseException, so that no ``except Exception`` on the way swallows it."""


class Killer(Protocol):
    """The fault actor a group asks before dying: ``claim`` is True once per kill."""

    def claim(self, group: str, index: int, t_s: float, pid: int) -> bool: ...


@dataclass
class Saved:
    """A loaded checkpoint: the window it closes, the group state, the link database
    images by satellite index and the budget traces from step 0."""

    window: int
    state: dict[str, Any]
    links: dict[int, bytes]
    soc: NDArray[np.float32]
    temperature: NDArray[np.float32]


def _pack(value: Any) -> bytes:
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(blob: bytes) -> Any:
    return pickle.loads(zlib.decompress(blob))  # our own file, written by _pack


class CheckpointStore:
    """The checkpoint file of one satellite group (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = connect(self.path, StoreConfig())
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def record_start(self, pid: int) -> int:
        """Note a process start; returns how many starts there have been (1 = first)."""
        with transaction(self._con) as con:
            con.execute("INSERT INTO starts (pid) VALUES (?)", (int(pid),))
            return int(con.execute("SELECT COUNT(*) FROM starts").fetchone()[0])

    def starts(self) -> list[int]:
        """The pids of every start, in order."""
        return [int(p) for (p,) in self._con.execute("SELECT pid FROM starts ORDER BY n")]

    def save_setup(self, setup: Mapping[str, Any]) -> None:
        with transaction(self._con) as con:
            con.execute("INSERT OR REPLACE INTO setup VALUES (0, ?)", (_pack(dict(setup)),))

    def load_setup(self) -> dict[str, Any] | None:
        row = self._con.execute("SELECT data FROM setup WHERE id = 0").fetchone()
        return None if row is None else dict(_unpack(row[0]))

    def save(
        self,
        window: int,
        state: Mapping[str, Any],
        links: Mapping[int, bytes],
        trace_start: int,
        soc: NDArray[np.float32],
        temperature: NDArray[np.float32],
    ) -> None:
        """Commit the state after ``window`` (and its trace segment) in one transaction. An
        empty segment leaves the traces alone: the state saved again after the same window
        (a relay step between windows) keeps that window's segment."""
        data = _pack({"state": dict(state), "links": dict(links)})
        with transaction(self._con) as con:
            con.execute("INSERT OR REPLACE INTO checkpoint VALUES (0, ?, ?)", (window, data))
            if soc.shape[1]:
                trace = _pack((soc, temperature))
                con.execute("DELETE FROM traces WHERE window >= ?", (window,))
                con.execute("INSERT INTO traces VALUES (?, ?, ?)", (window, trace_start, trace))

    def load(self) -> Saved | None:
        """The latest checkpoint, or None before the first."""
        row = self._con.execute("SELECT window, data FROM checkpoint WHERE id = 0").fetchone()
        if row is None:
            return None
        window, blob = int(row[0]), row[1]
        data = _unpack(blob)
        socs, temps = [], []
        rows = self._con.execute(
            "SELECT start, data FROM traces WHERE window <= ? ORDER BY window", (window,)
        )
        expected = 0
        for start, piece in rows:
            soc, temp = _unpack(piece)
            if int(start) != expected:
                raise LinkError(
                    f"{self.path}: budget traces have a gap at step {expected}; delete the "
                    "state folder and run the mission again"
                )
            socs.append(soc)
            temps.append(temp)
            expected += soc.shape[1]
        soc_all = np.concatenate(socs, axis=1) if socs else np.zeros((0, 0), np.float32)
        temp_all = np.concatenate(temps, axis=1) if temps else np.zeros((0, 0), np.float32)
        return Saved(window, data["state"], data["links"], soc_all, temp_all)


def database_image(path: str | Path) -> bytes:
    """The committed content of an SQLite database (WAL included) as one file image."""
    con = sqlite3.connect(path)
    try:
        return con.serialize()
    finally:
        con.close()


def write_image(path: str | Path, image: bytes) -> None:
    """Replace the database at ``path`` by ``image`` (its ``-wal`` and ``-shm`` removed
    first: SQLite would otherwise replay a crashed process's WAL onto the image)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", ""):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.restore")
    tmp.write_bytes(image)
    tmp.replace(target)


# -- one satellite's state --------------------------------------------------------------------


def node_snapshot(node: Any) -> dict[str, Any]:
    """Everything of a :class:`~edgeinfer.node.satellite.SatelliteNode` that changes while it
    runs, except its link database (imaged separately) and its budgets (the fleet's)."""
    return copy.deepcopy(
        {
            "counters": dict(node.counters),
            "measured_s": dict(node.measured_s),
            "storage": node.storage,
            "backlog": node.backlog.snapshot(),
            "done": [(bare_job(j), t) for j, t in node._done],
            "jobs": node._jobs,
            "alert_seq": node._alert_seq,
            "capture_log": node.capture_log,
            "pass_log": node.pass_log,
            "raised": node.raised,
            "failures": node.failures,
            "hazards": node.hazards.snapshot(),
            "slots": node.slots.snapshot(),
        }
    )


def node_restore(
    node: Any, state: Mapping[str, Any], runners: Mapping[str, Any], updates: Mapping[int, Any]
) -> None:
    """Put a freshly built node back into a :func:`node_snapshot` state; ``runners``: the
    process's golden detectors by model name; ``updates``: the mission's model updates."""
    s = copy.deepcopy(dict(state))
    node.counters.clear()  # in place: the backlog counts deferrals into the same Counter
    node.counters.update(s["counters"])
    node.measured_s = s["measured_s"]
    node.storage = s["storage"]
    node.backlog.restore(s["backlog"])
    node._done = list(s["done"])
    node._jobs = int(s["jobs"])
    node._cached_bytes = 0
    node._alert_seq = int(s["alert_seq"])
    node.capture_log = s["capture_log"]
    node.pass_log = s["pass_log"]
    node.raised = s["raised"]
    node.failures = s["failures"]
    node.hazards.restore(s["hazards"], dict(runners))
    node.slots.restore(s["slots"], dict(updates))
