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
