"""The scheduler plugin behind the Simulations page: it feeds ``SimulationsStatus`` and answers snapshots.

It listens to events only (ours, sent by the driver, and the scheduler's worker removals), not to task
transitions: nothing runs per task, so the page costs the scheduler next to nothing while no one looks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import SchedulerPlugin

from dask_runner.dashboard.batch_status import SimulationsStatus
from dask_runner.dashboard.running import running_simulations

if TYPE_CHECKING:
    from distributed import Scheduler

logger = logging.getLogger(__name__)

PLUGIN_NAME = "dask_runner-simulations"


class SimulationsPlugin(SchedulerPlugin):
    name = PLUGIN_NAME
    idempotent = True  # registering it again (another driver, a preload plus the driver) keeps the first

    def __init__(self) -> None:
        self.status = SimulationsStatus()
        self.scheduler: Scheduler | None = None
        self.installed_by = ""  # "preload" or "run time": the driver's log line says which

    async def start(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def log_event(self, topic: str, msg: Any) -> None:
        self.status.handle_event(topic, msg)

    def add_worker(self, scheduler: Scheduler, worker: str) -> None:
        self.status.worker_added(worker)

    def remove_client(self, scheduler: Scheduler, client: str) -> None:
        self.status.client_removed(client)

    def snapshot(self) -> dict[str, Any]:
        """The page's data now; call it on the scheduler's event loop."""
        scheduler = self.scheduler
        if scheduler is None:
            return self.status.snapshot([])
        workers = list(scheduler.workers.values())
        return self.status.snapshot(running_simulations(scheduler), len(workers), sum(ws.nthreads for ws in workers))


def plugin_of(scheduler: Any) -> SimulationsPlugin | None:
    plugin = getattr(scheduler, "plugins", {}).get(PLUGIN_NAME)
    return plugin if isinstance(plugin, SimulationsPlugin) else None
