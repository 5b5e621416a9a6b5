"""Driver memory stays flat however many runners wait: only a bounded number is ever in flight."""

from __future__ import annotations

import gc

import psutil
import pytest
from distributed import LocalCluster
from runners_for_tests import scripted

from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners


def rss_growth_mb(pool: DaskDistributed, count: int) -> float:
    runners = scripted(["ok"] * count)
    gc.collect()
    before = psutil.Process().memory_info().rss
    reports = execute_runners(runners, pool)
    assert len(reports) == count and all(r.succeeded for r in reports)
    del reports
    gc.collect()
    return (psutil.Process().memory_info().rss - before) / 2**20


@pytest.mark.slow
def test_memory_is_flat_with_20000_queued_runners() -> None:
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        DaskDistributed(cluster=cluster) as pool,
    ):
        rss_growth_mb(pool, 1000)  # warm up imports and caches
        small = rss_growth_mb(pool, 1000)
        large = rss_growth_mb(pool, 20_000)
    print(f"driver RSS growth: {small:.1f} MiB for 1,000 runners, {large:.1f} MiB for 20,000")
    # Everything in flight at once would cost hundreds of MiB (20,000 pickled runners, futures, task
    # states on the scheduler and the worker); bounded submission keeps it to a few dozen at most.
    assert large < 4 * small + 48


def test_a_group_task_keeps_no_runner_alive_once_it_has_run() -> None:
    """A runner that has run holds its whole history; the group task must not keep it for the group's lifetime."""
    import weakref

    from dask_runner.dask.tasks import GroupRunners, run_group
    from dask_runner.planners import IDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import generate_scenario

    scenarios = [generate_scenario("following_lane_with_lead", seed) for seed in (1, 2)]
    names = [scenario.scenario_name for scenario in scenarios]
    built = build_simulation_runners(scenarios, [IDMPlanner])
    alive = [weakref.ref(runner) for runner in built]
    task_argument = GroupRunners(list(built))
    del built
    outcomes = run_group(task_argument, None, "group")
    gc.collect()
    assert [o.report.succeeded for o in outcomes] == [True, True]
    assert [o.report.scenario_name for o in outcomes] == names
    assert [ref() for ref in alive] == [None, None]


def test_runners_that_leave_callback_work_go_few_to_a_task() -> None:
    """Their histories wait on the worker for their callback tasks, a whole group at a time: such groups stay
    small (``MAX_GROUP_SIZE_WITH_CALLBACKS``), while runners without callback work are grouped as before."""
    import re

    from distributed import get_task_stream

    from dask_runner.dask.batch import MAX_GROUP_SIZE_WITH_CALLBACKS

    def largest_group(behaviour: str) -> int:
        with get_task_stream(client=pool.client) as stream:
            reports = execute_runners(scripted([behaviour] * 200), pool)
        assert all(r.succeeded for r in reports)
        sizes = [int(m.group(1)) + 1 for t in stream.data if (m := re.search(r"-and_(\d+)_more-", str(t["key"])))]
        return max(sizes, default=1)

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        DaskDistributed(cluster=cluster) as pool,
    ):
        without_callbacks, with_callbacks = largest_group("ok"), largest_group("callback_ok")
    assert without_callbacks > MAX_GROUP_SIZE_WITH_CALLBACKS
    assert 1 < with_callbacks <= MAX_GROUP_SIZE_WITH_CALLBACKS
