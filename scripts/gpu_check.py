"""Simulations per second of the torch planner on this machine's GPUs, at 1.0 and at 0.25 GPU per simulation.

    python scripts/gpu_check.py --simulations 64

Each share gets its own dask-cuda cluster (one worker per GPU, threads for the share); the model is loaded
once per worker (per_worker) and a warm-up batch runs before the timed one.
"""

from __future__ import annotations

import argparse
import time


def measure(share: float, simulations: int) -> float:
    from dask_runner.clusters.cuda import start_cuda_cluster
    from dask_runner.planners.torch_planner import TorchIDMPlanner
    from dask_runner.runner.executor import execute_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario
    from dask_runner.simulation.builder import build_simulation_runners
    from dask_runner.workers.dask import DaskDistributed

    scenarios = [generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=i) for i in range(simulations)]
    with start_cuda_cluster(num_gpus_per_simulation=share, dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster) as pool:
        warmup = build_simulation_runners(scenarios[: max(1, len(cluster.workers))], [TorchIDMPlanner])
        execute_runners(warmup, pool, num_gpus=share)
        runners = build_simulation_runners(scenarios, [TorchIDMPlanner])
        start = time.perf_counter()
        reports = execute_runners(runners, pool, num_gpus=share)
        wall = time.perf_counter() - start
    failed = sum(not r.succeeded for r in reports)
    if failed:
        print(f"  {failed} of {len(reports)} simulations failed at share {share}")
    return len(reports) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulations", type=int, default=64, help="simulations per measurement")
    args = parser.parse_args()

    from dask_runner.clusters.cuda import gpu_count

    gpus = gpu_count()
    if gpus == 0:
        print("no GPU found; nothing to measure")
        return
    print(f"{gpus} GPU(s), {args.simulations} torch-planner simulations per measurement")
    rates = {share: measure(share, args.simulations) for share in (1.0, 0.25)}
    for share, rate in rates.items():
        print(f"  {share:>4} GPU per simulation: {rate:7.2f} simulations/s")
    print(f"  speed-up of 0.25 over 1.0: {rates[0.25] / rates[1.0]:.2f}x")


if __name__ == "__main__":
    main()
