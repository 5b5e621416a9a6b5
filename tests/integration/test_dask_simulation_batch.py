"""A real batch from the simulation substrate on DaskDistributed: generated scenarios, planners, logs."""

from __future__ import annotations

import functools
from pathlib import Path

from distributed import LocalCluster

from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners
from dask_runner.planners.simple_planner import SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.synthetic import generate_scenario
from dask_runner.simulation.callback.simulation_log_callback import SimulationLogCallback


def test_simulation_runners_and_their_log_callbacks_run_on_dask(tmp_path: Path) -> None:
    scenarios = [generate_scenario("following_lane_with_lead", seed) for seed in range(3)]
    runners = build_simulation_runners(
        scenarios, [SimplePlanner], [functools.partial(SimulationLogCallback, tmp_path)]
    )
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        DaskDistributed(cluster=cluster) as pool,
    ):
        reports = execute_runners(runners, pool)
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert all(r.succeeded for r in reports), [r.error_message for r in reports if not r.succeeded]
    assert {r.scenario_name for r in reports} == {s.scenario_name for s in scenarios}
    assert all(r.planner_report is not None and r.planner_report.compute_trajectory_runtimes for r in reports)
    # The deferred log writing ran as chained callback tasks: one log per runner exists.
    logs = list((tmp_path / "simulation_logs").rglob("*.msgpack*"))
    assert len(logs) == len(runners)
