"""An output folder of a small real simulate run (sequential worker), shared by the report tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dask_runner.experiment.simulation_job import simulate


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two planners on three generated scenarios; IDMPlanner gets an impossible time limit so some runners fail."""
    root = tmp_path_factory.mktemp("report") / "run"
    simulate(
        ["planner=[simple_planner,log_future_planner]", "worker=sequential",
         "scenario_filter.limit_total_scenarios=3", f"output_dir={root}", "show_progress=false",
         "html_report=false"],
        out=io.StringIO(),
    )
    simulate(
        ["planner=idm_planner", "worker=sequential", "scenario_filter.limit_total_scenarios=3",
         f"output_dir={root}", "resume=true", "resume_allow_config_change=true", "time_limit_s=0.001",
         "show_progress=false", "html_report=false"],
        out=io.StringIO(),
    )
    return root
