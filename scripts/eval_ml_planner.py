"""Closed-loop scores per scenario type: planner=ml_planner against the IDM and simple planners.

On the held-out generated scenarios (``--scenarios``, default 64, seeds from 0: the training set starts at
seed 1000) and on the four NGSIM scenarios when they have been fetched (``make data``). Prints markdown
tables of the mean closed-loop score per scenario type, as the README gives them.

    python scripts/eval_ml_planner.py [--checkpoint FILE] [--scenarios 64]
"""

from __future__ import annotations

import argparse
import collections
import functools
from collections.abc import Callable, Sequence
from typing import Any

from dask_runner.metrics import build_metric_engine
from dask_runner.planners.idm_planner import IDMPlanner
from dask_runner.planners.ml.ml_planner import MLPlanner
from dask_runner.planners.simple_planner import SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios


def scores_by(planner: Callable[..., Any], scenarios: Sequence[AbstractScenario],
              key: Callable[[AbstractScenario], str]) -> dict[str, list[float]]:
    engine = build_metric_engine()
    scores: dict[str, list[float]] = collections.defaultdict(list)
    for runner in build_simulation_runners(list(scenarios), [planner]):
        report = runner.run()
        score = engine.compute(runner.scenario, runner.simulation.history, report.planner_name).closed_loop_score
        scores[key(runner.scenario)].append(score)
    return scores


def table(title: str, planners: dict[str, Callable[..., Any]], scenarios: Sequence[AbstractScenario],
          key: Callable[[AbstractScenario], str], column: str) -> None:
    results = {name: scores_by(factory, scenarios, key) for name, factory in planners.items()}
    types = list(next(iter(results.values())))
    print(f"\n{title}\n")
    print(f"| {column} | scenarios | " + " | ".join(planners) + " |")
    print("| --- | --- |" + " --- |" * len(planners))
    for scenario_type in types:
        cells = [f"{sum(r[scenario_type]) / len(r[scenario_type]):.3f}" for r in results.values()]
        print(f"| {scenario_type} | {len(results[next(iter(results))][scenario_type])} | " + " | ".join(cells) + " |")
    means = [sum(sum(v) for v in r.values()) / sum(len(v) for v in r.values()) for r in results.values()]
    print(f"| **all** | {len(scenarios)} | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint of the learned planner (default: the shipped one)")
    parser.add_argument("--scenarios", type=int, default=64, help="held-out generated scenarios (default 64)")
    args = parser.parse_args()
    planners: dict[str, Callable[..., Any]] = {
        "ml_planner": functools.partial(MLPlanner, checkpoint_path=args.checkpoint),
        "idm_planner": IDMPlanner,
        "simple_planner": SimplePlanner,
    }
    generated = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=args.scenarios), lazy=False)
    table(f"{len(generated)} held-out generated scenarios (seeds from 0), mean closed-loop score", planners, generated,
          lambda scenario: scenario.scenario_type, "scenario type")

    from dask_runner.errors import ScenarioError
    from dask_runner.scenarios.commonroad import load_commonroad_scenarios

    try:
        ngsim = load_commonroad_scenarios()
    except ScenarioError as exc:
        print(f"\nNGSIM scenarios skipped ({exc}); fetch them with `make data`")
        return
    table("The four NGSIM scenarios, closed-loop score", planners, ngsim,
          lambda scenario: f"{scenario.scenario_name} ({scenario.scenario_type})", "scenario")


if __name__ == "__main__":
    main()
