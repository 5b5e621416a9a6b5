"""DaskDistributed on in-process clusters: the pool contract, resources, batches, failures, grouping."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster
from pool_contract import check_pool_contract, square
from runners_for_tests import ScriptedRunner, scripted

from dask_runner.dask.batch import simulation_key
from dask_runner.dask.pool import DaskDistributed
from dask_runner.errors import ConfigError, ResourceUnavailableError, SimulationFailedError
from dask_runner.execution.executor import execute_runners
from dask_runner.execution.worker_pool import Task
from dask_runner.runner.report import RunnerReport


def in_process_cluster(threads: int, resources: dict[str, float] | None = None) -> LocalCluster:
    return LocalCluster(n_workers=1, threads_per_worker=threads, processes=False, dashboard_address="127.0.0.1:0",
                        resources=resources)


@pytest.fixture(scope="module")
def pool() -> Iterator[DaskDistributed]:
    with in_process_cluster(4, {"CPU": 4}) as cluster, DaskDistributed(cluster=cluster) as dask_pool:
        yield dask_pool


def test_pool_contract(pool: DaskDistributed) -> None:
    check_pool_contract(pool)


def test_config_reflects_the_live_cluster(pool: DaskDistributed) -> None:
    assert pool.config.number_of_nodes == 1
    assert pool.config.number_of_cpus_per_node == 4
    assert pool.config.number_of_gpus_per_node == 0
    assert pool.number_of_threads == 4
    assert pool.dashboard_link is not None and pool.dashboard_link.endswith("/status")


def test_bad_constructor_arguments_fail_at_once_with_a_correct_call(pool: DaskDistributed) -> None:
    with pytest.raises(ConfigError, match="at most one of") as info:
        DaskDistributed(address="tcp://127.0.0.1:1", client=pool.client)
    assert "DaskDistributed(" in str(info.value)
    with pytest.raises(ConfigError, match="n_workers"):
        DaskDistributed(client=pool.client, n_workers=3)
    with pytest.raises(ConfigError, match="max_worker_deaths"):
        DaskDistributed(client=pool.client, max_worker_deaths=0)
    with pytest.raises(ConfigError, match="cluster="):
        DaskDistributed(cluster="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="keeps its own"):
        DaskDistributed(client=pool.client, security=False)
    with pytest.raises(ConfigError, match="security must be true"):
        DaskDistributed(security="tls")


def test_a_pool_on_a_given_client_leaves_it_open(pool: DaskDistributed) -> None:
    with DaskDistributed(client=pool.client) as borrowed:
        assert borrowed.map(Task(square), [1, 2, 3]) == [1, 4, 9]
    borrowed.shutdown()  # twice is harmless
    assert pool.client.status == "running"
    assert pool.map(Task(square), [4]) == [16]


def test_unsatisfiable_gpu_request_fails_fast_and_says_how_to_fix(pool: DaskDistributed) -> None:
    started = time.monotonic()
    with pytest.raises(ResourceUnavailableError) as info:
        execute_runners(scripted(["ok"] * 3), pool, num_gpus=0.25)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "'GPU': 0.25" in message and "dask_cuda" in message
    assert "number_of_gpus_allocated_per_simulation=0" in message
    with pytest.raises(ResourceUnavailableError, match="GPU"):
        pool.submit(Task(square, num_gpus=1), 3)


def test_more_cpus_than_any_worker_has_fails_fast(pool: DaskDistributed) -> None:
    with pytest.raises(ResourceUnavailableError, match="'CPU': 8.0"):
        execute_runners(scripted(["ok"]), pool, num_cpus=8)
    reports = execute_runners(scripted(["ok"] * 4, seconds=0.01), pool, num_cpus=2)
    assert all(r.succeeded for r in reports)


def test_cpus_on_workers_without_a_cpu_resource_name_the_worker_flag() -> None:
    with in_process_cluster(2) as cluster, DaskDistributed(cluster=cluster) as plain:
        assert plain.map(Task(square, num_cpus=1), [3]) == [9]
        with pytest.raises(ResourceUnavailableError, match="--resources CPU=n"):
            plain.submit(Task(square, num_cpus=2), 3)


def test_mixed_batch_gives_one_report_per_runner_in_input_order(pool: DaskDistributed) -> None:
    behaviours = ["ok", "fail", "callback_fail", "callback_ok", "ok"] * 6
    runners = scripted(behaviours)
    seen: list[RunnerReport] = []
    reports = execute_runners(runners, pool, on_report=seen.append)
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert sorted(r.runner_id for r in seen) == sorted(r.runner_id for r in runners)  # once each
    stages = {"ok": None, "fail": "simulation", "callback_fail": "callback", "callback_ok": None}
    for behaviour, report in zip(behaviours, reports):
        assert report.error_stage == stages[behaviour]
        assert report.succeeded == (stages[behaviour] is None)
        assert report.end_time is not None and report.end_time >= report.start_time
    assert "planner exploded in r00001" in (reports[1].error_message or "")
    assert "metric engine broke for r00002" in (reports[2].error_message or "")
    assert reports[0].worker is not None and reports[0].worker.startswith("inproc://")


def test_exit_on_failure_raises_with_the_cause_and_keeps_final_reports(pool: DaskDistributed) -> None:
    seen: list[RunnerReport] = []
    runners = scripted(["ok"] * 5 + ["fail"] + ["ok"] * 30, seconds=0.01)
    with pytest.raises(SimulationFailedError) as info:
        execute_runners(runners, pool, exit_on_failure=True, on_report=seen.append)
    assert isinstance(info.value.__cause__, ValueError)
    assert "r00005" in str(info.value)
    assert len(seen) < len(runners)
    assert len({r.runner_id for r in seen}) == len(seen)
    # The cluster is still usable: nothing of the stopped batch is left running.
    assert all(r.succeeded for r in execute_runners(scripted(["ok"] * 3), pool))


def test_gpu_shares_limit_concurrency_on_one_gpu_worker() -> None:
    with in_process_cluster(8, {"GPU": 1}) as cluster, DaskDistributed(cluster=cluster) as gpu_pool:
        assert gpu_pool.config.number_of_gpus_per_node == 1
        reports = execute_runners(scripted(["ok"] * 12, seconds=0.3), gpu_pool, num_gpus=0.25)
    assert all(r.succeeded for r in reports)
    events = sorted([(r.start_time, 1) for r in reports] + [(r.end_time or 0.0, -1) for r in reports],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 2 <= peak <= 4


def test_keys_are_readable_and_safe() -> None:
    key = simulation_key(ScriptedRunner("abc-1", planner="my planner (v2)"), "abc-1", 1)
    assert re.fullmatch(r"simulate-my_planner_v2_-scenario_abc_1-abc_1-[0-9a-f]{8}", key), key
    assert simulation_key(ScriptedRunner("x"), "x", 5).split("-")[4] == "and_4_more"


def test_many_short_runners_are_grouped(pool: DaskDistributed) -> None:
    runners = scripted(["ok"] * 2000)
    started = time.perf_counter()
    reports = execute_runners(runners, pool)
    per_runner_ms = (time.perf_counter() - started) / len(runners) * 1e3
    print(f"2000 no-op runners: {per_runner_ms:.3f} ms per runner")
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert all(r.succeeded for r in reports)
    assert per_runner_ms < 2.0  # raw Dask costs about 2 ms per task here; grouping must beat it


def test_a_pool_on_a_users_client_runs_tasks() -> None:
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as c,
        Client(c) as client,
        DaskDistributed(client=client) as p,
    ):
        assert p.submit(Task(square), 7).result(timeout=30) == 49


@pytest.mark.processes
def test_clusters_we_start_leave_the_worker_profiler_off_unless_asked() -> None:
    import dask

    def profiling() -> bool:
        return bool(dask.config.get("distributed.worker.profile.enabled"))

    for asked in (False, True):
        with DaskDistributed(n_workers=1, threads_per_worker=1, dashboard_address=None,
                             worker_profiling=asked) as pool:
            assert set(pool.client.run(profiling).values()) == {asked}
