"""The scheduler plugin behind the Simulations page: it feeds ``SimulationsStatus`` and answers snapshots.

It listens to events only (ours, sent by the driver, and the scheduler's worker removals), not to task
transitions: nothing runs per task, so the page costs the scheduler next to nothing while no one looks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import SchedulerPlugin

from dask_runner.dashboard.batch_status import SimulationsStatus
from dask_runner.dashboard.events import TOPIC
from dask_runner.dashboard.running import running_simulations
from dask_runner.dask.compat import truncate_events

if TYPE_CHECKING:
    from distributed import Scheduler

logger = logging.getLogger(__name__)

PLUGIN_NAME = "dask_runner-simulations"
KEEP_OWN_EVENTS = 1000  # our events the scheduler's event log may hold before we drop them


class SimulationsPlugin(SchedulerPlugin):
    name = PLUGIN_NAME
    idempotent = True  # registering it again (another driver, a preload plus the driver) keeps the first

    def __init__(self, before_dashboard: Callable[[], None] | None = None) -> None:
        self.before_dashboard = before_dashboard  # what the installer wants done before a dashboard is attached
        self.status = SimulationsStatus()
        self.scheduler: Scheduler | None = None
        self.installed_by = ""  # "preload" or "run time": the driver's log line says which
        self.cpu_s = 0.0  # the scheduler's CPU spent in our code, shown on the page (benchmark.py --page too)
        self._ours = 0

    @contextmanager
    def counting_cpu(self) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            self.cpu_s += time.thread_time() - start

    async def start(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def dashboard_starting(self) -> None:
        """The scheduler's dashboard is about to be attached, after the scheduler started (clusters dask_runner
        starts): the page joins Dask's own pages (the installer passed how, so this module needs no page code)."""
        if self.before_dashboard is not None:
            self.before_dashboard()

    def log_event(self, topic: str, msg: Any) -> None:
        with self.counting_cpu():
            self.status.handle_event(topic, msg)
            if topic == TOPIC:
                self._ours += 1
                if self._ours % KEEP_OWN_EVENTS == 0:
                    self._forget_own_events()

    def _forget_own_events(self) -> None:
        """The scheduler keeps every event (up to 100,000 a topic); ours are counted already, so drop them.

        A four-hour batch sends ~15,000; they would only take memory. Where distributed offers no way to,
        the events stay (bounded by Dask's own limit), and the log says so once.
        """
        truncate_events(self.scheduler, TOPIC)

    def add_worker(self, scheduler: Scheduler, worker: str) -> None:
        self.status.worker_added(worker)

    def remove_client(self, scheduler: Scheduler, client: str) -> None:
        self.status.client_removed(client)

    def snapshot(self) -> dict[str, Any]:
        """The page's data now; call it on the scheduler's event loop."""
        scheduler = self.scheduler
        with self.counting_cpu():
            if scheduler is None:
                snapshot = self.status.snapshot([])
            else:
                workers = list(scheduler.workers.values())
                snapshot = self.status.snapshot(running_simulations(scheduler), len(workers),
                                                sum(ws.nthreads for ws in workers))
        snapshot["page_cpu_s"] = round(self.cpu_s, 3)
        return snapshot


def plugin_of(scheduler: Any) -> SimulationsPlugin | None:
    plugin = getattr(scheduler, "plugins", {}).get(PLUGIN_NAME)
    return plugin if isinstance(plugin, SimulationsPlugin) else None
