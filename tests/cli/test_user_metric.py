"""A user's metric added on the command line runs on the Dask workers and lands in the metric outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from user_metrics import TravelledDistance, path_length

from dask_runner.scenarios.state import X, Y
from dask_runner.simulation.simulation_log import SimulationLog

HERE = Path(__file__).resolve().parent
NAME = TravelledDistance.name
MIN_DISTANCE_M = 120.0  # the six scenarios' IDM drives are 70 to 160 m long


@pytest.mark.slow
@pytest.mark.processes
def test_a_metric_named_by_target_on_the_command_line_is_computed_and_aggregated(workdir: Path) -> None:
    run = workdir / "run"
    args = ["simulate", "worker=dask_local", "worker.n_workers=2", "worker.dashboard_address=127.0.0.1:0",
            "scenario_filter.limit_total_scenarios=6", f"output_dir={run}", "show_progress=false",
            "html_report=false", f"+simulation_metric.travelled._target_={TravelledDistance.__module__}."
            f"{TravelledDistance.__name__}", f"+simulation_metric.travelled.min_distance_m={MIN_DISTANCE_M}"]
    result = run_cli(args, workdir, timeout=300, pythonpath=[HERE])  # where the user's package is
    assert result.returncode == 0, result.stderr

    # The per-runner metric files: one row of the user's metric each, with the distance the ego drove
    # (measured here from the simulation logs the same run wrote) and the score from the given threshold.
    rows = pd.concat([pd.read_parquet(p) for p in (run / "metrics").rglob("*.parquet")], ignore_index=True)
    ours = rows[rows["metric_name"] == NAME].set_index("scenario_name")
    assert len(ours) == 6 and ours.index.is_unique
    assert set(ours["category"]) == {"user"} and set(ours["unit"]) == {"m"}
    driven = {}
    for log_file in (run / "simulation_logs").rglob("*.msgpack.zst"):
        log = SimulationLog.load_data(log_file)
        driven[log.scenario.scenario_name] = path_length(log.simulation_history.ego_array()[:, [X, Y]])
    assert sorted(driven) == sorted(ours.index)
    assert ours["value"].to_dict() == pytest.approx(driven, rel=1e-9)
    assert ours["score"].to_dict() == {name: float(d >= MIN_DISTANCE_M) for name, d in driven.items()}
    assert set(ours["score"]) == {0.0, 1.0}, "the threshold should split the scenarios"
    # Not scoring (no weight, no multiplier): the closed-loop score is that of the built-in metrics.
    assert (ours["weight"] == 0).all() and (~ours["multiplier"].astype(bool)).all()

    # The aggregated scores: a column of the user's metric, its mean score per planner.
    table = pd.read_parquet(run / "aggregator_metric" / "closed_loop_scores.parquet")
    overall = table[table["scenario_type"] == "all"].set_index("planner_name")
    assert overall[NAME].to_dict() == pytest.approx({"IDMPlanner": ours["score"].mean()})
