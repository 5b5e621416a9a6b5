"""The scheduler's count of what batches do: fed by the driver's events and the scheduler's own, read as a snapshot.

Memory is bounded whatever the batch size: per batch, counts per planner plus short recent lists
(failures, rate samples); at most ``MAX_BATCHES`` batches are kept (the oldest finished one goes first).
The driver is the source of truth: its ``end`` message replaces the counts with its final totals.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dask_runner.dashboard.events import TOPIC, Message
from dask_runner.dashboard.running import RunningSimulation

MAX_BATCHES = 16
MAX_FAILURES = 20
MAX_CLUSTER_EVENTS = 50
RATE_WINDOW_S = 600.0  # throughput over the last ten minutes: recent enough to follow a slowdown
_MAX_RATE_SAMPLES = 600


@dataclass
class PlannerCounts:
    """Runners of one planner: ``running`` are on the cluster (executing or waiting there), ``queued`` in the driver."""

    total: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def queued(self) -> int:
        return max(0, self.total - self.running - self.done)


@dataclass
class BatchStatus:
    batch_id: str
    experiment: str
    client: str
    started_at: float
    gpu_share: float | None
    time_limit_s: float | None
    planners: dict[str, PlannerCounts]
    state: str = "running"  # running, finished, stopped, driver gone
    ended_at: float | None = None
    last_update: float = 0.0
    reruns: int = 0
    failures: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=MAX_FAILURES))
    samples: collections.deque[tuple[float, int]] = field(
        default_factory=lambda: collections.deque(maxlen=_MAX_RATE_SAMPLES))

    @property
    def total(self) -> PlannerCounts:
        return PlannerCounts(*(sum(getattr(c, name) for c in self.planners.values())
                               for name in ("total", "running", "succeeded", "failed")))

    def planner(self, name: str) -> PlannerCounts:
        return self.planners.setdefault(name, PlannerCounts())

    def rate_per_s(self, now: float) -> float | None:
        """Runners finished per second over the last ``RATE_WINDOW_S`` (since the start for a young batch)."""
        done = self.total.done
        end = self.ended_at or now
        window = [(t, d) for t, d in self.samples if end - t <= RATE_WINDOW_S]
        first_t, first_done = window[0] if window and end - self.started_at > RATE_WINDOW_S else (self.started_at, 0)
        if end - first_t <= 0 or done - first_done <= 0:
            return None
        return (done - first_done) / (end - first_t)


class SimulationsStatus:
    """Everything the Simulations page shows, apart from what runs now (that is read from the scheduler)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.batches: collections.OrderedDict[str, BatchStatus] = collections.OrderedDict()
        self.cluster_events: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_CLUSTER_EVENTS)
        self.worker_deaths = 0
        self.worker_retirements = 0

    # -- what happens -----------------------------------------------------------------------------

    def handle_event(self, topic: str, msg: Any) -> None:
        """Every scheduler event passes here; only ours and worker removals matter (cheap for the rest)."""
        if topic == TOPIC and isinstance(msg, dict):
            kind = msg.get("kind")
            if kind == "start":
                self._start(msg)
            elif kind == "progress":
                self._progress(msg)
            elif kind == "end":
                self._end(msg)
        elif topic == "all" and isinstance(msg, dict) and msg.get("action") == "remove-worker":
            self.worker_removed(str(msg.get("worker")), bool(msg.get("expected")),
                                len(msg.get("processing-tasks") or ()))

    def worker_removed(self, address: str, expected: bool, processing: int) -> None:
        """A planned removal (retirement, lifetime, scale-down) is not a death; the others are."""
        if expected:
            self.worker_retirements += 1
            kind, detail = "retirement", f"retired with {processing} task(s) processing (moved elsewhere)"
        else:
            self.worker_deaths += 1
            kind, detail = "death", f"died with {processing} task(s) processing"
        self.cluster_events.appendleft({"time": self.clock(), "kind": kind, "worker": address, "detail": detail})

    def worker_added(self, address: str) -> None:
        self.cluster_events.appendleft({"time": self.clock(), "kind": "worker joined", "worker": address,
                                        "detail": ""})

    def client_removed(self, client: str) -> None:
        """A driver that disconnects without its ``end`` message (killed, lost network) leaves a batch behind."""
        for batch in self.batches.values():
            if batch.client == client and batch.state == "running":
                batch.state = "driver gone"
                batch.ended_at = self.clock()
                for counts in batch.planners.values():
                    counts.running = 0

    def _start(self, msg: Message) -> None:
        now = float(msg.get("time") or self.clock())
        planners = {str(name): PlannerCounts(total=int(total)) for name, total in (msg.get("planners") or {}).items()}
        batch = BatchStatus(str(msg["batch"]), str(msg.get("experiment") or ""), str(msg.get("client") or ""), now,
                            msg.get("gpu_share"), msg.get("time_limit_s"), planners, last_update=now)
        self.batches[batch.batch_id] = batch
        self._forget_old_batches()

    def _progress(self, msg: Message) -> None:
        batch = self.batches.get(str(msg.get("batch")))
        if batch is None:
            return
        now = float(msg.get("time") or self.clock())
        for name, (succeeded, failed) in (msg.get("done") or {}).items():
            counts = batch.planner(str(name))
            counts.succeeded += int(succeeded)
            counts.failed += int(failed)
        for name, running in (msg.get("running") or {}).items():
            batch.planner(str(name)).running = int(running)
        for runner_id, planner, scenario, stage, error, worker, at in msg.get("failures") or ():
            batch.failures.appendleft({"time": at, "runner_id": runner_id, "planner": planner, "scenario": scenario,
                                       "stage": stage, "error": error, "worker": worker})
        for count, reason in msg.get("reruns") or ():
            batch.reruns += int(count)
            self.cluster_events.appendleft({"time": now, "kind": "re-run", "worker": "",
                                            "detail": f"{batch.experiment}: {count} runner(s) re-run ({reason})"})
        batch.last_update = now
        batch.samples.append((now, batch.total.done))

    def _end(self, msg: Message) -> None:
        batch = self.batches.get(str(msg.get("batch")))
        if batch is None:
            return
        now = float(msg.get("time") or self.clock())
        for name, (succeeded, failed) in (msg.get("totals") or {}).items():
            counts = batch.planner(str(name))
            counts.succeeded, counts.failed = int(succeeded), int(failed)
        for counts in batch.planners.values():
            counts.running = 0
        batch.state = str(msg.get("state") or "finished")
        batch.ended_at = batch.last_update = now

    def _forget_old_batches(self) -> None:
        while len(self.batches) > MAX_BATCHES:
            finished = next((key for key, b in self.batches.items() if b.state != "running"), None)
            self.batches.pop(finished if finished is not None else next(iter(self.batches)))

    def batch_of_client(self, client: str) -> BatchStatus | None:
        """The batch a client runs now (a client runs one batch at a time)."""
        for batch in reversed(self.batches.values()):
            if batch.client == client and batch.state == "running":
                return batch
        return None

    # -- what the page shows ----------------------------------------------------------------------

    def snapshot(self, running: list[RunningSimulation], workers: int = 0, threads: int = 0) -> dict[str, Any]:
        """The page's numbers as JSON-ready data (also served as ``status.json``); newest batch first."""
        now = self.clock()
        rows = []
        # Executing first, longest first; then those waiting on their worker.
        for sim in sorted(running, key=lambda r: -1.0 if r.elapsed_s is None else r.elapsed_s, reverse=True):
            batch = self.batch_of_client(sim.client) if sim.client else None
            rows.append({
                "experiment": batch.experiment if batch else "", "batch_id": batch.batch_id if batch else "",
                "planner": sim.planner, "scenario": sim.scenario, "runner_id": sim.runner_id,
                "group_size": sim.group_size, "worker": sim.worker, "executing": sim.elapsed_s is not None,
                "elapsed_s": round(sim.elapsed_s, 1) if sim.elapsed_s is not None else None,
                "gpu_share": batch.gpu_share if batch else None,
                "time_limit_s": batch.time_limit_s if batch else None, "key": sim.key,
            })
        return {
            "version": 1,
            "time": now,
            "workers": workers,
            "threads": threads,
            "worker_deaths": self.worker_deaths,
            "worker_retirements": self.worker_retirements,
            "batches": [self._batch_snapshot(b, now) for b in reversed(self.batches.values())],
            "running": rows,
            "cluster_events": list(self.cluster_events),
        }

    def _batch_snapshot(self, batch: BatchStatus, now: float) -> dict[str, Any]:
        end = batch.ended_at or now
        elapsed = max(0.0, end - batch.started_at)
        rate = batch.rate_per_s(now)
        planners = {}
        for name, counts in batch.planners.items():
            # Per planner, the average since the start (planners share workers, so their recent rates mix).
            planner_rate = counts.done / elapsed if elapsed > 0 and counts.done else None
            planners[name] = _counts(counts, planner_rate, batch.state == "running")
        total = batch.total
        return {
            "batch_id": batch.batch_id, "experiment": batch.experiment, "state": batch.state,
            "started_at": batch.started_at, "ended_at": batch.ended_at, "elapsed_s": round(elapsed, 1),
            "last_update": batch.last_update, "gpu_share": batch.gpu_share, "time_limit_s": batch.time_limit_s,
            "reruns": batch.reruns, "planners": planners,
            "total": _counts(total, rate, batch.state == "running"),
            "failures": list(batch.failures),
        }


def _counts(counts: PlannerCounts, rate_per_s: float | None, running: bool) -> dict[str, Any]:
    remaining = counts.total - counts.done
    eta = remaining / rate_per_s if running and rate_per_s and remaining > 0 else None
    return {"total": counts.total, "queued": counts.queued, "running": counts.running,
            "succeeded": counts.succeeded, "failed": counts.failed,
            "per_minute": round(rate_per_s * 60, 2) if rate_per_s else None,
            "eta_s": round(eta, 1) if eta is not None else None}
