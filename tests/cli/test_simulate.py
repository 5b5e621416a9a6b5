"""`dask-runner simulate` and scripts/run_simulation.py as users run them: outputs, exit status, nuPlan's commands."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import QUICK, run_cli, run_script


def test_simulate_writes_every_output_with_relative_layout(workdir: Path) -> None:
    run = workdir / "run"
    result = run_cli(["simulate", *QUICK, "planner=[simple_planner,idm_planner]", f"output_dir={run}"], workdir)
    assert result.returncode == 0, result.stderr
    reports = pd.read_parquet(run / "runner_report.parquet")
    assert len(reports) == 4 and reports["succeeded"].all() and reports["runner_id"].is_unique
    assert set(reports["planner_name"]) == {"SimplePlanner", "IDMPlanner"}
    assert len(list((run / "reports").glob("*.json"))) == 4
    logs = sorted((run / "simulation_logs").rglob("*.msgpack.zst"))
    assert len(logs) == 4
    planner, _scenario_type, _log_name, scenario = logs[0].relative_to(run / "simulation_logs").parts
    assert planner in {"SimplePlanner", "IDMPlanner"} and scenario.endswith(".msgpack.zst")
    assert list((run / "metrics").rglob("*.parquet")) and list((run / "aggregator_metric").glob("*.parquet"))
    assert (run / "config.yaml").is_file() and (run / "report.html").is_file()
    assert list((run / "logs").glob("*.log"))
    # the summary table: per planner scenarios, succeeded, failed, mean score, mean runtime
    assert "mean_score" in result.stdout and "IDMPlanner" in result.stdout and "SimplePlanner" in result.stdout


@pytest.mark.slow
def test_failed_runners_make_the_exit_status_non_zero_unless_allowed(workdir: Path) -> None:
    args = ["simulate", *QUICK, "planner=idm_planner", "time_limit_s=0.0001", "run_metric=false", "callback=none"]
    failed = run_cli([*args, f"output_dir={workdir / 'a'}"], workdir)
    assert failed.returncode == 1
    assert "Failed [log, scenario]" in failed.stdout and "RunnerTimeoutError" in failed.stdout
    assert "allow_failures=true" in failed.stderr and "Traceback" not in failed.stderr
    reports = pd.read_parquet(workdir / "a" / "runner_report.parquet")
    assert (reports["error_stage"] == "timeout").all()
    assert "Traceback" in reports["error_message"].iloc[0]  # the full traceback is kept in the parquet
    assert "RunnerTimeoutError" in next((workdir / "a" / "logs").glob("*.log")).read_text()
    allowed = run_cli([*args, f"output_dir={workdir / 'b'}", "allow_failures=true"], workdir)
    assert allowed.returncode == 0


def test_exit_on_failure_stops_with_one_line(workdir: Path) -> None:
    result = run_cli(["simulate", *QUICK, "time_limit_s=0.0001", "exit_on_failure=true", "callback=none",
                      "run_metric=false", f"output_dir={workdir / 'run'}"], workdir)
    assert result.returncode == 1
    assert "exit_on_failure" in result.stderr and "Traceback" not in result.stderr
    assert len(pd.read_parquet(workdir / "run" / "runner_report.parquet")) == 1


def test_nuplan_quick_reference_sequential(workdir: Path) -> None:
    result = run_script("run_simulation.py", ["planner=simple_planner", "worker=sequential", "exit_on_failure=true",
                                              "scenario_filter.limit_total_scenarios=2"], workdir)
    assert result.returncode == 0, result.stderr
    (run,) = (workdir / "output" / "simulation").iterdir()  # nuPlan's output/<experiment>/<timestamp>
    assert len(pd.read_parquet(run / "runner_report.parquet")) == 2


@pytest.mark.slow
def test_nuplan_quick_reference_thread_pool(workdir: Path) -> None:
    result = run_script("run_simulation.py", ["worker=single_machine_thread_pool", "worker.max_workers=4",
                                              "scenario_filter.limit_total_scenarios=3", "show_progress=false"],
                        workdir)
    assert result.returncode == 0, result.stderr
    assert "IDMPlanner" in result.stdout


@pytest.mark.slow
def test_nuplan_quick_reference_ray_without_gpus(workdir: Path) -> None:
    from dask_runner.dask.clusters.cuda import gpu_count

    if gpu_count() > 0:
        pytest.skip("this machine has a GPU: the no-GPU error cannot happen here")
    common = ["planner=idm_planner", "worker=ray_distributed", "worker.threads_per_node=2",
              "scenario_filter.limit_total_scenarios=2", "show_progress=false"]
    no_gpu = run_script("run_simulation.py", [*common, "number_of_gpus_allocated_per_simulation=0.25",
                                              f"output_dir={workdir / 'gpu'}"], workdir)
    assert no_gpu.returncode == 2, no_gpu.stderr
    assert "GPU" in no_gpu.stderr and "Traceback" not in no_gpu.stderr
    assert not (workdir / "gpu").exists()  # checked before the output folder is touched
    cpu_only = run_script("run_simulation.py", [*common, "number_of_gpus_allocated_per_simulation=0",
                                                f"output_dir={workdir / 'cpu'}"], workdir)
    assert cpu_only.returncode == 0, cpu_only.stderr
    assert len(pd.read_parquet(workdir / "cpu" / "runner_report.parquet")) == 2


def test_cfg_prints_the_composed_config(workdir: Path) -> None:
    result = run_cli(["simulate", "--cfg", "planner=simple_planner", "worker=sequential"], workdir)
    assert result.returncode == 0
    assert "simple_planner:" in result.stdout and "Sequential" in result.stdout


@pytest.mark.slow
def test_default_simulate_on_a_local_dask_cluster(workdir: Path) -> None:
    """`make run` with a handful of scenarios: dask_local, IDM planner, metrics and logs on."""
    result = run_cli(["simulate", "scenario_filter.limit_total_scenarios=4", "worker.n_workers=2",
                      "worker.dashboard_address=127.0.0.1:0", f"output_dir={workdir / 'run'}"], workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Dask dashboard: http://127.0.0.1:" in result.stdout
    assert re.search(r"Simulations page: http://127\.0\.0\.1:\d+/individual-simulations", result.stdout)
    reports = pd.read_parquet(workdir / "run" / "runner_report.parquet")
    assert len(reports) == 4 and reports["succeeded"].all()
    assert reports["worker"].str.startswith("tls://127.0.0.1").all()  # ran on the Dask workers, over TLS
    assert len(list((workdir / "run" / "simulation_logs").rglob("*.msgpack.zst"))) == 4


@pytest.mark.slow
def test_worker_security_false_runs_on_plain_tcp_and_says_once_what_that_allows(workdir: Path) -> None:
    result = run_cli(["simulate", "scenario_filter.limit_total_scenarios=2", "worker.n_workers=1",
                      "worker.dashboard_address=null", "worker.security=false", "callback=none",
                      f"output_dir={workdir / 'run'}"], workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    log = (workdir / "run" / "logs" / "simulation.log").read_text()
    assert log.count("runs without TLS (security=false)") == 1 and "run any code on its workers as you" in log
    reports = pd.read_parquet(workdir / "run" / "runner_report.parquet")
    assert len(reports) == 2 and reports["worker"].str.startswith("tcp://127.0.0.1").all()
