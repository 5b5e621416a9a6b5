"""The simulations on the workers now, as the scheduler sees them: its simulation tasks in processing.

Read when the page refreshes, so nothing is counted per task. Which tasks a worker holds is the
scheduler's own state (exact); which of them execute, and for how long, comes with the worker's
heartbeat (``WorkerState.executing``, up to a second old): a task held but not in the last heartbeat is
shown as waiting (for a free thread or GPU share on that worker, or started since). One task may hold a
group of short runners (``-and_<n>_more`` in its key) run one after another: the row names the group's
first runner, ``group_size`` says how many it holds, and the elapsed time is the group task's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SIMULATION_PREFIX = "simulate-"
_warned: set[str] = set()


@dataclass(frozen=True)
class RunningSimulation:
    key: str
    planner: str
    scenario: str
    runner_id: str
    group_size: int
    worker: str
    elapsed_s: float | None  # None: held by the worker but not executing at its last heartbeat
    client: str  # the client that wants the task: tells batches on one scheduler apart


@dataclass(frozen=True)
class SimulationKey:
    planner: str
    scenario: str
    runner_id: str
    group_size: int


def parse_simulation_key(key: str) -> SimulationKey | None:
    """Read ``simulate-<planner>-<scenario>-<runner id>[-and_<n>_more]-<token>`` (see ``simulation_key``).

    Its parts never contain ``-`` (``key_part`` replaces it), so splitting on ``-`` is exact.
    """
    if not key.startswith(SIMULATION_PREFIX):
        return None
    parts = key.split("-")
    if len(parts) == 6 and parts[4].startswith("and_") and parts[4].endswith("_more"):
        try:
            more = int(parts[4][4:-5])
        except ValueError:
            return None
        return SimulationKey(parts[1], parts[2], parts[3], more + 1)
    if len(parts) == 5:
        return SimulationKey(parts[1], parts[2], parts[3], 1)
    return None


def running_simulations(scheduler: Any) -> list[RunningSimulation]:
    """The simulation tasks held by ``scheduler``'s workers now (read it on the scheduler's event loop)."""
    now = time.time()
    found: list[RunningSimulation] = []
    for ws in list(scheduler.workers.values()):
        executing = getattr(ws, "executing", None)
        if executing is None:  # a public attribute of WorkerState today; say so once if it goes away
            _warn_once("executing", "WorkerState.executing is missing in this distributed version; the "
                                    "Simulations page shows no elapsed times")
            executing = {}
        since_heartbeat = max(0.0, now - float(getattr(ws, "last_seen", now)))
        for ts in list(ws.processing):
            key = str(ts.key)
            parsed = parse_simulation_key(key)
            if parsed is None:
                continue
            duration = executing.get(ts)
            wanted_by = getattr(ts, "who_wants", None) or ()
            client = next((str(cs.client_key) for cs in wanted_by), "")
            found.append(RunningSimulation(key, parsed.planner, parsed.scenario, parsed.runner_id, parsed.group_size,
                                           worker_label(ws),
                                           float(duration) + since_heartbeat if duration is not None else None,
                                           client))
    return found


def worker_label(ws: Any) -> str:
    """A worker's name where it has a readable one (SLURM job workers), else its address."""
    name, address = getattr(ws, "name", None), str(ws.address)
    return f"{name} ({address})" if isinstance(name, str) and name and name != address else address


def _warn_once(what: str, message: str) -> None:
    if what not in _warned:
        _warned.add(what)
        logger.warning(message)
