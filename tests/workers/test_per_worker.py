"""per_worker: one model load per worker process, shared by the simulations that run there."""

from __future__ import annotations

import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sync_helpers import threads_inside, wait_until

from dask_runner.per_worker import clear_per_worker, per_worker, per_worker_keys
from dask_runner.planners.abstract_planner import PlannerInitialization
from dask_runner.planners.idm_planner import IDMPlanner

LOADS: list[int] = []


class FakeModel:
    """Stands in for network weights: its load lasts until ``callers`` first calls are all inside per_worker.

    So the first calls overlap for certain (the other callers wait for this load), whatever the timing;
    if they never all arrive, the load fails after 30 s and says so.
    """

    def __init__(self, callers: int) -> None:
        LOADS.append(os.getpid())
        wait_until(lambda: threads_inside(per_worker) >= callers, 30,
                   f"{callers} concurrent first calls of per_worker in process {os.getpid()}")


def use_model(_: int, callers: int) -> tuple[int, int, int]:
    """What a planner step does: fetch the shared model; returns (pid, model identity, loads in this process)."""
    model = per_worker("test-model", functools.partial(FakeModel, callers))
    return os.getpid(), id(model), LOADS.count(os.getpid())


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_per_worker()
    LOADS.clear()


def test_concurrent_first_calls_load_once() -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(functools.partial(use_model, callers=8), range(8)))
    assert len(LOADS) == 1
    assert len({identity for _, identity, _ in results}) == 1
    assert per_worker_keys() == ["test-model"]


def test_different_keys_hold_different_objects_and_clear_reloads() -> None:
    a = per_worker("a", object)
    b = per_worker("b", object)
    assert a is not b
    assert per_worker("a", object) is a
    clear_per_worker("a")
    assert per_worker("a", object) is not a
    assert per_worker("b", object) is b


def test_failed_factory_is_not_cached() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("weights not downloaded yet")
        return "model"

    with pytest.raises(RuntimeError, match="weights"):
        per_worker("flaky", flaky)
    assert per_worker("flaky", flaky) == "model"
    assert len(calls) == 2


def test_slow_load_of_one_key_does_not_block_another() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)  # loading until the test lets it finish (or 10 s, if "fast" wrongly waits for it)
        return "slow"

    with ThreadPoolExecutor(max_workers=2) as pool:
        slow_future = pool.submit(per_worker, "slow", slow)
        assert started.wait(5)
        t0 = time.perf_counter()
        try:
            assert per_worker("fast", lambda: "fast") == "fast"
            assert time.perf_counter() - t0 < 0.5
            assert not slow_future.done()  # "fast" was served while "slow" was still loading
        finally:
            release.set()
        assert slow_future.result() == "slow"


@pytest.mark.processes
def test_one_load_per_dask_worker_process_with_four_concurrent_tasks() -> None:
    from distributed import Client

    from dask_runner.dask.clusters.local import start_local_cluster

    with start_local_cluster(n_workers=1, threads_per_worker=4, processes=True,
                             dashboard_address="127.0.0.1:0", memory_limit=None) as cluster, Client(cluster) as client:
        futures = client.map(use_model, range(4), callers=4, pure=False)
        results = client.gather(futures)
    pids = {pid for pid, _, _ in results}
    assert pids != {os.getpid()}, "tasks should run in the worker process"
    assert len(pids) == 1
    assert len({identity for _, identity, _ in results}) == 1
    assert [loads for _, _, loads in results] == [1, 1, 1, 1]
    assert LOADS == []  # nothing was loaded in the driver


class ModelPlanner(IDMPlanner):
    """An IDM planner that loads a shared model in initialize(), as an ML planner would."""

    def name(self) -> str:
        return "ModelPlanner"

    def initialize(self, initialization: PlannerInitialization) -> None:
        super().initialize(initialization)
        self.model = per_worker("planner-model", functools.partial(FakeModel, 4))


def loads_in_this_process() -> tuple[int, list[str]]:
    return LOADS.count(os.getpid()), per_worker_keys()


@pytest.mark.processes
def test_planner_model_loads_once_for_four_concurrent_simulations_on_one_worker() -> None:
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.execution.executor import execute_runners
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    scenarios = [generate_scenario(SCENARIO_TYPES[i], seed=i) for i in range(4)]
    runners = build_simulation_runners(scenarios, [ModelPlanner])
    with DaskDistributed(n_workers=1, threads_per_worker=4, dashboard_address="127.0.0.1:0", memory_limit=None,
                         max_group_size=1) as pool:
        reports = execute_runners(runners, pool)
        worker_state = list(pool.client.run(loads_in_this_process).values())
    assert [r.succeeded for r in reports] == [True] * 4, [r.error_message for r in reports]
    assert len({r.worker for r in reports}) == 1
    # The four simulations overlapped (they all waited on the one load) ...
    assert max(r.start_time for r in reports) < min(r.end_time for r in reports)
    # ... and the worker process loaded the model exactly once.
    assert worker_state == [(1, ["planner-model"])]
    assert LOADS == []
