"""Ctrl-C on `dask-runner simulate` on a local Dask cluster: exit 130, no process left, results kept, resumable."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest
from cli_helpers import cli_env, run_cli
from sync_helpers import wait_until

TOTAL = 120  # generated scenarios x one planner = runners; enough that the batch runs for seconds


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _reports(run: Path) -> dict[str, dict[str, object]]:
    return {p.name: json.loads(p.read_text()) for p in (run / "reports").glob("*.json")}


@pytest.mark.slow
@pytest.mark.processes
def test_ctrl_c_exits_130_ends_every_worker_process_and_resume_finishes_the_rest(workdir: Path) -> None:
    run = workdir / "run"
    args = ["simulate", "worker=dask_local", "worker.n_workers=2", "worker.dashboard_address=127.0.0.1:0",
            f"scenario_filter.limit_total_scenarios={TOTAL}", f"output_dir={run}", "run_metric=false",
            "callback=none", "show_progress=false", "html_report=false"]
    driver = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", *args], cwd=workdir, env=cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def some_reports_or_exit() -> bool:
            return driver.poll() is not None or len(list((run / "reports").glob("*.json"))) >= 4

        wait_until(some_reports_or_exit, 120, "4 reports streamed to disk")
        assert driver.poll() is None, "the batch finished before it could be interrupted"
        tree = psutil.Process(driver.pid).children(recursive=True)
        assert len(tree) >= 2, tree  # at least the two workers (and their nannies / fork server)
        driver.send_signal(signal.SIGINT)
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 130, (out, err)
    assert "interrupted" in err and "resume=true" in err
    left = wait_until_gone(tree)
    assert left == [], f"processes of the interrupted run still alive: {left}"

    before = _reports(run)
    assert 4 <= len(before) < TOTAL
    table = pd.read_parquet(run / "runner_report.parquet")
    assert sorted(table["runner_id"]) == sorted(str(r["runner_id"]) for r in before.values())

    again = run_cli([*args, "resume=true"], workdir, timeout=300)
    assert again.returncode == 0, again.stderr
    after = _reports(run)
    reports = pd.read_parquet(run / "runner_report.parquet")
    assert len(after) == len(reports) == TOTAL
    assert reports["runner_id"].is_unique and reports["succeeded"].all()
    # the runners done before Ctrl-C were not run again
    assert {name: after[name]["start_time"] for name in before} == {
        name: row["start_time"] for name, row in before.items()}


def wait_until_gone(processes: list[psutil.Process], timeout_s: float = 30) -> list[psutil.Process]:
    """The processes still alive (zombies count as gone) once all are gone or ``timeout_s`` has passed."""
    try:
        wait_until(lambda: not any(_alive(p) for p in processes), timeout_s, "the run's processes to end")
    except AssertionError:
        pass
    return [p for p in processes if _alive(p)]
