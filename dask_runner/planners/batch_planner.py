"""Planners that plan one step of several simulations in one call (one forward pass for a lockstep group).

A group task whose runners all hold ``BatchPlanner``s with the same ``batch_key`` steps its
simulations together and asks for every trajectory of a step at once (see
``dask_runner.runner.lockstep``). Every other planner is called one simulation at a time, as before.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence

from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInput
from dask_runner.scenarios.state import Trajectory


class BatchPlanner(AbstractPlanner):
    """A planner that can also compute the trajectories of several simulations (one planner each) in one call.

    ``compute_planner_trajectories`` must return exactly what ``compute_planner_trajectory`` returns for
    each simulation alone, bit for bit: results may not depend on which simulations share a step.
    It must not change a planner's state unless it returns normally (the caller retries a failed
    batch one simulation at a time, so that a failure is charged to the simulation that caused it).
    """

    def batch_key(self) -> str:
        """Planners with equal keys can share a call (e.g. the same network on the same device)."""
        return type(self).__qualname__

    @classmethod
    @abc.abstractmethod
    def compute_planner_trajectories(cls, planners: Sequence[BatchPlanner],
                                     inputs: Sequence[PlannerInput]) -> list[Trajectory]: ...


def compute_trajectories(planners: Sequence[BatchPlanner], inputs: Sequence[PlannerInput]) -> list[Trajectory]:
    """One step of several simulations; each planner's runtime record gets its share of the call's time."""
    start = time.perf_counter()
    trajectories = type(planners[0]).compute_planner_trajectories(planners, inputs)
    share = (time.perf_counter() - start) / len(planners)
    for planner in planners:
        planner._compute_trajectory_runtimes.append(share)
    return trajectories
