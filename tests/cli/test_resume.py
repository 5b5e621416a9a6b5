"""Streamed reports survive a SIGKILL of the driver; resume=true runs only what is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import cli_env, run_cli
from sync_helpers import wait_until

TOTAL = 12


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_runs_only_the_rest(workdir: Path) -> None:
    run = workdir / "run"
    args = ["simulate", "worker=sequential", "planner=idm_planner", f"scenario_filter.limit_total_scenarios={TOTAL}",
            f"output_dir={run}", "show_progress=false", "max_report_scenario_plots=2"]
    driver = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", *args], cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env())
    try:
        def three_reports_or_exit() -> bool:
            return driver.poll() is not None or len(list((run / "reports").glob("*.json"))) >= 3

        wait_until(three_reports_or_exit, 120, "3 reports streamed to disk")
        assert driver.poll() is None, "the run finished before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    assert driver.returncode == -signal.SIGKILL
    before = {p.name: p.read_text() for p in (run / "reports").glob("*.json")}
    assert 3 <= len(before) < TOTAL
    assert not (run / "runner_report.parquet").exists()  # consolidation never happened: the driver was killed

    again = run_cli([a for a in args if not a.startswith("output_dir")] + [f"output_dir={run}", "resume=true"],
                    workdir)
    assert again.returncode == 0, again.stderr
    reports = pd.read_parquet(run / "runner_report.parquet")
    assert len(reports) == TOTAL and reports["runner_id"].is_unique and reports["succeeded"].all()
    # the runners reported before the kill were not run again: their files are untouched
    assert {name: (run / "reports" / name).read_text() for name in before} == before
    assert "mean_score" in again.stdout

    third = run_cli([a for a in args if not a.startswith("output_dir")] + [f"output_dir={run}", "resume=true"],
                    workdir)
    assert third.returncode == 0 and "nothing to run" in third.stdout
    assert len(pd.read_parquet(run / "runner_report.parquet")) == TOTAL


def test_resume_with_settings_that_change_results_is_refused_unless_asked(workdir: Path) -> None:
    run = workdir / "run"
    common = ["simulate", "worker=sequential", "scenario_filter.limit_total_scenarios=2", "show_progress=false",
              "html_report=false", f"output_dir={run}"]
    first = run_cli([*common, "planner=idm_planner", "scenario_filter.limit_total_scenarios=1"], workdir)
    assert first.returncode == 0, first.stderr
    original = (run / "config.yaml").read_text()

    changed = run_cli([*common, "planner=simple_planner", "resume=true"], workdir)
    assert changed.returncode == 2, changed.stderr
    assert "another configuration" in changed.stderr and "planner.idm_planner" in changed.stderr
    assert "planner.simple_planner" in changed.stderr and "resume_allow_config_change=true" in changed.stderr
    assert len(list((run / "reports").glob("*.json"))) == 1 and (run / "config.yaml").read_text() == original

    # Settings that do not change results (the worker, the progress bar) resume without a word.
    same = run_cli([*common, "planner=idm_planner", "resume=true", "worker=single_machine_thread_pool"], workdir)
    assert same.returncode == 0, same.stderr
    assert len(list((run / "reports").glob("*.json"))) == 2

    mixed = run_cli([*common, "planner=simple_planner", "resume=true", "resume_allow_config_change=true"], workdir)
    assert mixed.returncode == 0, mixed.stderr
    assert (run / "config.yaml").read_text() == original  # still says how the first rows were made
    history = sorted(p.name for p in (run / "configs").glob("*.yaml"))
    assert history == ["resume-1.yaml", "resume-2.yaml"]
    assert "simple_planner" in (run / "configs" / "resume-2.yaml").read_text()


@pytest.mark.slow
def test_runners_that_had_no_worker_fail_non_zero_and_resume_runs_them(workdir: Path) -> None:
    """A scheduler with no worker: the batch ends after no_worker_timeout_s instead of waiting forever; once a
    worker is there, resume=true runs exactly those runners."""
    from distributed import LocalCluster

    run = workdir / "run"
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0", protocol="tcp://",
                      host="127.0.0.1") as cluster:
        args = ["simulate", "worker=dask_scheduler", f"worker.address={cluster.scheduler_address}",
                "worker.no_worker_timeout_s=1", "scenario_filter.limit_total_scenarios=3", f"output_dir={run}",
                "show_progress=false", "html_report=false"]
        first = run_cli(args, workdir)
        assert first.returncode == 1, first.stderr[-3000:]
        assert "3 of them had no worker (stage no_workers)" in first.stderr and "resume=true" in first.stderr
        table = pd.read_parquet(run / "runner_report.parquet")
        assert list(table["error_stage"]) == ["no_workers"] * 3
        cluster.scale(1)
        again = run_cli([*args, "resume=true"], workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    table = pd.read_parquet(run / "runner_report.parquet")
    assert len(table) == 3 and table["succeeded"].all()
