"""The eight simulation hooks (nuPlan's AbstractCallback) and how a callback defers heavy work.

Heavy end-of-simulation work (metrics, writing the log) is not done inside ``on_simulation_end``:
the callback hands a picklable :class:`CallbackWork` to :func:`defer`. Run by an executor, the work
is collected and submitted as tasks of their own on the same pool (on Dask: chained behind the
simulation's future, on the worker that holds the history), and its failure reaches the report as
stage "callback". Called outside an executor, ``defer`` runs the work at once, as nuPlan does
without a pool.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner
    from dask_runner.scenarios.state import Trajectory
    from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample
    from dask_runner.simulation.simulation_setup import SimulationSetup


@dataclass(frozen=True)
class CallbackWork:
    """One unit of deferred end-of-simulation work: ``fn(*args)``. Must pickle (it may travel)."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(default=(), repr=False)

    def run(self) -> Any:
        return self.fn(*self.args)


_collector: contextvars.ContextVar[list[CallbackWork] | None] = contextvars.ContextVar(
    "dask_runner_callback_work", default=None
)


def defer(work: CallbackWork) -> Any:
    """Hand ``work`` to the executor if one collects it; otherwise run it now and return its result."""
    collected = _collector.get()
    if collected is None:
        return work.run()
    collected.append(work)
    return None


@contextlib.contextmanager
def collect_callback_work() -> Iterator[list[CallbackWork]]:
    """Within this block, :func:`defer` appends to the yielded list instead of running the work."""
    collected: list[CallbackWork] = []
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


class AbstractCallback:
    """All hooks do nothing by default; override the ones you need."""

    def on_initialization_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        pass

    def on_initialization_end(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        pass

    def on_step_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        pass

    def on_step_end(self, setup: SimulationSetup, planner: AbstractPlanner, sample: SimulationHistorySample) -> None:
        pass

    def on_planner_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        pass

    def on_planner_end(self, setup: SimulationSetup, planner: AbstractPlanner, trajectory: Trajectory) -> None:
        pass

    def on_simulation_start(self, setup: SimulationSetup) -> None:
        pass

    def on_simulation_end(self, setup: SimulationSetup, planner: AbstractPlanner, history: SimulationHistory) -> None:
        pass


class MultiCallback(AbstractCallback):
    """Calls each of its callbacks in order."""

    def __init__(self, callbacks: list[AbstractCallback] | None = None) -> None:
        self._callbacks: list[AbstractCallback] = list(callbacks or [])

    @property
    def callbacks(self) -> list[AbstractCallback]:
        return self._callbacks

    def add_callback(self, callback: AbstractCallback) -> None:
        self._callbacks.append(callback)

    def on_initialization_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        for cb in self._callbacks:
            cb.on_initialization_start(setup, planner)

    def on_initialization_end(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        for cb in self._callbacks:
            cb.on_initialization_end(setup, planner)

    def on_step_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        for cb in self._callbacks:
            cb.on_step_start(setup, planner)

    def on_step_end(self, setup: SimulationSetup, planner: AbstractPlanner, sample: SimulationHistorySample) -> None:
        for cb in self._callbacks:
            cb.on_step_end(setup, planner, sample)

    def on_planner_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        for cb in self._callbacks:
            cb.on_planner_start(setup, planner)

    def on_planner_end(self, setup: SimulationSetup, planner: AbstractPlanner, trajectory: Trajectory) -> None:
        for cb in self._callbacks:
            cb.on_planner_end(setup, planner, trajectory)

    def on_simulation_start(self, setup: SimulationSetup) -> None:
        for cb in self._callbacks:
            cb.on_simulation_start(setup)

    def on_simulation_end(self, setup: SimulationSetup, planner: AbstractPlanner, history: SimulationHistory) -> None:
        for cb in self._callbacks:
            cb.on_simulation_end(setup, planner, history)
