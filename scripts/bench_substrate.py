"""CPU time per scenario of the simulation substrate and all metrics, for each built-in planner.

Usage: python scripts/bench_substrate.py [--per-type N] [--repeats R] [--observation tracks|idm_agents]
                                         [--ego-controller two_stage|perfect_tracking]

The target: a 15 s scenario with the IDM planner, about 20 agents and all metrics in at most 15 ms
of CPU (nuPlan's IDM planner alone takes about 4 s a scenario). Scenarios are generated, every
scenario type in turn, keeping seeds with 18 to 24 agents. Each planner runs every scenario in
this process (``SimulationRunner.run``, deferred callback work collected and not run), then the
metric engine runs on each history. Each pass gets unpickled copies of the scenarios, as a worker
would, so per-scenario caches (observations, lane index of the map) are built inside the timing.
Times are CPU (``time.process_time``, less disturbed by other load than wall time), per scenario,
averaged over the scenarios; the planners take turns within each repeat, and the mean over repeats
and the minimum (the best estimate: other load only ever adds time) are printed. Scenario generation and runner building
are not timed.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dask_runner.metrics import build_metric_engine
from dask_runner.planners import AbstractPlanner, IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario
from dask_runner.simulation.callback.abstract_callback import collect_callback_work

PLANNERS: dict[str, Callable[..., AbstractPlanner]] = {
    "SimplePlanner": SimplePlanner,
    "IDMPlanner": IDMPlanner,
    "LogFuturePlanner": LogFuturePlanner,
}
TARGET_MS = 15.0  # IDM planner + all metrics, one 15 s scenario with about 20 agents
NUPLAN_IDM_MS = 4000.0  # nuPlan's IDM planner alone: about 27 ms a step, about 4 s a scenario


@dataclass(frozen=True)
class Timing:
    """Per-scenario CPU milliseconds of one repeat."""

    simulation_ms: float
    metrics_ms: float

    @property
    def total_ms(self) -> float:
        return self.simulation_ms + self.metrics_ms


def select_scenarios(per_type: int, min_agents: int, max_agents: int, max_seed: int = 200) -> list[Scenario]:
    """``per_type`` scenarios of each type whose agent count lies in [min_agents, max_agents]."""
    chosen: list[Scenario] = []
    for scenario_type in SCENARIO_TYPES:
        found = 0
        for seed in range(max_seed):
            scenario = generate_scenario(scenario_type, seed)
            if min_agents <= len(scenario.agent_track_ids) <= max_agents:
                chosen.append(scenario)
                found += 1
                if found == per_type:
                    break
    return chosen


def time_once(
    scenarios: Sequence[Scenario], planner: Callable[..., AbstractPlanner], observation: str, ego_controller: str
) -> Timing:
    scenarios = pickle.loads(pickle.dumps(list(scenarios)))  # as a worker receives them: no warm caches
    runners = build_simulation_runners(
        scenarios, [planner], ego_controller=ego_controller, observation=observation  # type: ignore[arg-type]
    )
    engine = build_metric_engine()
    with collect_callback_work():  # any deferred callback work is collected and dropped, not run
        start = time.process_time()
        for runner in runners:
            runner.run()
        simulation_s = time.process_time() - start
    start = time.process_time()
    for runner in runners:
        engine.compute(runner.scenario, runner.simulation.history, runner.planner.name())
    metrics_s = time.process_time() - start
    return Timing(simulation_s / len(runners) * 1e3, metrics_s / len(runners) * 1e3)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--per-type", type=int, default=3, help="scenarios per scenario type")
    parser.add_argument("--min-agents", type=int, default=18)
    parser.add_argument("--max-agents", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=8, help="timed passes over all scenarios")
    parser.add_argument("--observation", default="tracks", choices=("tracks", "idm_agents"))
    parser.add_argument("--planners", nargs="+", default=list(PLANNERS), choices=list(PLANNERS))
    parser.add_argument("--ego-controller", default="two_stage", choices=("two_stage", "perfect_tracking"))
    args = parser.parse_args(argv)

    scenarios = select_scenarios(args.per_type, args.min_agents, args.max_agents)
    agents = statistics.mean(len(s.agent_track_ids) for s in scenarios)
    steps = statistics.mean(s.get_number_of_iterations() for s in scenarios)
    print(f"{len(scenarios)} scenarios, {steps:.0f} steps and {agents:.1f} agents each on average; "
          f"observation={args.observation}, ego_controller={args.ego_controller}, {args.repeats} repeats")
    print(f"CPU ms per scenario, mean over repeats (min); target {TARGET_MS:.0f} ms for simulation + metrics")
    print(f"{'planner':17s} {'simulation':>16s} {'metrics':>16s} {'sum':>16s} {'us/step':>8s} {'vs target':>10s}")
    idm_best: float | None = None
    for name in args.planners:  # warm-up: imports, caches
        time_once(scenarios[:2], PLANNERS[name], args.observation, args.ego_controller)
    # Planners take turns within each repeat, so a slow spell of a shared machine hits them alike.
    all_timings: dict[str, list[Timing]] = {name: [] for name in args.planners}
    for _ in range(args.repeats):
        for name in args.planners:
            all_timings[name].append(time_once(scenarios, PLANNERS[name], args.observation, args.ego_controller))
    for name, timings in all_timings.items():

        def cell(values: list[float]) -> str:
            return f"{statistics.mean(values):7.2f} ({min(values):6.2f})"

        totals = [t.total_ms for t in timings]
        best = min(totals)
        print(f"{name:17s} {cell([t.simulation_ms for t in timings])} {cell([t.metrics_ms for t in timings])} "
              f"{cell(totals)} {min(t.simulation_ms for t in timings) / steps * 1e3:8.0f} "
              f"{best / TARGET_MS:9.2f}x")
        if name == "IDMPlanner":
            idm_best = best
    if idm_best is None:
        return
    print(f"IDMPlanner + metrics: {idm_best:.2f} ms at best, {idm_best / TARGET_MS:.2f}x the {TARGET_MS:.0f} ms target; "
          f"nuPlan's IDM planner alone takes ~{NUPLAN_IDM_MS / 1e3:.0f} s a scenario, {NUPLAN_IDM_MS / idm_best:.0f}x longer")


if __name__ == "__main__":
    main()
