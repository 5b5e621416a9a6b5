"""Lockstep groups: several simulations stepped together, one batched planner call per step for all of them.

A planner's batch-one forward pass is bound by launch latency and the host, not by the accelerator
(see README, GPUs). When every runner of a group task holds a ``BatchPlanner`` with the same
``batch_key``, the group steps its simulations together: each simulation runs its own loop
(``SimulationRunner.run_steps``, the loop ``run()`` uses) up to its planner call, one
``compute_trajectories`` call answers all of them, and each resumes. Everything else stays per
simulation: hooks and callbacks (its own loop), time limit and deferred callback work (its own
``contextvars.Context``), its report and its failure. A simulation that raises is finished with its
failed report and leaves the set; the others go on. If the batched call itself raises, that step
is retried one simulation at a time, so the error is charged to the simulation that caused it.

A ``BatchPlanner`` returns for each simulation exactly what it would return alone, so lockstep and
one-at-a-time runs give identical histories (tested).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from dask_runner.planners.abstract_planner import PlannerInput
from dask_runner.planners.batch_planner import BatchPlanner, compute_trajectories
from dask_runner.runner.run_simulation import SimulationOutcome, simulate_steps
from dask_runner.runner.simulation_runner import SimulationRunner
from dask_runner.scenarios.state import Trajectory


def can_lockstep(runners: Sequence[Any]) -> bool:
    """True when the runners are SimulationRunners whose planners can share one batched call."""
    if len(runners) < 2 or not all(isinstance(runner, SimulationRunner) for runner in runners):
        return False
    planners = [runner.planner for runner in runners]
    if not all(isinstance(planner, BatchPlanner) for planner in planners):
        return False
    classes = {type(planner) for planner in planners}
    try:
        keys = {planner.batch_key() for planner in planners if isinstance(planner, BatchPlanner)}
    except Exception:  # a planner that cannot say runs one at a time, where its error belongs to it
        return False
    return len(classes) == 1 and len(keys) == 1


@dataclass
class _Member:
    index: int
    runner: SimulationRunner
    context: contextvars.Context
    steps: Generator[PlannerInput, Trajectory, SimulationOutcome]
    planner_input: PlannerInput | None = None


def simulate_lockstep(
    runners: Sequence[SimulationRunner],
    time_limit_s: float | None = None,
    on_finished: Callable[[int], None] | None = None,
) -> list[SimulationOutcome]:
    """The outcome of each runner, as ``simulate`` would give it, with the planner calls batched per step.

    ``on_finished(index)`` is called as each runner finishes (the group task's bookkeeping)."""
    outcomes: list[SimulationOutcome | None] = [None] * len(runners)
    active: list[_Member] = []

    def advance(member: _Member, action: Callable[[], PlannerInput]) -> None:
        try:
            member.planner_input = member.context.run(action)
        except StopIteration as finished:
            outcomes[member.index] = finished.value
            if on_finished is not None:
                on_finished(member.index)
            return
        active.append(member)

    for index, runner in enumerate(runners):
        member = _Member(index, runner, contextvars.Context(), simulate_steps(runner, time_limit_s))
        advance(member, functools.partial(next, member.steps))

    while active:
        stepping, active = active, []
        inputs = [member.planner_input for member in stepping if member.planner_input is not None]
        try:
            planners = [member.runner.planner for member in stepping]
            trajectories: list[Trajectory] | None = compute_trajectories(planners, inputs)  # type: ignore[arg-type]
        except Exception:  # retried one by one below, so the failing simulation gets the error
            trajectories = None
        for position, member in enumerate(stepping):
            planner_input = member.planner_input
            assert planner_input is not None
            if trajectories is not None:
                trajectory = trajectories[position]
                advance(member, functools.partial(member.steps.send, trajectory))
                continue
            try:
                trajectory = member.context.run(member.runner.planner.compute_trajectory, planner_input)
            except Exception as exc:
                advance(member, functools.partial(member.steps.throw, exc))
                continue
            advance(member, functools.partial(member.steps.send, trajectory))
    return [outcome for outcome in outcomes if outcome is not None]
