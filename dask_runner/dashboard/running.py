"""The simulations running now, as the scheduler sees them: simulation tasks executing on workers.

Exact and cheap: workers report in each heartbeat which tasks they execute and for how long
(``WorkerState.executing``); the page reads that when it refreshes, so nothing is counted per task. A
task waiting on a worker for its GPU share is not executing and is not listed. One task may hold a group
of short runners (``-and_<n>_more`` in its key) run one after another: the row names the group's first
runner, ``group_size`` says how many it holds, and the elapsed time is the group task's.
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
    elapsed_s: float
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
    """The simulation tasks executing now on ``scheduler``'s workers (it must be read on its event loop)."""
    now = time.time()
    found: list[RunningSimulation] = []
    for ws in list(scheduler.workers.values()):
        executing = getattr(ws, "executing", None)
        if executing is None:  # a public attribute of WorkerState today; say so once if it goes away
            _warn_once("executing", "WorkerState.executing is missing in this distributed version; the "
                                    "Simulations page cannot list running simulations")
            return []
        since_heartbeat = max(0.0, now - float(getattr(ws, "last_seen", now)))
        for ts, duration in list(executing.items()):
            key = str(ts.key)
            parsed = parse_simulation_key(key)
            # The heartbeat may be up to a second old: keep only tasks still processing on this worker.
            if parsed is None or ts.state != "processing" or ts.processing_on is not ws:
                continue
            wanted_by = getattr(ts, "who_wants", None) or ()
            client = next((str(cs.client_key) for cs in wanted_by), "")
            found.append(RunningSimulation(key, parsed.planner, parsed.scenario, parsed.runner_id, parsed.group_size,
                                           worker_label(ws),
                                           float(duration) + since_heartbeat, client))
    return found


def worker_label(ws: Any) -> str:
    """A worker's name where it has a readable one (SLURM job workers), else its address."""
    name, address = getattr(ws, "name", None), str(ws.address)
    return f"{name} ({address})" if isinstance(name, str) and name and name != address else address


def _warn_once(what: str, message: str) -> None:
    if what not in _warned:
        _warned.add(what)
        logger.warning(message)
