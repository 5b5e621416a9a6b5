"""The functions Dask workers run for a batch: a group of simulations, its small summary, its callback work.

The group's outcomes (histories inside the callback work) stay on the worker that computed them; the
driver fetches only the summary and chains callback tasks that take the group's future as input. Once a
batch has shown that its runners leave no callback work, a group is one task that returns its summary
(``run_summarized_group``).
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from dask_runner.errors import RunnerLoadError
from dask_runner.per_worker import release_gpu_memory
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.lockstep import can_lockstep, simulate_lockstep
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import (
    CallbackResult,
    SimulationOutcome,
    run_callback_work,
    sendable_report,
    simulate,
)
from dask_runner.runner.simulation_runner import SimulationRunner

# On each worker: "<group key>:<member>" -> epoch start of the runner executing now. The driver reads
# it (``running_since``) to find runners past their hard time limit.
_RUNNING: dict[str, float] = {}


@dataclass(frozen=True)
class MemberSummary:
    """What the driver needs of one finished simulation: its report, how much callback work it left, why it failed."""

    report: RunnerReport
    work_count: int
    exception: BaseException | None
    # The results of its callback work where its group task ran that work itself (``run_summarized_group``);
    # None: the work waits on the worker for the driver's callback tasks.
    results: tuple[CallbackResult, ...] | None = None


@dataclass(frozen=True)
class GroupSummary:
    """The summaries of one group as one object: Dask serialises a returned list item by item (one pickle
    and one frame per runner, which made unpickling a quarter of the driver's CPU with no-op runners);
    one object is one pickle, whose memo also sends the names the reports share once."""

    members: list[MemberSummary]


class GroupRunners:
    """The runners of one group task as one argument that Dask neither walks (looking for futures in every
    item of a list) nor serialises item by item.

    It travels as the runners' pickle in bytes, unpickled by the task itself (``load``): the task message
    names only dask_runner, so any worker with dask_runner can receive it. A worker that lacks a module the
    runners need then fails this task with ``RunnerLoadError`` (the worker's address, host, Python and the
    module) instead of failing to read the message, which breaks its connection and makes it leave; the
    driver turns that into the import check's ClusterError. The pickle is made once, as Dask's own would be.
    """

    __slots__ = ("_runners", "_pickled")

    def __init__(self, runners: list[AbstractRunner | None]) -> None:
        self._runners: list[AbstractRunner | None] | None = runners
        self._pickled: bytes | None = None

    def __getstate__(self) -> bytes:
        if self._pickled is None:
            from distributed.protocol.pickle import dumps

            self._pickled = dumps(self._runners)  # cloudpickle for runners defined in a driver script
        return self._pickled

    def __setstate__(self, state: bytes) -> None:
        self._runners = None
        self._pickled = state

    def load(self) -> list[AbstractRunner | None]:
        """The task's own list of runners: unpickled here on a worker, or the driver's list where nothing was
        pickled (an in-process cluster hands the argument over as it is)."""
        if self._runners is not None:
            runners, self._runners = self._runners, None  # run_group empties it as the runners run
            return runners
        if self._pickled is None:
            raise RuntimeError("this group's runners were handed out already")
        from distributed.protocol.pickle import loads

        try:
            return list(loads(self._pickled))
        except ImportError as exc:
            raise RunnerLoadError(_load_failure(exc)) from exc


def _load_failure(exc: ImportError) -> dict[str, Any]:
    """What the driver needs to name the problem, in the shape of ``dask_imports.import_on_worker``'s answer."""
    from distributed import get_worker

    try:
        address = get_worker().address
    except ValueError:  # not on a worker (a test calling run_group directly)
        address = "?"
    module = exc.name or str(exc)
    return {"address": address, "host": socket.gethostname(), "python": sys.executable,
            "failures": {module: f"{type(exc).__name__}: {exc}"}}


def running_tag(group_key: str, member: int) -> str:
    return f"{group_key}:{member}"


def run_group(
    group: GroupRunners, time_limit_s: float | None, group_key: str, lockstep: bool = True,
) -> list[SimulationOutcome]:
    """Simulate each runner in turn; ``simulate`` never raises, so one failure leaves the others intact.

    With ``lockstep`` and runners whose planners can share a batched call, the group steps them
    together instead (``dask_runner.runner.lockstep``): same outcomes, one planner call per step.

    ``group.load()`` is the task's own list (unpickled for the task, or a copy made for it): each entry is dropped once its runner
    has run. The task's arguments live as long as the task, and a runner that has run holds its whole
    history; dropping it leaves only what the callback work still needs. Without this the worker kept
    every history of the group alive (tens of thousands of objects), and Python's full garbage
    collections, which scan them all, took about 5% of the worker's CPU.
    """
    runners = group.load()
    if lockstep and can_lockstep(runners):
        return _run_lockstep(runners, time_limit_s, group_key)
    outcomes = []
    for member, runner in enumerate(runners):
        if runner is None:
            raise RuntimeError(f"group {group_key!r} ran twice on one worker; its runners are gone")
        runners[member] = None
        tag = running_tag(group_key, member)
        _RUNNING[tag] = time.time()
        try:
            outcomes.append(simulate(runner, time_limit_s))
        finally:
            _RUNNING.pop(tag, None)
        del runner
        release_gpu_memory()  # what this simulation allocated on the GPU (tuplan_garage #60: memory crept)
    return outcomes


def _run_lockstep(runners: list[AbstractRunner | None], time_limit_s: float | None,
                  group_key: str) -> list[SimulationOutcome]:
    """``run_group`` for a lockstep group: every member runs from the start; each leaves ``_RUNNING`` when done."""
    members = [runner for runner in runners if isinstance(runner, SimulationRunner)]
    runners[:] = [None] * len(runners)  # the generators hold the runners now; see run_group
    started = time.time()
    tags = [running_tag(group_key, member) for member in range(len(members))]
    for tag in tags:
        _RUNNING[tag] = started

    def finished(member: int) -> None:
        _RUNNING.pop(tags[member], None)

    try:
        return simulate_lockstep(members, time_limit_s, on_finished=finished)
    finally:
        for tag in tags:
            _RUNNING.pop(tag, None)
        release_gpu_memory()


def summarize(outcomes: list[SimulationOutcome]) -> GroupSummary:
    """What the driver fetches of a group; a report that cannot be pickled fails its own runner only.

    The exceptions are portable already (``simulate`` keeps only those that pickle); the callback work
    stays here, on the worker that holds the histories.
    """
    summaries = []
    for outcome in outcomes:
        report = sendable_report(outcome.report)
        work_count = len(outcome.work) if report is outcome.report else 0
        summaries.append(MemberSummary(report, work_count, outcome.exception))
    return GroupSummary(summaries)


def run_summarized_group(
    group: GroupRunners, time_limit_s: float | None, group_key: str, lockstep: bool = True,
) -> GroupSummary:
    """``run_group`` and ``summarize`` as one task: for a batch whose runners have left no callback work, a
    group costs the scheduler, the worker and the driver one task instead of two.

    Callback work a runner leaves all the same runs here, after its group, each piece as a callback task
    would run it; its results travel in the summary and nothing stays behind on the worker.
    """
    outcomes = run_group(group, time_limit_s, group_key, lockstep)
    summary = summarize(outcomes)
    if not any(member.work_count for member in summary.members):
        return summary
    members = [replace(member, results=tuple(run_callback_work(work) for work in outcome.work))
               if member.work_count else member for outcome, member in zip(outcomes, summary.members)]
    return GroupSummary(members)


def run_member_work(outcomes: list[SimulationOutcome], member: int, work_index: int) -> CallbackResult:
    return run_callback_work(outcomes[member].work[work_index])


def running_since() -> dict[str, float]:
    """Run on each worker by ``client.run``: the runners executing there and since when."""
    return dict(_RUNNING)
