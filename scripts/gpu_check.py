"""Simulations per second of the torch planner on this machine's GPUs, at 1.0 and at 0.25 GPU per simulation.

    python scripts/gpu_check.py --simulations 96

Three layouts, each on its own dask-cuda cluster: 1.0 GPU per simulation (one worker per GPU, one
thread); 0.25 as four threads of one worker per GPU (one model per GPU, the issue's layout); 0.25 as
four worker processes per GPU (``workers_per_gpu=4``, one model per process). The model is loaded once
per worker (per_worker) and a warm-up batch runs before the timed one. It also prints the share of a
simulation step spent in the network's forward pass, which says how much a GPU share can overlap.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

LAYOUTS = (  # (label, GPU per simulation, worker processes per GPU)
    ("1.0 GPU, 1 worker/GPU x 1 thread", 1.0, 1),
    ("0.25 GPU, 1 worker/GPU x 4 threads", 0.25, 1),
    ("0.25 GPU, 4 workers/GPU x 1 thread", 0.25, 4),
)


def forward_share() -> dict[str, float]:
    """Time of the planner's forward passes against its whole simulation, on one worker (in-process)."""
    import torch

    from dask_runner.planners.torch_planner import TorchIDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    spent = 0.0

    class TimedPlanner(TorchIDMPlanner):
        def speed_factor(self, features: Any) -> float:
            nonlocal spent
            start = time.perf_counter()
            try:
                return super().speed_factor(features)
            finally:
                spent += time.perf_counter() - start

    scenarios = [generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=1000 + i) for i in range(8)]
    build_simulation_runners(scenarios[:1], [TimedPlanner])[0].run()  # warm-up: CUDA context, kernels
    spent = 0.0
    start = time.perf_counter()
    for runner in build_simulation_runners(scenarios, [TimedPlanner]):
        runner.run()
    total = time.perf_counter() - start
    torch.cuda.synchronize()
    return {"simulation_ms": 1000 * total / len(scenarios), "forward_share": spent / total}


def measure(share: float, workers_per_gpu: int, simulations: int) -> float:
    from dask_runner.dask.clusters.cuda import start_cuda_cluster
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners
    from dask_runner.planners.torch_planner import TorchIDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    scenarios = [generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=i) for i in range(simulations)]
    with start_cuda_cluster(num_gpus_per_simulation=share, workers_per_gpu=workers_per_gpu,
                            dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster) as pool:
        warmup = build_simulation_runners(scenarios[: 4 * len(cluster.workers)], [TorchIDMPlanner])
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
    parser.add_argument("--simulations", type=int, default=96, help="simulations per measurement")
    args = parser.parse_args()

    from dask_runner.dask.clusters.cuda import gpu_count

    gpus = gpu_count()
    if gpus == 0:
        print("no GPU found; nothing to measure")
        return
    print(f"{gpus} GPU(s), {args.simulations} torch-planner simulations per measurement")
    step = forward_share()
    print(f"  one simulation in-process: {step['simulation_ms']:.1f} ms, "
          f"{100 * step['forward_share']:.0f}% of it in the network's forward passes")
    rates: dict[str, float] = {}
    for label, share, workers_per_gpu in LAYOUTS:
        try:
            rates[label] = measure(share, workers_per_gpu, args.simulations)
        except Exception as exc:  # noqa: BLE001 - report the layout that failed, measure the others
            print(f"  {label}: failed ({type(exc).__name__}: {exc})")
    baseline = rates.get(LAYOUTS[0][0])
    for label, rate in rates.items():
        ratio = f"  {rate / baseline:.2f}x the 1.0 layout" if baseline else ""
        print(f"  {label:<36} {rate:7.2f} simulations/s{ratio}")


if __name__ == "__main__":
    main()
