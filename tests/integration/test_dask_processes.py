"""DaskDistributed on real process clusters: pickling, worker deaths, hard time limits, Ctrl-C."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

# Test runners live next to the worker tests; Dask workers (forked from the fork server) inherit this sys.path.
REPO = str(Path(__file__).resolve().parents[2])
TEST_RUNNERS_DIR = str(Path(__file__).resolve().parent.parent / "workers")
if TEST_RUNNERS_DIR not in sys.path:
    sys.path.insert(0, TEST_RUNNERS_DIR)

from runners_for_tests import scripted  # noqa: E402  (needs the sys.path entry above)
from sync_helpers import wait_until  # noqa: E402

from dask_runner.dask.pool import DaskDistributed  # noqa: E402
from dask_runner.execution.executor import execute_runners  # noqa: E402
from dask_runner.runner.report import RunnerReport  # noqa: E402

pytestmark = [pytest.mark.processes, pytest.mark.slow]


@pytest.fixture(scope="module")
def pool() -> Iterator[DaskDistributed]:
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0",
                         timeout_grace_s=1.0) as dask_pool:
        yield dask_pool


def test_a_runner_that_kills_its_worker_is_the_only_one_lost(pool: DaskDistributed) -> None:
    behaviours = ["ok"] * 12
    behaviours[4] = "kill"
    behaviours[9] = "callback_fail"
    reports = execute_runners(scripted(behaviours, seconds=0.05), pool)
    stages = [r.error_stage for r in reports]
    assert stages.count("worker_lost") == 1 and stages[4] == "worker_lost"
    assert stages[9] == "callback"
    assert "metric engine broke for r00009" in (reports[9].error_message or "")
    assert "KilledWorker" in (reports[4].error_message or "")
    assert all(r.succeeded for i, r in enumerate(reports) if i not in (4, 9))


def test_a_hanging_runner_times_out_and_the_batch_finishes(pool: DaskDistributed) -> None:
    behaviours = ["ok"] * 8
    behaviours[2] = "hang"
    started = time.monotonic()
    reports = execute_runners(scripted(behaviours, seconds=0.05), pool, time_limit_s=1.0)
    assert time.monotonic() - started < 60
    assert reports[2].error_stage == "timeout"
    assert "time limit of 1 s" in (reports[2].error_message or "")
    assert all(r.succeeded for i, r in enumerate(reports) if i != 2)
    # The restarted worker is back: the next batch uses both workers again.
    assert all(r.succeeded for r in execute_runners(scripted(["ok"] * 4), pool))


def test_500_runners_with_random_faults_give_500_reports_in_order(pool: DaskDistributed) -> None:
    rng = random.Random(7)
    behaviours = [rng.choice(["ok"] * 8 + ["fail", "callback_fail", "callback_ok"]) for _ in range(500)]
    for index in (37, 250, 411):
        behaviours[index] = "kill"
    runners = scripted(behaviours)
    seen: list[RunnerReport] = []
    reports = execute_runners(runners, pool, on_report=seen.append)
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert sorted(r.runner_id for r in seen) == sorted(r.runner_id for r in runners)
    expected = {"ok": None, "callback_ok": None, "fail": "simulation", "callback_fail": "callback",
                "kill": "worker_lost"}
    assert [r.error_stage for r in reports] == [expected[b] for b in behaviours]


DRIVER = textwrap.dedent("""
    import sys, time
    from runners_for_tests import scripted
    from dask_runner.execution.executor import execute_runners
    from dask_runner.dask.pool import DaskDistributed

    if __name__ == "__main__":
        with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as pool:
            print("ready", flush=True)
            try:
                execute_runners(scripted(["ok"] * 20, seconds=5.0, started_dir=sys.argv[1]), pool)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                raise
""")


def test_ctrl_c_cancels_and_leaves_no_worker_processes(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    started = tmp_path / "started"
    started.mkdir()
    # The checkout's dask_runner (not another installed copy) and the test runners.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, TEST_RUNNERS_DIR, os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, str(script), str(started)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "ready"
        # the batch is running now: a runner has started on each of the two workers
        wait_until(lambda: len(list(started.iterdir())) >= 2, 60, "a runner running on each worker")
        children = psutil.Process(driver.pid).children(recursive=True)
        assert len(children) >= 2  # nannies and their workers
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=60)
        assert "interrupted" in out
        assert driver.returncode != 0
        _, alive = psutil.wait_procs(children, timeout=15)
        assert alive == []
    finally:
        if driver.poll() is None:
            driver.kill()


def test_nuplan_style_runners_without_ids_each_get_one_report_through_every_fault() -> None:
    """60 runners that define no runner_id: one raises, one exits, one hangs, one outgrows its worker."""
    from travel_runners import FaultRunner

    faults = ["ok"] * 60
    faults[5], faults[20], faults[35], faults[50] = "raise", "exit", "hang", "memory"
    runners = [FaultRunner(fault) for fault in faults]
    with DaskDistributed(n_workers=2, threads_per_worker=1, memory_limit="600MB", dashboard_address=None,
                         timeout_grace_s=1.0) as pool:
        reports = execute_runners(runners, pool, time_limit_s=3.0)
    assert len(reports) == 60
    expected = {5: "simulation", 20: "worker_lost", 35: "timeout", 50: "worker_lost"}
    assert {i: r.error_stage for i, r in enumerate(reports) if not r.succeeded} == expected
    ids = [r.runner_id for r in reports]
    assert len(set(ids)) == 60 and ids[0] == "same_planner-same_log-same_scenario-0"
