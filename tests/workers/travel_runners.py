"""Runners that cannot travel between processes, one way or the other, and nuPlan-style runners with no id.

Importable by worker processes (they inherit the test process's ``sys.path``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from runners_for_tests import NamedPlanner, NamedScenario

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.simulation.callback.abstract_callback import CallbackWork, defer


def _refuse_to_load() -> None:
    raise RuntimeError("this planner report cannot be loaded here")


class UnloadablePlannerReport(PlannerReport):
    """A planner report that pickles, but whose unpickling (only ever in the driver) raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _refuse_to_load, ()


class LockedPlannerReport(PlannerReport):
    """A planner report holding a lock: it cannot leave the process that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


def _use(lock: Any) -> str:
    with lock:
        return "done"


def _load_only_in(pid: int) -> FaultRunner:
    if os.getpid() != pid:
        raise RuntimeError("this runner cannot be loaded on a worker (a version mismatch, say)")
    return FaultRunner("unloadable_runner")


class FaultRunner(AbstractRunner):
    """A runner written the nuPlan way: no ``runner_id``, names shared by every instance.

    ``fault``: ok, raise, exit (os._exit), hang, memory (allocates ``gigabytes`` GB), lock_in_runner
    (holds a lock, so it cannot be sent), lock_in_report (its planner report cannot come back),
    unloadable_report (its planner report pickles but cannot be unpickled), unloadable_runner (it pickles,
    but cannot be unpickled anywhere but in the driver),
    lock_in_callback (its callback work cannot come back), callback_raise.
    """

    def __init__(self, fault: str = "ok", gigabytes: float = 2.0) -> None:
        self.fault = fault
        self.gigabytes = gigabytes
        self.lock = threading.Lock() if fault == "lock_in_runner" else None

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.fault == "unloadable_runner":
            return _load_only_in, (os.getpid(),)
        return super().__reduce_ex__(protocol)

    @property
    def scenario(self) -> Any:
        return NamedScenario("same_scenario", "same_log")

    @property
    def planner(self) -> Any:
        return NamedPlanner("same_planner")

    def run(self) -> RunnerReport:
        start = time.time()
        planner_report = PlannerReport()
        if self.fault == "raise":
            raise RuntimeError("planner raised on purpose")
        if self.fault == "exit":
            os._exit(17)
        if self.fault == "hang":
            threading.Event().wait()  # a step that never returns
        if self.fault == "memory":
            chunks = []
            for _ in range(int(self.gigabytes * 1024 / 64)):
                chunks.append(bytearray(64 * 2**20))  # touched pages: real resident memory
                time.sleep(0.005)  # the allocation itself, spread so the nanny's monitor sees it grow
        if self.fault == "lock_in_report":
            planner_report = LockedPlannerReport()
        if self.fault == "unloadable_report":
            planner_report = UnloadablePlannerReport()
        if self.fault == "lock_in_callback":
            defer(CallbackWork("locked", _use, (threading.Lock(),)))
        if self.fault == "callback_raise":
            defer(CallbackWork("raising", _raise, ()))
        return RunnerReport(True, None, start, time.time(), planner_report, "same_scenario", "same_planner",
                            "same_log")


def _raise() -> None:
    raise RuntimeError("callback raised on purpose")
