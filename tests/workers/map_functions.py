"""Functions mapped through pools in the tests, importable by worker processes."""

from __future__ import annotations

import os
import threading

from dask_runner.runner.report import RunnerReport


def square_or_die(x: int) -> int:
    if x == 13:
        os._exit(13)  # kills the worker process running it
    return x * x


def square_or_raise(x: int) -> int:
    if x == 7:
        raise ValueError(f"item {x} is unlucky")
    return x * x


def hang_on(x: int, hang: int) -> int:
    if x == hang:
        threading.Event().wait()  # never returns
    return x


def current_task_key(_: int) -> str:
    from distributed import get_worker

    return str(get_worker().get_current_task())


def run_simulation(runner: object) -> object:
    """Named like nuPlan's and ours, in a module that has a RunnerReport too, but neither: a map of it must not be
    taken for a map of runner reports (the old rule, by name and module, took it for one)."""
    raise RuntimeError("not a runner-report function")


def timed_report(x: float) -> object:
    """Returns a report of its own kind, sleeping ``x`` seconds first (a test registers it as report-returning)."""
    import time

    time.sleep(x)
    return RunnerReport(succeeded=True, error_message=None, start_time=0.0, end_time=x, planner_report=None,
                        scenario_name=f"s{x}", planner_name="p", log_name="l")
