"""The three nuPlan challenges' scores side by side for the built-in planners, on the same generated scenarios.

Runs ``dask-runner simulate +simulation=<challenge> planner=<planner>`` (through its Python twin) for each
challenge and planner on the same scenarios, and prints the mean score per planner and challenge as a
Markdown table, then the closed-loop metrics that differ between non-reactive and reactive agents.
Run: ``python scripts/challenge_scores.py [--scenarios 64] [--worker dask_local]``.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

CHALLENGES = ("open_loop_boxes", "closed_loop_nonreactive_agents", "closed_loop_reactive_agents")
PLANNERS = ("log_future_planner", "idm_planner", "simple_planner")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=64, help="generated scenarios (mixed types)")
    parser.add_argument("--worker", default="dask_local", help="worker pool (any worker= option)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scenario generator")
    args = parser.parse_args()

    import pandas as pd

    from dask_runner.experiment.simulation_job import simulate
    from dask_runner.metrics import aggregate_metrics

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for challenge in CHALLENGES:
            for planner in PLANNERS:
                out = Path(tmp) / f"{challenge}-{planner}"
                simulate([f"+simulation={challenge}", f"planner={planner}", f"worker={args.worker}",
                          f"scenario_filter.limit_total_scenarios={args.scenarios}", f"seed={args.seed}",
                          "callback=none", "html_report=false", "show_progress=false", f"output_dir={out}"],
                         out=io.StringIO())
                metrics = aggregate_metrics(out / "metrics")
                rows.append(metrics.assign(challenge=challenge))
    table = pd.concat(rows, ignore_index=True)
    scores = table[table["category"] == "score"].pivot_table(
        index="planner_name", columns="challenge", values="score", aggfunc="mean")[list(CHALLENGES)]
    print(f"Mean score over {args.scenarios} generated scenarios (seed {args.seed}):\n")
    print("| planner | " + " | ".join(CHALLENGES) + " |")
    print("|---" * (len(CHALLENGES) + 1) + "|")
    for planner, row in scores.iterrows():
        print(f"| {planner} | " + " | ".join(f"{row[c]:.3f}" for c in CHALLENGES) + " |")

    closed = table[table["challenge"] != "open_loop_boxes"]
    closed = closed[closed["category"] != "score"].pivot_table(
        index=["planner_name", "metric_name"], columns="challenge", values="score", aggfunc="mean")
    closed["reactive - non-reactive"] = closed["closed_loop_reactive_agents"] - closed["closed_loop_nonreactive_agents"]
    changed = closed[closed["reactive - non-reactive"].abs() > 1e-9]
    print("\nMean metric scores that differ between non-reactive and reactive agents:\n")
    print(changed.round(3).to_string())


if __name__ == "__main__":  # worker processes may import this file: run only as a script
    main()
