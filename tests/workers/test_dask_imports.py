"""Workers that join during a batch (adaptive scaling, a replaced job) and cannot load its runners, and batches
that have no worker at all.

Real worker processes (``dask worker`` subprocesses) on an in-process scheduler: the first one has the
runners' module on its path, the one that joins mid-batch has not, as a worker of another environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from runners_for_tests import driver_only_runner_class
from sync_helpers import wait_until

from dask_runner.dask.pool import DaskDistributed
from dask_runner.errors import ClusterError
from dask_runner.execution.executor import execute_runners
from dask_runner.runner.report import RunnerReport

pytestmark = [pytest.mark.processes, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
MODULE = "joiner_lab_runners"


@pytest.fixture
def lab_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder with a runner module, on the driver's path (a user's script folder)."""
    folder = tmp_path / "lab"
    with driver_only_runner_class(folder, MODULE):
        yield folder


def start_worker(address: str, *path: Path, without_dask_runner: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*path, REPO, TESTS / "workers", TESTS))}
    # A worker of an environment without dask_runner: importing it fails there as a missing package would.
    hide = "import sys; sys.modules['dask_runner'] = None; " if without_dask_runner else ""
    launch = f"{hide}from distributed.cli.dask_worker import main; main()"
    return subprocess.Popen([sys.executable, "-c", launch, address, "--nthreads", "1",
                             "--no-dashboard", "--host", "127.0.0.1", "--no-nanny"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def assert_names_the_joiner_and_the_fix(outcome: dict[str, Any]) -> None:
    error = outcome.get("error")
    assert isinstance(error, ClusterError), outcome
    message = str(error)
    assert f"{MODULE!r}" in message and "joined during the batch" in message and "tcp://127.0.0.1:" in message
    assert f"python {sys.executable}" in message and "PYTHONPATH" in message and "worker.python" in message


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()  # the first worker's thread still runs a hanging runner: a polite stop would wait for it
    process.wait(timeout=30)


def test_a_worker_joining_mid_batch_without_the_runners_module_stops_the_batch_naming_module_worker_and_fix(
        lab_folder: Path, tmp_path: Path) -> None:
    """Before, such a worker died on its first task and restarted in a loop while the batch hung."""
    from joiner_lab_runners import LabRunner  # type: ignore[import-not-found]

    started = tmp_path / "started"
    started.mkdir()
    # Runners that never finish: only the joiner's failure can end this batch (no result wakes the driver).
    runners = [LabRunner(f"r{i:03d}", "hang", started_dir=str(started)) for i in range(4)]
    reports: list[RunnerReport] = []
    outcome: dict[str, Any] = {}

    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                      protocol="tcp://", host="127.0.0.1") as cluster:
        first = start_worker(cluster.scheduler_address, lab_folder)
        joiner: subprocess.Popen[bytes] | None = None
        try:
            with DaskDistributed(cluster=cluster) as pool:
                pool.client.wait_for_workers(1, timeout=120)

                def batch() -> None:
                    try:
                        execute_runners(runners, pool, on_report=reports.append)
                    except BaseException as exc:  # noqa: BLE001  (the test looks at it)
                        outcome["error"] = exc

                running = threading.Thread(target=batch)
                running.start()
                wait_until(lambda: any(started.iterdir()), 120, "the batch to start on the first worker")
                joiner = start_worker(cluster.scheduler_address)  # its path lacks the lab folder
                running.join(timeout=240)
                assert not running.is_alive(), "the batch did not stop"
        finally:
            for process in (first, joiner):
                if process is not None:
                    stop(process)
    assert_names_the_joiner_and_the_fix(outcome)
    assert reports == []  # stopped when the worker joined, while the first runner was still running


def _batch_in_thread(runners: list[Any], pool: DaskDistributed, outcome: dict[str, Any]) -> threading.Thread:
    def batch() -> None:
        try:
            outcome["reports"] = execute_runners(runners, pool)
        except BaseException as exc:  # noqa: BLE001  (the test looks at it)
            outcome["error"] = exc

    running = threading.Thread(target=batch)
    running.start()
    return running


def test_a_batch_begun_before_any_worker_stops_naming_the_module_when_a_worker_that_lacks_it_joins(
        lab_folder: Path) -> None:
    """The issue's repro in one process: the batch starts with no worker (jobs still pending), so the start-of-batch
    check runs on none; the first worker to join lacks the module. Before, its first task broke its connection,
    it left, and the batch waited forever."""
    from joiner_lab_runners import LabRunner  # type: ignore[import-not-found]

    runners = [LabRunner(f"r{i:03d}") for i in range(6)]
    outcome: dict[str, Any] = {}
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                      protocol="tcp://", host="127.0.0.1") as cluster:
        worker: subprocess.Popen[bytes] | None = None
        try:
            with DaskDistributed(cluster=cluster) as pool:
                running = _batch_in_thread(runners, pool, outcome)
                worker = start_worker(cluster.scheduler_address)  # its path lacks the lab folder
                running.join(timeout=120)
                assert not running.is_alive(), "the batch did not stop"
                pool.client.wait_for_workers(1, timeout=30)  # the worker that failed the task is still there
        finally:
            if worker is not None:
                stop(worker)
    assert_names_the_joiner_and_the_fix(outcome)


def test_runners_waiting_with_no_worker_fail_after_no_worker_timeout_s_saying_why(
        caplog: pytest.LogCaptureFixture) -> None:
    from runners_for_tests import scripted

    runners = scripted(["ok"] * 5)
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        with DaskDistributed(cluster=cluster, no_worker_timeout_s=0.5) as pool, \
                caplog.at_level("WARNING", logger="dask_runner.dask.batch"):
            reports = execute_runners(runners, pool)
    # Said while waiting, with what the cluster holds, before the runners failed.
    assert "5 runner(s) wait and no worker is connected to the scheduler" in caplog.text
    assert "The cluster: LocalCluster has 0 worker process(es) requested" in caplog.text
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert {r.error_stage for r in reports} == {"no_workers"}
    message = reports[0].error_message or ""
    assert "no worker was connected to the scheduler for 0.5 s" in message and "resume=true" in message
    assert "squeue" in message and "Failed to deserialize" in message  # the likely causes


def test_a_worker_that_cannot_import_dask_runner_leaves_and_the_waiting_runners_name_it(tmp_path: Path) -> None:
    """It cannot read a task message: it leaves on its first task. The batch does not wait forever and says so."""
    from runners_for_tests import scripted

    runners = scripted(["ok"] * 3)
    outcome: dict[str, Any] = {}
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                      protocol="tcp://", host="127.0.0.1") as cluster:
        worker: subprocess.Popen[bytes] | None = None
        try:
            with DaskDistributed(cluster=cluster, no_worker_timeout_s=15) as pool:
                running = _batch_in_thread(runners, pool, outcome)
                worker = start_worker(cluster.scheduler_address, without_dask_runner=True)
                with Client(cluster.scheduler_address) as watcher:
                    wait_until(lambda: watcher.get_events("all") and any(
                        e.get("action") == "remove-worker" for _, e in watcher.get_events("all")), 60,
                        "the worker without dask_runner to leave")
                running.join(timeout=120)
                assert not running.is_alive(), "the batch did not stop"
        finally:
            if worker is not None:
                stop(worker)
    reports = outcome.get("reports")
    assert reports is not None, outcome
    assert {r.error_stage for r in reports} == {"no_workers"}
    assert "left holding a task before they had run anything (last: tcp://127.0.0.1:" in (reports[0].error_message or "")
