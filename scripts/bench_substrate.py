"""Mean CPU time per scenario of the simulation substrate, for each built-in planner.

Usage: python scripts/bench_substrate.py [--scenarios N] [--observation tracks|idm_agents]
                                         [--ego-controller two_stage|perfect_tracking]

Scenarios are generated (every scenario type in turn); each planner runs each scenario once in
this process, and the CPU time (``time.process_time``) of ``SimulationRunner.run`` is averaged.
Scenario generation is not timed. To time metrics too, put their callbacks in
``callback_factories()`` below: they are then built per runner and run inside ``run()``.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, Sequence

from dask_runner.planners import AbstractPlanner, IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario
from dask_runner.runner.simulation_runner import SimulationRunner
from dask_runner.simulation.builder import build_simulation_runners
from dask_runner.simulation.callback.abstract_callback import AbstractCallback, collect_callback_work

PLANNERS: dict[str, type[AbstractPlanner]] = {
    "SimplePlanner": SimplePlanner,
    "IDMPlanner": IDMPlanner,
    "LogFuturePlanner": LogFuturePlanner,
}


def callback_factories() -> Sequence[Callable[[], AbstractCallback]]:
    """Hook for the metrics: return e.g. ``[functools.partial(MetricCallback, ...)]`` to time them as well."""
    return ()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=21, help="how many generated scenarios per planner")
    parser.add_argument("--observation", default="tracks", choices=("tracks", "idm_agents"))
    parser.add_argument("--ego-controller", default="two_stage", choices=("two_stage", "perfect_tracking"))
    parser.add_argument("--warmup", type=int, default=2, help="runs before timing (imports, caches)")
    args = parser.parse_args(argv)

    scenarios = [
        generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=i // len(SCENARIO_TYPES))
        for i in range(args.scenarios)
    ]
    agents = sum(len(s.agent_track_ids) for s in scenarios) / len(scenarios)
    steps = sum(s.get_number_of_iterations() for s in scenarios) / len(scenarios)
    print(f"{len(scenarios)} scenarios, {steps:.0f} steps and {agents:.1f} agents each on average; "
          f"observation={args.observation}, ego_controller={args.ego_controller}")
    for name, planner in PLANNERS.items():
        def build() -> list[SimulationRunner]:
            return build_simulation_runners(
                scenarios, [planner], callback_factories(),
                ego_controller=args.ego_controller, observation=args.observation,
            )

        for runner in build()[: args.warmup]:
            runner.run()
        runners = build()
        with collect_callback_work() as deferred:
            start = time.process_time()
            for runner in runners:
                runner.run()
            simulation_cpu = time.process_time() - start
            start = time.process_time()
            for work in deferred:  # deferred end-of-simulation work (metrics, logs), run here to be timed
                work.run()
            deferred_cpu = time.process_time() - start
        per_scenario = simulation_cpu / len(runners) * 1e3
        print(f"{name:17s} {per_scenario:7.1f} ms CPU per scenario ({per_scenario / steps * 1e3:5.0f} us a step)"
              + (f" + {deferred_cpu / len(runners) * 1e3:.1f} ms deferred callback work" if deferred else ""))


if __name__ == "__main__":
    main()
