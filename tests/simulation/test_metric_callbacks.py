"""The metric, simulation-log and timing callbacks on real simulations, and MetricRunner on their logs."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import pandas as pd
import pytest
from test_simulation_log import straight_scenario

from dask_runner.errors import ConfigError, SimulationLogError
from dask_runner.metrics import METRIC_COLUMNS, build_metric_engine
from dask_runner.metrics.metric_aggregation import aggregate_metrics, save_aggregates
from dask_runner.planners.idm_planner import IDMPlanner
from dask_runner.planners.log_future_planner import LogFuturePlanner
from dask_runner.runner.metric_runner import MetricRunner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.simulation.callback.abstract_callback import collect_callback_work
from dask_runner.simulation.callback.metric_callback import MetricCallback
from dask_runner.simulation.callback.simulation_log_callback import SimulationLogCallback
from dask_runner.simulation.callback.timing_callback import TimingCallback
from dask_runner.simulation.simulation_log import SimulationLog


def run_batch(tmp_path: Path, planners: list[object], observation: str = "tracks") -> list[object]:
    engine = build_metric_engine()
    runners = build_simulation_runners(
        [straight_scenario()],
        planners,  # type: ignore[arg-type]
        [
            functools.partial(MetricCallback, engine, tmp_path / "metrics"),
            functools.partial(SimulationLogCallback, tmp_path),
            functools.partial(TimingCallback, tmp_path),
        ],
        observation=observation,  # type: ignore[arg-type]
    )
    return [runner.run() for runner in runners]


def test_callbacks_write_metrics_logs_and_timings(tmp_path: Path) -> None:
    reports = run_batch(tmp_path, [LogFuturePlanner, IDMPlanner])
    assert all(r.succeeded for r in reports)  # type: ignore[attr-defined]
    rows = aggregate_metrics(tmp_path / "metrics")
    assert list(rows.columns) == list(METRIC_COLUMNS)
    assert set(rows["planner_name"]) == {"LogFuturePlanner", "IDMPlanner"}
    replay = rows[(rows.planner_name == "LogFuturePlanner") & (rows.metric_name == "closed_loop_score")]
    assert replay["score"].item() >= 0.95
    logs = sorted((tmp_path / "simulation_logs").rglob("*.msgpack.zst"))
    assert [p.relative_to(tmp_path / "simulation_logs").parts[:3] for p in logs] == [
        ("IDMPlanner", "following", "log_a"), ("LogFuturePlanner", "following", "log_a")]
    timings = pd.concat(pd.read_parquet(p) for p in (tmp_path / "timings").rglob("*.parquet"))
    assert len(timings) == 2 * 150
    assert (timings["step_time_s"] >= timings["planner_time_s"]).all()
    assert (timings["planner_time_s"] > 0).all()

    table = pd.read_parquet(save_aggregates(tmp_path / "metrics", tmp_path))
    everything = table[table.scenario_type == "all"].set_index("planner_name")
    assert everything.loc["LogFuturePlanner", "num_scenarios"] == 1
    assert everything.loc["LogFuturePlanner", "closed_loop_score"] == pytest.approx(replay["score"].item())


# Log replay agents (their observations stored as a marker) and reactive IDM agents (stored in full).
@pytest.mark.parametrize("observation", ["tracks", "idm_agents"])
def test_metric_runner_on_a_saved_log_reproduces_the_live_metrics(tmp_path: Path, observation: str) -> None:
    run_batch(tmp_path, [IDMPlanner], observation)
    live = aggregate_metrics(tmp_path / "metrics")
    log_path = next((tmp_path / "simulation_logs").rglob("*.msgpack.zst"))
    runner = MetricRunner(log_path, MetricCallback(build_metric_engine(), tmp_path / "recomputed"), runner_id="r1")
    assert runner.planner.name() == "IDMPlanner"
    assert runner.scenario.scenario_name == "straight_1"  # from the path, before the file is read
    runner = pickle.loads(pickle.dumps(runner))
    report = runner.run()
    assert report.succeeded and report.planner_report is None and report.runner_id == "r1"
    assert report.planner_name == "IDMPlanner" and report.scenario_name == "straight/1"
    again = aggregate_metrics(tmp_path / "recomputed")
    # Every row exactly (scores, values, names), only the runner's id differs.
    pd.testing.assert_frame_equal(live.drop(columns="runner_id"), again.drop(columns="runner_id"))


def test_metric_runner_on_a_corrupt_log_raises_naming_the_file(tmp_path: Path) -> None:
    run_batch(tmp_path, [IDMPlanner])
    log_path = next((tmp_path / "simulation_logs").rglob("*.msgpack.zst"))
    log_path.write_bytes(log_path.read_bytes()[:100])
    runner = MetricRunner(log_path, MetricCallback(build_metric_engine(), tmp_path / "recomputed"))
    with pytest.raises(SimulationLogError, match=log_path.name):
        runner.run()


def test_metric_runner_accepts_a_loaded_log(tmp_path: Path) -> None:
    run_batch(tmp_path, [IDMPlanner])
    log = SimulationLog.load_data(next((tmp_path / "simulation_logs").rglob("*.msgpack.zst")))
    result_dir = tmp_path / "from_loaded"
    report = MetricRunner(log, MetricCallback(build_metric_engine(), result_dir)).run()
    assert report.succeeded and report.log_name == "log a"
    assert len(list(result_dir.rglob("*.parquet"))) == 1


def test_callback_work_is_deferred_and_picklable(tmp_path: Path) -> None:
    engine = build_metric_engine()
    (runner,) = build_simulation_runners(
        [straight_scenario()], [IDMPlanner],
        [functools.partial(MetricCallback, engine, tmp_path / "m"), functools.partial(SimulationLogCallback, tmp_path),
         functools.partial(TimingCallback, tmp_path)],
    )
    with collect_callback_work() as work:
        runner.run()
    assert [w.name for w in work] == ["metrics", "simulation_log", "timings"]
    assert not (tmp_path / "m").exists()  # nothing ran yet
    for item in work:
        pickle.loads(pickle.dumps(item)).run()  # as an executor would, in another process
    assert len(list((tmp_path / "m").rglob("*.parquet"))) == 1
    assert len(list((tmp_path / "simulation_logs").rglob("*.msgpack.zst"))) == 1


def test_a_bad_serialization_type_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="msgpack"):
        SimulationLogCallback(tmp_path, serialization_type="json")
