"""The seed's GPU command with planner=ml_planner, through the real CLI: the no-GPU error, then share 0 runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.cli.cli_helpers import run_cli, run_script

SEED_COMMAND = ["planner=ml_planner", "worker=ray_distributed", "worker.threads_per_node=4"]
SMALL = ["scenario_filter.limit_total_scenarios=4", "show_progress=false"]


@pytest.mark.slow
def test_the_seeds_gpu_command_fails_fast_without_gpus_then_runs_at_share_zero(workdir: Path) -> None:
    from dask_runner.dask.clusters.cuda import gpu_count

    if gpu_count() > 0:
        pytest.skip("this machine has a GPU: the no-GPU error cannot happen here")
    no_gpu = run_script("run_simulation.py", [*SEED_COMMAND, "number_of_gpus_allocated_per_simulation=0.25", *SMALL,
                                              f"output_dir={workdir / 'gpu'}"], workdir)
    assert no_gpu.returncode == 2, no_gpu.stderr
    assert "no worker can ever run a task that needs {'GPU': 0.25}" in no_gpu.stderr
    assert "Traceback" not in no_gpu.stderr
    assert not (workdir / "gpu").exists()  # the share is checked against the workers before the folder is touched
    cpu = run_script("run_simulation.py", [*SEED_COMMAND, "number_of_gpus_allocated_per_simulation=0", *SMALL,
                                           f"output_dir={workdir / 'cpu'}"], workdir, timeout=600)
    assert cpu.returncode == 0, cpu.stderr
    reports = pd.read_parquet(workdir / "cpu" / "runner_report.parquet")
    assert len(reports) == 4 and reports["succeeded"].all() and set(reports["planner_name"]) == {"MLPlanner"}


def test_a_missing_checkpoint_fails_before_any_simulation(workdir: Path) -> None:
    result = run_cli(["simulate", "planner=ml_planner", "planner.ml_planner.checkpoint_path=nowhere.pt",
                      "worker=sequential", *SMALL, f"output_dir={workdir / 'out'}"], workdir)
    assert result.returncode == 2, result.stderr
    assert "nowhere.pt" in result.stderr and "does not exist" in result.stderr
    assert not (workdir / "out").exists()
