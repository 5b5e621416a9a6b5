"""The driver's side of the Simulations page: it tells the scheduler what a batch does.

It is the batch's observer (``BatchObserver``): the batch loop calls it at the start, on each submission,
re-run and final report, and at the end. It sends at most one small event per ``FLUSH_INTERVAL_S`` from a thread of its own (the batch loop never
waits on the scheduler for it): counts since the last event, runners now on the cluster, the latest
failures. The last event carries the driver's final totals, taken from the reports themselves, so the
page's numbers at the end equal the rows of ``runner_report.parquet``.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.dashboard import events
from dask_runner.execution.batch_execution import NO_OBSERVER, BatchObserver
from dask_runner.runner.run_simulation import runner_names

if TYPE_CHECKING:
    from distributed import Client

    from dask_runner.execution.batch_execution import ExecutionOptions
    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.report import RunnerReport

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0


def default_experiment_name() -> str:
    """For library users who name no experiment: the script and the start time tell two batches apart."""
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return f"{script or 'batch'} {time.strftime('%H:%M:%S')}"


class BatchMonitor:
    """Counts one batch in the driver and sends the counts to the scheduler (see module docstring)."""

    def __init__(self, client: Client, runners: Sequence[AbstractRunner], options: ExecutionOptions) -> None:
        self.client = client
        self.batch_id = uuid.uuid4().hex[:12]
        self.planner_of = [runner_names(runner)[1] for runner in runners]
        self.totals = collections.Counter(self.planner_of)
        self.submitted_once = bytearray(len(runners))
        self.on_cluster: collections.Counter[str] = collections.Counter()
        self.done: dict[str, list[int]] = {}  # since the last message
        self.reported_in_all: dict[str, list[int]] = {}
        self.failures: list[list[Any]] = []
        self.reruns: collections.Counter[str] = collections.Counter()  # runners re-run since the last message, by why
        self.changed = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.send_failed = False
        self.options = options
        self.thread = threading.Thread(target=self._flush_regularly, name="dask_runner-batch-monitor", daemon=True)

    @classmethod
    def watching(cls, client: Client, runners: Sequence[AbstractRunner], options: ExecutionOptions) -> BatchObserver:
        """The batch's observer: a monitor, or nobody when the page is switched off."""
        from dask_runner.dashboard.install import enabled

        return cls(client, runners, options) if enabled() else NO_OBSERVER

    # -- what the batch does (BatchObserver, called from the batch loop) ---------------------------

    def began(self) -> None:
        experiment = self.options.experiment_name or default_experiment_name()
        self._send(events.start_message(self.batch_id, experiment, str(self.client.id), dict(self.totals),
                                        self.options.num_gpus, self.options.time_limit_s, time.time()))
        self.thread.start()

    def submitted(self, indices: Sequence[int]) -> None:
        with self.lock:
            for index in indices:
                if not self.submitted_once[index]:  # a re-run is still the same runner on the cluster
                    self.submitted_once[index] = 1
                    self.on_cluster[self.planner_of[index]] += 1
            self.changed = True

    def rerun(self, count: int, reason: str) -> None:
        if count:
            with self.lock:
                self.reruns[reason] += count
                self.changed = True

    def reported(self, report: RunnerReport) -> None:
        with self.lock:
            planner = report.planner_name
            if self.on_cluster[planner] > 0:
                self.on_cluster[planner] -= 1
            column = 0 if report.succeeded else 1
            self.done.setdefault(planner, [0, 0])[column] += 1
            self.reported_in_all.setdefault(planner, [0, 0])[column] += 1
            if not report.succeeded:
                self.failures.append(events.failure_row(report.runner_id, planner, report.scenario_name,
                                                        report.error_stage, report.error_message, report.worker,
                                                        report.end_time or time.time()))
                del self.failures[:-events.MAX_FAILURES_PER_MESSAGE]
            self.changed = True

    def ended(self, reports: Sequence[RunnerReport] | None) -> None:
        """The batch ended (``reports``) or was stopped (None); the last message carries the final totals."""
        stopped = reports is None
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=1 if stopped else 5)
        totals: dict[str, list[int]] = {name: [0, 0] for name in self.totals}
        if stopped:  # what was reported so far is all there is
            with self.lock:
                totals.update({name: list(counts) for name, counts in self.reported_in_all.items()})
        for report in reports or ():
            totals.setdefault(report.planner_name, [0, 0])[0 if report.succeeded else 1] += 1
        end = events.end_message(self.batch_id, totals, "stopped" if stopped else "finished", time.time())

        def last_words() -> None:
            self._flush()
            self._send(end)

        if not stopped:
            last_words()
            return
        # Ctrl-C, the first failure with exit_on_failure, a lost scheduler: never hold up the way out.
        sender = threading.Thread(target=last_words, name="dask_runner-batch-monitor-end", daemon=True)
        sender.start()
        sender.join(timeout=2)

    # -- sending ----------------------------------------------------------------------------------

    def _flush_regularly(self) -> None:
        while not self.stop.wait(FLUSH_INTERVAL_S):
            self._flush()

    def _flush(self) -> None:
        with self.lock:
            if not self.changed:
                return
            done, self.done = self.done, {}
            failures, self.failures = self.failures, []
            reruns = [[count, reason] for reason, count in self.reruns.items()]
            self.reruns = collections.Counter()
            running = {name: self.on_cluster[name] for name in self.totals}
            self.changed = False
        self._send(events.progress_message(self.batch_id, done, running, failures, reruns, time.time()))

    def _send(self, message: events.Message) -> None:
        try:
            self.client.log_event(events.TOPIC, message)
        except Exception as exc:  # noqa: BLE001  (the page is a view: a lost event never stops the batch)
            if not self.send_failed:
                self.send_failed = True
                logger.warning("Could not send the batch's progress to the scheduler (%s); the Simulations page "
                               "may lag behind, reports are unaffected", exc)
