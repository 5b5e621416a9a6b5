"""A torch planner on a dask-cuda cluster at 0.25 GPU per simulation: all succeed, four share each GPU
(as four threads of one worker, or as four worker processes)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu

torch = pytest.importorskip("torch", reason="torch is not installed: no GPU planner can run here")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU is available to torch on this machine", allow_module_level=True)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of [start, end) intervals that contain one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = best = 0
    for _, change in events:
        running += change
        best = max(best, running)
    return best


def loaded_models() -> list[str]:
    from dask_runner.per_worker import per_worker_keys

    return per_worker_keys()


def test_torch_planner_shares_each_gpu_four_ways() -> None:
    from dask_runner.dask.clusters.cuda import gpu_count, start_cuda_cluster
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners
    from dask_runner.planners.torch_planner import TorchIDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    gpus = gpu_count()
    scenarios = [generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=i) for i in range(16 * gpus)]
    runners = build_simulation_runners(scenarios, [TorchIDMPlanner])
    with start_cuda_cluster(num_gpus_per_simulation=0.25, dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster, max_group_size=1) as pool:
        assert pool.config.number_of_gpus_per_node == gpus
        reports = execute_runners(runners, pool, num_gpus=0.25)
        models = pool.client.run(loaded_models)

    assert [r.succeeded for r in reports] == [True] * len(runners), [r.error_message for r in reports if not r.succeeded]
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for report in reports:
        by_worker.setdefault(str(report.worker), []).append((report.start_time, report.end_time))
    assert max(max_overlap(spans) for spans in by_worker.values()) == 4
    assert all(max_overlap(spans) <= 4 for spans in by_worker.values())
    # One network per GPU worker, on the GPU, shared by its simulations.
    assert all(sum(":cuda" in key for key in keys) == 1 for keys in models.values()), models


def test_four_worker_processes_per_gpu_each_run_one_simulation_at_a_time() -> None:
    from dask_runner.dask.clusters.cuda import gpu_count, start_cuda_cluster
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners
    from dask_runner.planners.torch_planner import TorchIDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    gpus = gpu_count()
    scenarios = [generate_scenario(SCENARIO_TYPES[i % len(SCENARIO_TYPES)], seed=i) for i in range(16 * gpus)]
    runners = build_simulation_runners(scenarios, [TorchIDMPlanner])
    with start_cuda_cluster(num_gpus_per_simulation=0.25, workers_per_gpu=4,
                            dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster, max_group_size=1) as pool:
        assert len(cluster.workers) == 4 * gpus
        assert pool.config.number_of_gpus_per_node == gpus  # four quarters make one GPU
        reports = execute_runners(runners, pool, num_gpus=0.25)
        models = pool.client.run(loaded_models)

    assert [r.succeeded for r in reports] == [True] * len(runners), [r.error_message for r in reports if not r.succeeded]
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for report in reports:
        by_worker.setdefault(str(report.worker), []).append((report.start_time, report.end_time))
    assert len(by_worker) == 4 * gpus  # every process took simulations
    assert all(max_overlap(spans) == 1 for spans in by_worker.values())
    # Each process holds its own copy of the network, on the GPU.
    assert len(models) == 4 * gpus
    assert all(sum(":cuda" in key for key in keys) == 1 for keys in models.values()), models
