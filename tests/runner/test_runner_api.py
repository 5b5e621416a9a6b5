"""The runner API contract: reports, run_simulation, execute_runners on the local pools."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pandas as pd
import pytest
from foundation_runners import EchoRunner, UnpicklableRunner

import dask_runner
from dask_runner import (
    ConfigError,
    PlannerReport,
    RunnerReport,
    Sequential,
    SimulationFailedError,
    SingleMachineParallelExecutor,
    execute_runners,
    run_simulation,
    save_runner_reports,
)


def test_report_keeps_nuplans_positional_fields() -> None:
    report = RunnerReport(True, None, 1.0, 2.5, None, "scenario", "planner", "log")
    assert (report.scenario_name, report.planner_name, report.log_name) == ("scenario", "planner", "log")
    assert report.runner_id == "" and report.error_stage is None and report.worker is None
    assert report.duration == 1.5
    with pytest.raises(Exception):
        report.succeeded = False  # type: ignore[misc]  # frozen: executors never mutate handed-out reports


def test_planner_report_statistics() -> None:
    stats = PlannerReport([1.0, 2.0, 6.0]).compute_summary_statistics()
    assert stats["compute_trajectory_runtimes_mean"] == pytest.approx(3.0)
    assert stats["compute_trajectory_runtimes_median"] == pytest.approx(2.0)
    assert stats["compute_trajectory_runtimes_std"] == pytest.approx(2.1602468994)


def test_run_simulation_turns_an_exception_into_a_failed_report(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        report = run_simulation(EchoRunner("s1", log_name="log-a", fail="planner exploded"))
    assert not report.succeeded
    assert report.error_stage == "simulation"
    assert "Traceback" in (report.error_message or "") and "planner exploded" in (report.error_message or "")
    assert report.end_time is not None and report.end_time >= report.start_time
    assert (report.scenario_name, report.log_name, report.runner_id) == ("s1", "log-a", "echo-s1")
    assert "[log-a, s1]" in caplog.text


def test_exit_on_failure_raises_with_the_original_cause() -> None:
    with pytest.raises(SimulationFailedError) as info:
        run_simulation(EchoRunner("s1", fail="root cause"), exit_on_failure=True)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "root cause"


def test_run_simulation_runs_deferred_callback_work_and_reports_its_failure(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    ok = run_simulation(EchoRunner("s1", marker=str(marker)))
    assert ok.succeeded and marker.read_text() == "s1\n"
    bad = run_simulation(EchoRunner("s2", callback_fail="metric engine broke"))
    assert not bad.succeeded and bad.error_stage == "callback"
    assert "metric engine broke" in (bad.error_message or "")


@pytest.fixture(params=["sequential", "threads", "processes"])
def pool(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "sequential":
        worker = Sequential()
    else:
        worker = SingleMachineParallelExecutor(use_process_pool=request.param == "processes", max_workers=2)
    with worker:
        yield worker


def test_one_report_per_runner_in_input_order_even_with_colliding_names(pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Three runners share scenario, planner and log names; nuPlan would collapse them into one report.
    runners = [EchoRunner("same", runner_id=f"r{i}") for i in range(3)]
    runners += [EchoRunner(f"s{i}", fail="bad" if i == 2 else None) for i in range(5)]
    seen: list[str] = []
    reports = execute_runners(runners, pool, num_gpus=None, num_cpus=1, on_report=lambda r: seen.append(r.runner_id))
    assert len(reports) == len(runners)
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert sorted(seen) == sorted(r.runner_id for r in runners)
    assert [r.succeeded for r in reports] == [True] * 5 + [False] + [True] * 2
    assert reports[5].error_stage == "simulation"
    assert all(r.end_time is not None for r in reports)


def test_callback_failure_reaches_the_report_on_every_pool(pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # nuPlan loses this failure whenever the runner ran in another process.
    marker = tmp_path / "m.txt"
    runners = [EchoRunner("fine", marker=str(marker)), EchoRunner("broken", callback_fail="log writer died")]
    reports = execute_runners(runners, pool, num_gpus=None, num_cpus=None)
    assert reports[0].succeeded and marker.read_text() == "fine\n"
    assert not reports[1].succeeded and reports[1].error_stage == "callback"
    assert "log writer died" in (reports[1].error_message or "")


def test_execute_runners_logs_counts_and_failed_pairs(caplog: pytest.LogCaptureFixture) -> None:
    runners = [EchoRunner("ok"), EchoRunner("bad", log_name="log-b", fail="x")]
    with caplog.at_level(logging.INFO, logger="dask_runner"):
        execute_runners(runners, Sequential())
    assert "Number of successful simulations: 1" in caplog.text
    assert "Number of failed simulations: 1" in caplog.text
    assert "[log-b, bad]" in caplog.text


def test_exit_on_failure_keeps_final_reports_and_raises_the_cause() -> None:
    seen: list[RunnerReport] = []
    runners = [EchoRunner("ok"), EchoRunner("bad", fail="original"), EchoRunner("never")]
    with pytest.raises(SimulationFailedError) as info:
        execute_runners(runners, Sequential(), exit_on_failure=True, on_report=seen.append)
    assert isinstance(info.value.__cause__, ValueError)
    assert [r.scenario_name for r in seen] == ["ok", "bad"]


def test_empty_runner_list_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no runners"):
        execute_runners([], Sequential())


def test_unpicklable_runner_fails_alone_on_the_process_pool() -> None:
    runners = [EchoRunner("a"), UnpicklableRunner("locked"), EchoRunner("b")]
    with pytest.raises(TypeError):
        pickle.dumps(runners[1])
    with SingleMachineParallelExecutor(use_process_pool=True, max_workers=2) as pool:
        reports = execute_runners(runners, pool)
    assert [r.succeeded for r in reports] == [True, False, True]
    message = reports[1].error_message or ""
    assert "must pickle" in message and "lock" in message
    assert reports[1].scenario_name == "locked"


def test_save_runner_reports_round_trip(tmp_path: Path) -> None:
    reports = execute_runners([EchoRunner("a"), EchoRunner("b", fail="nope")], Sequential())
    path = save_runner_reports(reports, tmp_path)
    frame = pd.read_parquet(path)
    assert path.name == "runner_report.parquet"
    for column in ("succeeded", "error_message", "start_time", "end_time", "scenario_name", "planner_name",
                   "log_name", "runner_id", "error_stage", "worker", "duration",
                   "compute_trajectory_runtimes_mean", "compute_trajectory_runtimes_median",
                   "compute_trajectory_runtimes_std"):
        assert column in frame.columns, column
    assert frame["succeeded"].tolist() == [True, False]
    assert frame.loc[0, "compute_trajectory_runtimes_mean"] == pytest.approx(0.002)
    assert frame.loc[1, "error_stage"] == "simulation"
    assert (frame["duration"] >= 0).all()


def test_public_api_names_resolve() -> None:
    for name in ("AbstractRunner", "RunnerReport", "run_simulation", "execute_runners", "WorkerPool", "Task",
                 "WorkerResources", "Sequential", "SingleMachineParallelExecutor", "AbstractCallback",
                 "MultiCallback", "save_runner_reports", "PlannerReport"):
        assert getattr(dask_runner, name) is not None


def test_several_callbacks_of_one_runner_finishing_together(pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Three pieces of callback work (as metrics + log + timing) finish in the same wait(); each must be
    # consumed once, and the runner reported once.
    marker = tmp_path / "m.txt"
    runners = [EchoRunner(f"s{i}", marker=str(marker), callback_fail="late" if i == 1 else None) for i in range(4)]
    for r in runners:
        r.extra_markers = 2
    reports = execute_runners(runners, pool)
    assert [r.succeeded for r in reports] == [True, False, True, True]
    assert sorted(marker.read_text().split()) == sorted(f"s{i}" for i in range(4) for _ in range(3))
