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

from dask_runner.dask.keys import parse_simulation_key

logger = logging.getLogger(__name__)

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
