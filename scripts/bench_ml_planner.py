"""Lockstep against one-at-a-time for planner=ml_planner, measured side by side; prints simulations/s and the ratio.

CPU (the default): the same scenarios are simulated one at a time (a batch-one forward pass per step)
and in lockstep groups (``--group-size``, default 16: one forward pass per step for the group), in
this process, taking turns for ``--rounds`` rounds (which goes first alternates); the table gives the
medians, and the ratio is the median of the rounds' ratios (each measured side by side, so a slow
spell of a shared host affects both of its terms). ``--device cuda``
does the same on one GPU: one simulation at a time on the GPU (what a share of 1 gives) against
lockstep groups sharing one model copy on that GPU.

    python scripts/bench_ml_planner.py                       # CPU, groups of 16
    python scripts/bench_ml_planner.py --device cuda --group-size 64 --scenarios 128
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

from dask_runner.planners.ml.ml_planner import MLPlanner
from dask_runner.runner.lockstep import simulate_lockstep
from dask_runner.runner.run_simulation import simulate
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.runner.simulation_runner import SimulationRunner
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios


def runners_for(scenarios: list[AbstractScenario], device: str) -> list[SimulationRunner]:
    return build_simulation_runners(scenarios, [functools.partial(MLPlanner, device=device)])


def one_at_a_time(scenarios: list[AbstractScenario], device: str) -> float:
    runners = runners_for(scenarios, device)
    start = time.perf_counter()
    outcomes = [simulate(runner) for runner in runners]
    elapsed = time.perf_counter() - start
    assert all(outcome.report.succeeded for outcome in outcomes), [o.report.error_message for o in outcomes]
    return len(runners) / elapsed


def lockstep(scenarios: list[AbstractScenario], device: str, group_size: int) -> float:
    runners = runners_for(scenarios, device)
    start = time.perf_counter()
    outcomes = []
    for first in range(0, len(runners), group_size):
        outcomes += simulate_lockstep(runners[first:first + group_size])
    elapsed = time.perf_counter() - start
    assert all(outcome.report.succeeded for outcome in outcomes), [o.report.error_message for o in outcomes]
    return len(runners) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=16, help="scenarios per measurement (default 16)")
    parser.add_argument("--group-size", type=int, default=16, help="simulations per lockstep group (default 16)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds; medians reported (default 7)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, as one Dask worker thread (default 1)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda needs a GPU that torch can see")
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=args.scenarios), lazy=False)
    lockstep(scenarios[:2], args.device, 2)  # warm-up: the model is loaded, kernels compiled
    alone_rates, lockstep_rates = [], []
    for round_number in range(args.rounds):
        if round_number % 2:
            lockstep_rates.append(lockstep(scenarios, args.device, args.group_size))
            alone_rates.append(one_at_a_time(scenarios, args.device))
        else:
            alone_rates.append(one_at_a_time(scenarios, args.device))
            lockstep_rates.append(lockstep(scenarios, args.device, args.group_size))
        print(f"round {round_number + 1}: one at a time {alone_rates[-1]:.1f}/s, lockstep {lockstep_rates[-1]:.1f}/s, "
              f"ratio {lockstep_rates[-1] / alone_rates[-1]:.2f}")
    alone, grouped = statistics.median(alone_rates), statistics.median(lockstep_rates)
    ratios = [g / a for g, a in zip(lockstep_rates, alone_rates)]
    print(f"\n{args.scenarios} ml_planner simulations of 151 steps on {args.device}, medians of {args.rounds} rounds")
    print("| layout | simulations/s | x one at a time |\n| --- | --- | --- |")
    print(f"| one at a time (batch-one forward passes) | {alone:.1f} | 1.00 |")
    print(f"| lockstep groups of {args.group_size} (one forward pass per step) | {grouped:.1f} | "
          f"{statistics.median(ratios):.2f} |")
    print(f"\nlockstep / one at a time: median of the rounds {statistics.median(ratios):.2f}, rounds "
          f"{min(ratios):.2f}-{max(ratios):.2f} (target on CPU: >= 2 with groups of 16)")


if __name__ == "__main__":
    main()
