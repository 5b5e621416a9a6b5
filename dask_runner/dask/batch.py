"""The Dask strategy of ``execute_runners``: one ``as_completed`` loop over bounded, chained futures.

Why it looks like this:
- Only a few groups per worker slot are in flight; the rest of the runners wait, unpickled, in the
  driver, so driver and worker memory stay flat however long the batch.
- Short runners are grouped several to a task (group size adapted from measured durations) so the
  scheduler's per-task cost stays small; each runner keeps its own report and failure isolation.
- Runners whose planners batch (``BatchPlanner``, e.g. the learned planner) go ``lockstep_group_size``
  to a task, and the task steps them in lockstep: one planner call per step for the group
  (``dask_runner.runner.lockstep``), since batch-one forward passes are bound by launch latency.
- A group's outcomes stay on its worker; the driver fetches a small summary (a task chained behind the
  group) and chains each runner's callback work behind the group's future, on the same loop. Once the first
  summaries show that the runners leave no callback work, a group is one task that returns its summary
  (``run_summarized_group``): Dask's cost per group (about 1 ms of the driver's CPU per task) is halved.
- A dead worker makes Dask fail every task it held (``KilledWorker``): those runners become suspects
  and are re-run one at a time with nothing else running, so a death there is unambiguous. Only a
  runner that dies ``max_worker_deaths`` times is reported ``worker_lost``.
- A runner still running ``timeout_grace_s`` after its time limit gets its worker restarted.
- A worker that cannot load a task's runners (a module missing there) fails that task with its answer, and
  the batch stops with the import check's error. While runners wait and no worker is connected, the driver
  says what it waits for once a minute, and after ``no_worker_timeout_s`` the waiting runners fail with
  stage ``no_workers`` (``resume=true`` runs them again).
- The batch's observer (``BatchObserver``; the dashboard's Simulations page, or nobody) is told of the start,
  submissions, re-runs, reports and the end.
- The loop sleeps until a result comes, the next hard time limit falls due or the workers are to be looked at,
  whichever is first: it never polls.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dask_runner.dashboard.monitor import BatchMonitor
from dask_runner.dask import keys
from dask_runner.dask.compat import delivering_as_completed, next_batch_within
from dask_runner.dask.resources import WorkerInfo, check_satisfiable, slots_for, task_resources
from dask_runner.dask.tasks import (
    GroupRunners,
    GroupSummary,
    MemberSummary,
    run_group,
    run_member_work,
    run_summarized_group,
    running_since,
    summarize,
)
from dask_runner.errors import ConfigError, RunnerLoadError, raised_from
from dask_runner.execution.batch_execution import BatchState, ExecutionOptions, infrastructure_failure
from dask_runner.execution.progress import log_batch_summary
from dask_runner.planners.batch_planner import BatchPlanner
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import ErrorStage, RunnerReport
from dask_runner.runner.run_simulation import (
    CallbackResult,
    failed_report,
    runner_names,
    with_callback_results,
)

if TYPE_CHECKING:
    from distributed import Client, Future

logger = logging.getLogger(__name__)

_REFRESH_WORKERS_S = 2.0
# How soon the driver asks the workers again for what runs when one of them did not answer.
_HARD_LIMIT_RETRY_S = 0.5
# How often the driver looks whether any worker is connected while it waits, and how often it says what it
# waits for while none is.
_WATCH_WORKERS_S = 5.0
_SAY_WAITING_S = 60.0
NO_WORKERS_CAUSES = (
    "likely causes: worker jobs that ended and were not replaced (cancelled, walltime, a lost node) or are "
    "still pending in the queue (squeue); workers that cannot start or cannot reach the scheduler (the first "
    "error in their logs; worker.interface); workers that leave on their first task because they cannot import "
    "dask_runner (their log says 'Failed to deserialize')")
# Runners that leave callback work (metrics, simulation logs) keep their histories on the worker until
# their callback tasks have run, a whole group of them at once: at most this many to a group bounds that
# (IDM simulations were grouped ~90 to a task, ~1 MB of history each). Each such runner costs at least
# one callback task of its own, so larger groups would save little scheduling.
MAX_GROUP_SIZE_WITH_CALLBACKS = 8


@dataclass(frozen=True)
class DaskBatchSettings:
    """Tuning of the Dask strategy (set on ``DaskDistributed``)."""

    max_in_flight_per_slot: int = 2
    max_worker_deaths: int = 2
    timeout_grace_s: float = 10.0
    target_task_duration_s: float = 1.0  # measured: 0.2 s doubled the driver CPU per runner
    max_group_size: int = 256
    # Runners whose planners batch (BatchPlanner) go this many to a task and are stepped in lockstep,
    # one planner call per step for the group; 1 runs them one at a time, as other planners run.
    lockstep_group_size: int = 16
    # Runners waiting while no worker is connected fail after this long (stage "no_workers"); None: wait forever.
    no_worker_timeout_s: float | None = 600.0

    def __post_init__(self) -> None:
        example = "DaskDistributed(max_in_flight_per_slot=2, max_worker_deaths=2, timeout_grace_s=10)"
        if self.max_in_flight_per_slot < 1:
            raise ConfigError(f"max_in_flight_per_slot must be >= 1, got {self.max_in_flight_per_slot}; e.g. {example}")
        if self.max_worker_deaths < 1:
            raise ConfigError(f"max_worker_deaths must be >= 1, got {self.max_worker_deaths}; e.g. {example}")
        if self.timeout_grace_s < 0:
            raise ConfigError(f"timeout_grace_s must be >= 0 seconds, got {self.timeout_grace_s}; e.g. {example}")
        if self.target_task_duration_s <= 0:
            raise ConfigError(f"target_task_duration_s must be > 0 seconds, got {self.target_task_duration_s}; "
                              "e.g. DaskDistributed(target_task_duration_s=1.0)")
        if self.max_group_size < 1:
            raise ConfigError(f"max_group_size must be >= 1 (1 disables grouping), got {self.max_group_size}; "
                              "e.g. DaskDistributed(max_group_size=1)")
        if self.lockstep_group_size < 1:
            raise ConfigError(f"lockstep_group_size must be >= 1 (1 disables lockstep), got {self.lockstep_group_size}; "
                              "e.g. DaskDistributed(lockstep_group_size=16)")
        timeout = self.no_worker_timeout_s
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"no_worker_timeout_s must be seconds > 0 or None (wait forever), got {timeout!r}; "
                              "e.g. DaskDistributed(no_worker_timeout_s=600)")


def simulation_key(runner: AbstractRunner, runner_id: str, group_size: int) -> str:
    """``simulate-<planner>-<scenario>-<runner id>[-and_<n>_more]-<token>``, readable on the dashboard.

    A runner may name its own stem (``key_stem``): a mapped call is named after its function.
    """
    stem = getattr(runner, "key_stem", None)
    if stem is None:
        scenario, planner, _ = runner_names(runner)
        stem = keys.simulation_stem(planner, scenario)
    return keys.group_key(stem, runner_id, group_size)


@dataclass
class _Member:
    index: int
    report: RunnerReport | None = None
    exception: BaseException | None = None
    results: list[CallbackResult | None] = field(default_factory=list)
    callbacks: list[Future] = field(default_factory=list)
    final: bool = False


@dataclass
class _Group:
    key: str
    members: list[_Member]
    isolated: bool
    submitted_at: float
    sim: Future | None
    summary: Future | None
    # When a runner of this group could first be past its hard time limit (epoch seconds): at first its
    # submission plus the limit, then the earliest start the workers reported plus the limit.
    limit_check_at: float = float("inf")

    @property
    def open(self) -> bool:
        return any(not m.final for m in self.members)


class DaskBatch:
    """One batch on one client; ``run()`` returns the reports in input order."""

    def __init__(self, client: Client, pool: object, runners: Sequence[AbstractRunner], options: ExecutionOptions,
                 settings: DaskBatchSettings, workers: list[WorkerInfo], checked: set[str] | None = None,
                 cluster_state: Callable[[], str] | None = None) -> None:
        self.client = client
        self.pool = pool
        self.runners = runners
        self.settings = settings
        self.resources = task_resources(options.num_cpus, options.num_gpus, workers)
        check_satisfiable(self.resources, workers)
        self.options = options
        self.state = BatchState(runners, options, BatchMonitor.watching(client, runners, options))
        self.observer = self.state.observer
        self.workers = workers
        self.slots = max(1, slots_for(self.resources, workers))
        self.workers_checked_at = time.monotonic()
        self.cursor = 0
        self.retry: collections.deque[int] = collections.deque()
        self.suspects: collections.deque[int] = collections.deque()
        self.deaths: collections.Counter[int] = collections.Counter()
        self.deaths_alone: collections.Counter[int] = collections.Counter()
        self.restarted: set[str] = set()
        self.groups: dict[str, _Group] = {}
        self.summaries: dict[Future, _Group] = {}
        self.callbacks: dict[Future, tuple[_Group, _Member, int]] = {}
        self.mean_duration: float | None = None
        self.leaves_callback_work = False  # learned from the first summaries
        self.summarized = False  # a summary came back
        self.lockstep = settings.lockstep_group_size > 1 and bool(runners) and isinstance(
            getattr(runners[0], "planner", None), BatchPlanner)
        # Results come with the futures: the client fetches them concurrently on its event loop, instead
        # of one blocking round trip per runner in this thread (which left the workers idle).
        # (A result that cannot be fetched comes out as its exception, instead of never: delivering_as_completed.)
        self.ac = delivering_as_completed(with_results=True, raise_errors=False)
        # Workers known to run dask_runner: those the import check answered, those that delivered a report.
        self.checked = set(checked or ())
        self.confirmed = set(self.checked)
        self.lost_before_running: list[str] = []  # workers that left holding a task before they ran anything
        self.cluster_state = cluster_state or (lambda: "")
        self.no_worker_since: float | None = None
        self.started_at = time.time()
        self.next_watch = 0.0
        self.next_say = 0.0

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> list[RunnerReport]:
        try:
            self.observer.began()
            self._fill()
            while self.groups or self.suspects or self._has_todo():
                ready = self._next_batch()
                for future, result in ready:
                    self._handle(future, result)
                self._check_hard_limits()
                self._watch_workers()
                self._fill()
        except BaseException:
            self._cancel_everything()
            self.state.stopped()
            raise
        reports = self.state.finished()
        log_batch_summary(reports, self.options.items)
        return reports

    def _next_batch(self) -> list[tuple[Future, Any]]:
        """The results that came, waiting for the first at most until the loop has something else to do."""
        if self.ac.is_empty():
            return []
        return next_batch_within(self.ac, self._until_next_duty())

    def _until_next_duty(self) -> float:
        """Seconds until a hard time limit may fall due or the workers are to be looked at, whichever is first."""
        watch_in = self.next_watch - time.monotonic()
        limit_in = min((g.limit_check_at for g in self.groups.values() if g.summary is not None),
                       default=float("inf")) - time.time()
        return max(0.0, min(watch_in, limit_in))

    # -- no worker --------------------------------------------------------------------------------

    def _watch_workers(self) -> None:
        """While runners wait and no worker is connected: say so once a minute, and fail them after the timeout."""
        now = time.monotonic()
        if now < self.next_watch:
            return
        self.next_watch = now + _WATCH_WORKERS_S
        self._refresh_workers()
        if self.workers:
            if self.no_worker_since is not None:
                logger.info("A worker is connected again after %.0f s without one", now - self.no_worker_since)
            self.no_worker_since = None
            return
        if self.no_worker_since is None:
            self.no_worker_since, self.next_say = now, now
        waited = now - self.no_worker_since
        timeout = self.settings.no_worker_timeout_s
        if timeout is not None and waited >= timeout:
            self._fail_waiting(timeout)
        elif now >= self.next_say:
            self.next_say = now + _SAY_WAITING_S
            limit = f"they fail after {timeout:g} s without one (no_worker_timeout_s)" if timeout else "waiting forever"
            logger.warning("%d runner(s) wait and no worker is connected to the scheduler (for %.0f s; %s). %s%s",
                           self._waiting_count(), waited, limit, self._state_text(), self._lost_text())

    def _waiting_count(self) -> int:
        return sum(report is None for report in self.state.reports)

    def _state_text(self) -> str:
        try:
            state = self.cluster_state()
        except Exception as exc:  # noqa: BLE001  (a description that fails must not stop the batch)
            state = f"(its state could not be read: {exc!r})"
        return f"The cluster: {state}." if state else ""

    def _lost_text(self) -> str:
        self._note_departures()
        if not self.lost_before_running:
            return ""
        return (f" {len(self.lost_before_running)} worker(s) left holding a task before they had run anything "
                f"(last: {self.lost_before_running[-1]}): a worker that cannot import dask_runner cannot read a "
                "task and leaves (its log says 'Failed to deserialize').")

    def _note_departures(self) -> None:
        """Workers the scheduler removed since the batch began while they held tasks, unexpectedly, before they
        delivered a report. Read from the scheduler's event log, which is long: only while no worker is there."""
        try:
            events = self.client.get_events("all")
        except Exception:  # noqa: BLE001  (only an explanation is missing)
            logger.debug("could not read the scheduler's events", exc_info=True)
            return
        for stamp, event in events:
            if (isinstance(event, dict) and event.get("action") == "remove-worker" and stamp >= self.started_at
                    and event.get("processing-tasks") and not event.get("expected")):
                address = str(event.get("worker"))
                if address not in self.confirmed and address not in self.lost_before_running:
                    self.lost_before_running.append(address)

    def _fail_waiting(self, timeout: float) -> None:
        """Every runner without a final report fails with stage ``no_workers``; the batch then ends."""
        message = (f"no worker was connected to the scheduler for {timeout:g} s (no_worker_timeout_s) while this "
                   f"runner waited; {NO_WORKERS_CAUSES}. {self._state_text()}{self._lost_text()} "
                   "Run the batch again with resume=true to run it.").replace("  ", " ")
        waiting = [index for index, report in enumerate(self.state.reports) if report is None]
        logger.error("%d runner(s) fail: %s", len(waiting), message)
        self._cancel_everything()
        self.suspects.clear()
        self.retry.clear()
        self.cursor = len(self.runners)
        for index in waiting:
            self.state.finalize(index, failed_report(self.runners[index], message, "no_workers"))

    def _cancel_everything(self) -> None:
        futures: list[Future] = [f for g in self.groups.values() for f in (g.sim, g.summary) if f is not None]
        futures += list(self.callbacks)
        self.groups.clear()
        self.summaries.clear()
        self.callbacks.clear()
        if futures:
            try:
                self.client.cancel(futures, reason="dask_runner batch stopped")
            except Exception:  # the cluster may already be going away; shutdown cleans up
                logger.debug("cancelling outstanding futures failed", exc_info=True)

    # -- submission -------------------------------------------------------------------------------

    def _has_todo(self) -> bool:
        return bool(self.retry) or self.cursor < len(self.runners)

    def _take(self, count: int) -> list[int]:
        taken: list[int] = []
        while self.retry and len(taken) < count:
            taken.append(self.retry.popleft())
        while self.cursor < len(self.runners) and len(taken) < count:
            taken.append(self.cursor)
            self.cursor += 1
        return taken

    def _limit(self) -> int:
        if time.monotonic() - self.workers_checked_at > _REFRESH_WORKERS_S:
            self._refresh_workers()
        return self.settings.max_in_flight_per_slot * self.slots

    def _refresh_workers(self) -> None:
        from dask_runner.dask.resources import workers_from_scheduler_info

        self.workers = workers_from_scheduler_info(self.client.scheduler_info(n_workers=-1))
        self.slots = max(1, slots_for(self.resources, self.workers))
        self.workers_checked_at = time.monotonic()

    def _group_size(self) -> int:
        if self.settings.max_group_size == 1 or (self.mean_duration is None and not self.lockstep):
            return 1
        remaining = len(self.retry) + len(self.runners) - self.cursor
        spread = max(1, remaining // self._limit())  # keep every slot busy until the end
        if self.lockstep or self.mean_duration is None:
            # a batching planner's group: the size that pays for its batched calls, not one measured first
            return max(1, min(self.settings.lockstep_group_size, self.settings.max_group_size, spread))
        size = int(self.settings.target_task_duration_s / max(self.mean_duration, 1e-6))
        if self.leaves_callback_work:
            size = min(size, MAX_GROUP_SIZE_WITH_CALLBACKS)
        return max(1, min(size, self.settings.max_group_size, spread))

    def _fill(self) -> None:
        if self.suspects:
            # Suspects run alone so that a death is unambiguous; wait for everything else to finish.
            if not self.groups:
                self._submit([self.suspects.popleft()], isolated=True)
            return
        limit = self._limit()
        while len(self.groups) < limit:
            indices = self._take(self._group_size())
            if not indices:
                return
            self._submit(indices, isolated=False)

    def _submit(self, indices: list[int], isolated: bool) -> None:
        runners: list[AbstractRunner | None] = [self.runners[i] for i in indices]  # the task's own list
        key = simulation_key(self.runners[indices[0]], self.state.ids[indices[0]], len(runners))
        self.observer.submitted(indices)  # before the submit: a runner that cannot travel is reported in it
        # Once the batch has shown that its runners leave no callback work, nothing needs their outcomes on the
        # worker: the group task returns its summary itself (one task per group instead of two).
        one_task = self.summarized and not self.leaves_callback_work
        try:
            sim = self.client.submit(run_summarized_group if one_task else run_group, GroupRunners(runners),
                                     self.options.time_limit_s, key, self.lockstep, key=key, pure=False,
                                     resources=self.resources or None, retries=0)
        except Exception:  # the client pickles the task here: one runner may not travel
            unsendable = self._unsendable(indices)
            if not unsendable:
                raise
            for index, cause in unsendable.items():
                self.state.finalize(index, infrastructure_failure(self.runners[index], self.pool, cause), cause)
            rest = [i for i in indices if i not in unsendable]
            if rest:
                self._submit(rest, isolated)
            return
        summary = sim if one_task else self.client.submit(summarize, sim, key=keys.summary_key(key), pure=False,
                                                          priority=10)
        now = time.time()
        limit = self.options.time_limit_s
        check_at = now + limit + self.settings.timeout_grace_s if limit is not None else float("inf")
        group = _Group(key, [_Member(i) for i in indices], isolated, now, None if one_task else sim, summary, check_at)
        self.groups[key] = group
        self.summaries[summary] = group
        self.ac.add(summary)

    def _unsendable(self, indices: list[int]) -> dict[int, BaseException]:
        """The runners among ``indices`` that Dask cannot pickle, each with its error (checked one by one)."""
        from distributed.protocol.pickle import dumps

        found: dict[int, BaseException] = {}
        for index in indices:
            try:
                dumps(self.runners[index])
            except Exception as exc:  # noqa: BLE001  (whatever pickling raises, the runner cannot travel)
                found[index] = exc
        return found

    # -- completion -------------------------------------------------------------------------------

    def _handle(self, future: Future, result: Any) -> None:
        # Success is read from the result delivered, not from future.status: a worker that died since may
        # have lost a result that had already arrived, and Dask then recomputes it ("lost", not "finished").
        if future in self.summaries:
            group = self.summaries.pop(future)
            group.summary = None
            if isinstance(result, GroupSummary):
                self.confirmed.update(m.report.worker for m in result.members if m.report.worker)
                self._on_summary(group, result.members)
            else:
                self._on_group_error(group, future, _exception_from(future, result))
        elif future in self.callbacks:
            group, member, work_index = self.callbacks.pop(future)
            if member.final:
                return
            if isinstance(result, CallbackResult):
                member.results[work_index] = result
            else:
                exc = _exception_from(future, result)
                if _is_worker_death(exc):
                    self._cancel(member.callbacks)
                    member.final = True
                    self._close_if_done(group)
                    self._on_lost([member.index], exc, group.isolated)
                    return
                member.results[work_index] = CallbackResult("callback", f"callback task failed: {exc!r}", exc)
            if all(r is not None for r in member.results):
                assert member.report is not None
                final, cause = _with_callbacks(member.report, [r for r in member.results if r is not None])
                member.final = True
                member.callbacks = []
                self._close_if_done(group)
                self.state.finalize(member.index, final, cause)
        # Anything else is a future we cancelled ourselves (hard time limit); nothing to do.

    def _on_summary(self, group: _Group, summaries: list[MemberSummary]) -> None:
        self._learn_durations(summaries)
        self.summarized = True
        if not self.leaves_callback_work and any(summary.work_count for summary in summaries):
            self.leaves_callback_work = True
        finals: list[tuple[int, RunnerReport, BaseException | None]] = []
        for position, (member, summary) in enumerate(zip(group.members, summaries)):
            member.report, member.exception = summary.report, summary.exception
            if summary.work_count == 0 or summary.results is not None:  # nothing left, or run by the group task
                member.final = True
                report, cause = _with_callbacks(summary.report, list(summary.results or ()))
                finals.append((member.index, report, summary.exception or cause))
                continue
            member.results = [None] * summary.work_count
            for work_index in range(summary.work_count):
                callback = self.client.submit(
                    run_member_work, group.sim, position, work_index, pure=False, priority=5,
                    key=keys.callback_key(self.state.ids[member.index], work_index),
                )
                member.callbacks.append(callback)
                self.callbacks[callback] = (group, member, work_index)
                self.ac.add(callback)
        self._close_if_done(group)
        for index, report, exception in finals:
            self.state.finalize(index, report, exception)

    def _on_group_error(self, group: _Group, future: Future, exc: BaseException | None = None) -> None:
        exc = exc if exc is not None else _exception_of(future)
        load_error = raised_from(exc, RunnerLoadError)
        if load_error is not None and load_error.args and isinstance(load_error.args[0], dict):
            # A worker lacks a module the runners need: every task it gets would fail the same way.
            from dask_runner.dask.import_check import load_failure_error

            raise load_failure_error(load_error.args[0], self.checked) from exc
        members = [m for m in group.members if not m.final]
        for m in members:
            m.final = True
        self._close_if_done(group)
        if _is_worker_death(exc):
            self._on_lost([m.index for m in members], exc, group.isolated)
            return
        stage: ErrorStage = "cancelled" if future.cancelled() else "simulation"
        if stage == "simulation" and not group.isolated and len(members) > 1:
            # The group's task or its result failed as a whole (a report the driver cannot unpickle, a runner
            # the worker cannot load): each member runs again alone, so that only the culprit fails.
            logger.info("A group of %d runners failed as a whole (%r); they run again, one at a time", len(members), exc)
            self.suspects.extend(m.index for m in members)
            self.observer.rerun(len(members), "one at a time, after their group failed as a whole")
            return
        for m in members:
            runner = self.runners[m.index]
            if stage == "cancelled":
                report = failed_report(runner, f"the simulation task was cancelled by the cluster: {exc!r}", stage)
            else:
                report = infrastructure_failure(runner, self.pool, exc)
            self.state.finalize(m.index, report, exc)

    def _on_lost(self, indices: list[int], exc: BaseException, isolated: bool) -> None:
        address = _lost_worker_address(exc)
        if address is not None and address not in self.confirmed:
            self._check_newcomers(address)
        if address is not None and (address in self.restarted or _was_retiring(self.client, address)):
            # We restarted that worker ourselves (another runner's hard time limit), or it was retiring (its
            # lifetime before a walltime, a scale-down) and closed before every task had left: not their fault.
            logger.info("%d runner(s) were on worker %s when it was restarted or retired; they run again",
                        len(indices), address)
            self.retry.extendleft(reversed(indices))
            self.observer.rerun(len(indices), "their worker was restarted for another runner's time limit")
            return
        self._refresh_workers()
        logger.info("A worker died holding %d runner(s) (%s); they run again, one at a time", len(indices), exc)
        for index in indices:
            self.deaths[index] += 1
            if isolated:
                self.deaths_alone[index] += 1
            # Only deaths while running alone are evidence against this runner: with others on the
            # worker (or as a callback task beside a killer) it may be an innocent bystander.
            if self.deaths_alone[index] < self.settings.max_worker_deaths:
                self.suspects.append(index)
                self.observer.rerun(1, "one at a time, after a worker death")
                continue
            message = (
                "A worker dies when its process exits, crashes (segfault) or is killed by the nanny for "
                "exceeding its memory limit (raise memory_limit per worker).\n"
                f"The worker running this runner died {self.deaths_alone[index]} time(s) while it ran alone "
                f"({self.deaths[index]} in all); the scheduler said: {exc!r}"
            )
            self.state.finalize(index, failed_report(self.runners[index], message, "worker_lost", worker=address), exc)

    def _check_newcomers(self, lost: str) -> None:
        """A worker left holding a task before it ran anything: the workers not yet known to run dask_runner
        are asked whether they can import it (one that cannot leaves on its first task, silently)."""
        from dask_runner.dask.import_check import workers_without_dask_runner

        if lost not in self.lost_before_running:
            self.lost_before_running.append(lost)
        error = workers_without_dask_runner(self.client, exclude=self.confirmed)
        if error is not None:
            raise error

    def _close_if_done(self, group: _Group) -> None:
        if not group.open:
            self.groups.pop(group.key, None)
            group.sim = None  # release the outcomes held on the worker

    def _learn_durations(self, summaries: list[MemberSummary]) -> None:
        durations = [s.report.duration for s in summaries if s.report.duration is not None]
        if not durations:
            return
        mean = max(0.0, sum(durations) / len(durations))
        self.mean_duration = mean if self.mean_duration is None else 0.7 * self.mean_duration + 0.3 * mean

    def _cancel(self, futures: list[Future]) -> None:
        for f in futures:
            self.callbacks.pop(f, None)
        if futures:
            self.client.cancel(futures)

    # -- hard time limit --------------------------------------------------------------------------

    def _check_hard_limits(self) -> None:
        """Stop the runners past their time limit plus the grace; only when a group's check falls due, so the
        workers are asked only then (a group runs its runners one after another: it may take much longer)."""
        limit = self.options.time_limit_s
        if limit is None:
            return
        now = time.time()
        due = [g for g in self.groups.values() if g.summary is not None and g.limit_check_at <= now]
        if not due:
            return
        overdue_after = limit + self.settings.timeout_grace_s
        running: dict[str, Any] = self.client.run(running_since, on_error="return")
        # A runner of these groups not running now starts later, so it cannot be due before now + the limit;
        # without every worker's answer, ask again soon.
        answered = all(isinstance(tags, dict) for tags in running.values())
        for checked in due:
            checked.limit_check_at = now + (overdue_after if answered else _HARD_LIMIT_RETRY_S)
        for address, tags in running.items():
            if not isinstance(tags, dict):
                continue
            for tag, start in tags.items():
                key, _, member = tag.rpartition(":")
                group = self.groups.get(key)
                if group is None or group.summary is None:
                    continue
                if now - start > overdue_after:
                    self._hard_stop(group, int(member), float(start), address)
                else:
                    group.limit_check_at = min(group.limit_check_at, float(start) + overdue_after)

    def _hard_stop(self, group: _Group, member: int, start: float, address: str) -> None:
        limit = self.options.time_limit_s
        assert limit is not None
        index = group.members[member].index
        others = [m.index for m in group.members if not m.final and m.index != index]
        for m in group.members:
            m.final = True
        stale = [f for f in (group.sim, group.summary) if f is not None]
        self.summaries = {f: g for f, g in self.summaries.items() if g is not group}
        self._close_if_done(group)
        group.summary = None
        self.client.cancel(stale, reason="runner past its hard time limit")
        self.retry.extendleft(reversed(others))
        self.observer.rerun(len(others), "their group's task was stopped for another runner's time limit")
        if any(w.address == address and w.has_nanny for w in self.workers):
            self.restarted.add(address)
            action = f"its worker {address} was restarted"
            self.client.restart_workers([address], raise_for_error=False)
        else:
            action = f"its worker {address} has no nanny and cannot be restarted (the thread keeps running)"
        logger.warning("Runner %s is past its hard time limit; %s", self.state.ids[index], action)
        message = (
            f"runner exceeded its time limit of {limit:g} s and was still running {self.settings.timeout_grace_s:g} s "
            f"later (a step that never returned); {action}"
        )
        self.state.finalize(index, failed_report(self.runners[index], message, "timeout", start, address))


def _with_callbacks(report: RunnerReport, results: list[CallbackResult]) -> tuple[RunnerReport, BaseException | None]:
    """The final report of a runner whose callback work gave ``results``, and the first failure's cause."""
    if not results:
        return report, None
    return with_callback_results(report, results), next((r.exception for r in results if not r.succeeded), None)


def _exception_from(future: Future, result: Any) -> BaseException:
    """The exception of a failed future from what ``as_completed(with_results=True)`` delivered with it."""
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        return result[1]  # (type, exception, traceback) of an erred task
    if isinstance(result, BaseException):
        return result
    return _exception_of(future)


def _exception_of(future: Future) -> BaseException:
    if future.cancelled():
        from concurrent.futures import CancelledError

        return CancelledError(f"task {future.key!r} was cancelled")
    try:
        exc = future.exception()
    except Exception as fetch_error:  # noqa: BLE001  (the exception itself could not be fetched or unpickled)
        return fetch_error
    return exc if isinstance(exc, BaseException) else RuntimeError(f"task {future.key!r} failed: {exc!r}")


def _is_worker_death(exc: BaseException) -> bool:
    from distributed.scheduler import KilledWorker

    return isinstance(exc, KilledWorker)


def _was_retiring(client: Client, address: str) -> bool:
    """Whether the scheduler saw ``address`` begin a graceful retirement before it left.

    A retiring worker whose tasks could not all move (every other worker retiring too, or none yet joined)
    still closes, and Dask fails its tasks with KilledWorker as if it had died.
    """
    try:
        events = client.get_events(address)
    except Exception:  # noqa: BLE001  (no answer: treat it as a death, the cautious side)
        logger.debug("could not read the events of worker %s", address, exc_info=True)
        return False
    return any(isinstance(event, dict) and event.get("action") == "worker-status-change"
               and event.get("status") == "closing_gracefully" for _, event in events)


def _lost_worker_address(exc: BaseException) -> str | None:
    worker = getattr(exc, "last_worker", None)
    address = getattr(worker, "address", None)
    return str(address) if address is not None else None


def execute_on_dask(client: Client, pool: object, runners: Sequence[AbstractRunner], options: ExecutionOptions,
                    settings: DaskBatchSettings, workers: list[WorkerInfo],
                    cluster_state: Callable[[], str] | None = None) -> list[RunnerReport]:
    """Run ``runners`` on ``client``'s cluster; exactly one report per runner, in input order."""
    # A worker that cannot import a runner's module is named before anything is submitted; one that joins
    # during the batch fails its first task with the same answer (dask_tasks.GroupRunners). (Imported here:
    # it imports distributed, which a local cluster's fork server must be started before.)
    from dask_runner.dask.import_check import check_workers_can_import

    checked = check_workers_can_import(client, runners)
    return DaskBatch(client, pool, runners, options, settings, workers, checked, cluster_state).run()
