"""The Dask batch loop waits without polling, and tells the batch's observer (or nobody) what it does."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import dask
import pytest
from distributed import LocalCluster
from runners_for_tests import ScriptedRunner, scripted

from dask_runner.dashboard import events
from dask_runner.dask import batch as dask_batch
from dask_runner.dask import keys
from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.batch_execution import NO_OBSERVER, BatchState, ExecutionOptions
from dask_runner.execution.executor import execute_runners
from dask_runner.runner.report import RunnerReport


@pytest.fixture(scope="module")
def pool() -> Iterator[DaskDistributed]:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster, timeout_grace_s=0.5) as dask_pool:
        yield dask_pool


@pytest.fixture
def wakeups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the batch loop looked up from waiting for results (each look is one turn of the loop)."""
    seen: list[int] = []
    look = dask_batch.DaskBatch._next_batch

    def counted(batch: dask_batch.DaskBatch) -> Any:
        seen.append(1)
        return look(batch)

    monkeypatch.setattr(dask_batch.DaskBatch, "_next_batch", counted)
    return seen


def test_a_batch_with_a_time_limit_waits_for_its_runners_without_polling(
        pool: DaskDistributed, wakeups: list[int]) -> None:
    # Two runners of 1.5 s under a limit of 60 s: nothing falls due while they run, so the loop sleeps until
    # their results come (it used to look every 10 ms: ~150 wakeups).
    reports = execute_runners(scripted(["ok", "ok"], seconds=1.5), pool, time_limit_s=60)
    assert [r.succeeded for r in reports] == [True, True]
    assert len(wakeups) <= 8, f"the loop woke {len(wakeups)} times while two runners ran"


def test_the_loop_wakes_when_a_hard_time_limit_falls_due(pool: DaskDistributed, wakeups: list[int]) -> None:
    # A step that never returns (no cooperative check can stop it) past 0.5 s + 0.5 s of grace: the loop wakes
    # at that deadline, not before and not every 10 ms, and the runner is reported as timed out.
    reports = execute_runners([ScriptedRunner("stuck", seconds=3.0), ScriptedRunner("quick")], pool, time_limit_s=0.5)
    assert reports[0].error_stage == "timeout" and "time limit of 0.5 s" in (reports[0].error_message or "")
    assert reports[1].succeeded
    assert len(wakeups) <= 8, f"the loop woke {len(wakeups)} times before a deadline 1 s away"


def _monitor_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("dask_runner-batch-monitor")}


def test_with_the_simulations_page_off_nobody_watches_and_every_report_still_comes(pool: DaskDistributed) -> None:
    seen: list[RunnerReport] = []
    threads: set[str] = set()

    def on_report(report: RunnerReport) -> None:
        seen.append(report)
        threads.update(_monitor_threads())

    before = len(pool.client.get_events(events.TOPIC))
    runners = scripted(["ok", "fail", "callback_ok", "callback_fail", "ok"])
    with dask.config.set({"dask_runner.simulations-page": False}):
        reports = execute_runners(runners, pool, on_report=on_report, experiment_name="unwatched")
    assert [r.succeeded for r in reports] == [True, False, True, False, True]
    assert sorted(r.runner_id for r in seen) == [r.runner_id for r in reports]
    assert threads == set(), "a monitor ran for a batch nobody watches"
    assert len(pool.client.get_events(events.TOPIC)) == before, "events were sent for a batch nobody watches"


def test_with_the_page_on_the_monitor_is_told_every_report(pool: DaskDistributed) -> None:
    # The twin of the test above: the same batch with the page on sends its start, its reports and its end.
    before = len(pool.client.get_events(events.TOPIC))
    reports = execute_runners(scripted(["ok", "fail", "ok"]), pool, experiment_name="watched")
    sent = [message for _, message in pool.client.get_events(events.TOPIC)[before:]]
    assert len(reports) == 3 and len(sent) >= 2
    assert sent[-1]["totals"] == {"scripted": [2, 1]}, sent[-1]


class RecordingObserver:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def began(self) -> None:
        self.calls.append(("began", None))

    def submitted(self, indices: Sequence[int]) -> None:
        self.calls.append(("submitted", list(indices)))

    def rerun(self, count: int, reason: str) -> None:
        self.calls.append(("rerun", count))

    def reported(self, report: RunnerReport) -> None:
        self.calls.append(("reported", report.runner_id))

    def ended(self, reports: Sequence[RunnerReport] | None) -> None:
        self.calls.append(("ended", None if reports is None else len(reports)))


def test_the_batch_state_tells_its_observer_each_report_before_the_hook_and_the_end() -> None:
    calls: list[tuple[str, Any]] = []
    runners = scripted(["ok", "ok"])
    options = ExecutionOptions(on_report=lambda report: calls.append(("hook", report.runner_id)))
    state = BatchState(runners, options, RecordingObserver(calls))
    for index, runner in enumerate(runners):
        state.finalize(index, runner.run())
    assert state.finished() and calls == [("reported", "r00000"), ("hook", "r00000"), ("reported", "r00001"),
                                          ("hook", "r00001"), ("ended", 2)]

    stopped: list[tuple[str, Any]] = []
    BatchState(runners, ExecutionOptions(), RecordingObserver(stopped)).stopped()
    assert stopped == [("ended", None)]
    assert BatchState(runners, ExecutionOptions()).observer is NO_OBSERVER


def test_once_runners_leave_no_callback_work_a_group_is_one_task_and_late_callback_work_still_counts(
        pool: DaskDistributed) -> None:
    from distributed import get_task_stream

    # 40 runners that leave nothing behind, then two that do: the first summaries show no callback work, so
    # later groups return their summaries themselves; the late runners' callback work runs in their group's
    # task, and its failure still fails its runner alone, with stage "callback".
    runners = scripted(["ok"] * 40 + ["callback_fail", "callback_ok"])
    with get_task_stream(pool.client) as stream:
        reports = execute_runners(runners, pool)
    assert [r.succeeded for r in reports] == [True] * 40 + [False, True]
    assert reports[40].error_stage == "callback" and "metric engine broke for r00040" in (reports[40].error_message or "")
    summaries = [task["key"] for task in stream.data if keys.is_summary_key(task["key"])]
    groups = [task["key"] for task in stream.data if str(task["key"]).startswith(keys.SIMULATION_PREFIX)]
    # Only the groups submitted before the first summary came back (two per worker thread) had one.
    assert 0 < len(summaries) <= 2 * pool.number_of_threads < len(groups), (summaries, groups)
