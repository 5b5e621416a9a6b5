"""CPU time of the metrics per scenario, on generated scenarios driven by the IDM planner.

Prints milliseconds of CPU per scenario for all built-in metrics (and per metric), plus the cost of
writing one runner's metric parquet and simulation log. Run: ``python scripts/bench_metrics.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="scenarios per scenario type")
    parser.add_argument("--repeats", type=int, default=10, help="metric computations per scenario")
    args = parser.parse_args()

    from dask_runner.metrics import MetricContext, build_metric_engine
    from dask_runner.metrics.metric_file import save_metric_result
    from dask_runner.planners.idm_planner import IDMPlanner
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario
    from dask_runner.simulation.simulation_log import SimulationLog

    engine = build_metric_engine()
    scenarios = [generate_scenario(t, s) for t in SCENARIO_TYPES for s in range(args.seeds)]
    from dask_runner.runner.simulation_builder import build_simulation_runners

    runs = []
    for runner in build_simulation_runners(scenarios, [IDMPlanner]):
        runner.run()
        runs.append((runner.scenario, runner.simulation.history))

    start = time.process_time()
    for scenario, history in runs:
        for _ in range(args.repeats):
            engine.compute(scenario, history, "IDMPlanner")
    total_ms = (time.process_time() - start) / (len(runs) * args.repeats) * 1e3
    agents = sum(len(s.observation) for _, h in runs for s in h.samples) / sum(len(h) for _, h in runs)
    steps = sum(len(h) for _, h in runs) / len(runs)
    print(f"all metrics: {total_ms:.2f} ms CPU per scenario ({len(runs)} scenarios, "
          f"{steps:.0f} steps, {agents:.1f} agents per step on average)")

    for metric in engine.metrics:
        start = time.process_time()
        for scenario, history in runs:
            metric.compute(MetricContext(scenario, history))
        ms = (time.process_time() - start) / len(runs) * 1e3
        print(f"  {metric.name:<34} {ms:6.2f} ms alone (context geometry included)")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        for scenario, history in runs:
            save_metric_result(engine.compute(scenario, history, "IDMPlanner"), Path(tmp) / "metrics")
        print(f"metrics + parquet write: {(time.process_time() - start) / len(runs) * 1e3:.2f} ms CPU per runner")
        for suffix in (".msgpack.zst", ".msgpack.xz", ".pkl.xz"):  # today's, format version 1, pickle
            start = time.process_time()
            sizes = []
            for i, (scenario, history) in enumerate(runs):
                path = SimulationLog(Path(tmp) / f"log{i}{suffix}", scenario, "IDMPlanner", history).save_to_file()
                sizes.append(path.stat().st_size)
            write_ms = (time.process_time() - start) / len(runs) * 1e3
            start = time.process_time()
            for i in range(len(runs)):
                SimulationLog.load_data(Path(tmp) / f"log{i}{suffix}")
            read_ms = (time.process_time() - start) / len(runs) * 1e3
            print(f"simulation log {suffix:<12} write {write_ms:6.2f} ms, read {read_ms:6.2f} ms CPU, "
                  f"{sum(sizes) / len(sizes) / 1024:.0f} KiB per log")


if __name__ == "__main__":
    main()
