"""The workers' import check for workers that join during a batch (adaptive scaling, a replaced job).

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
from distributed import LocalCluster
from sync_helpers import wait_until

from dask_runner.errors import ClusterError
from dask_runner.runner.executor import execute_runners
from dask_runner.runner.report import RunnerReport
from dask_runner.workers.dask import DaskDistributed

pytestmark = [pytest.mark.processes, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
MODULE = "joiner_lab_runners"


@pytest.fixture
def lab_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder with a runner module, on the driver's path (a user's script folder)."""
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(
        "from runners_for_tests import ScriptedRunner\n\nclass LabRunner(ScriptedRunner):\n    pass\n")
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(MODULE, None)


def start_worker(address: str, *path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*path, REPO, TESTS / "workers", TESTS))}
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                             "--no-dashboard", "--host", "127.0.0.1", "--no-nanny"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    error = outcome.get("error")
    assert isinstance(error, ClusterError), outcome
    message = str(error)
    assert f"{MODULE!r}" in message and "joined during the batch" in message and "tcp://127.0.0.1:" in message
    assert f"python {sys.executable}" in message and "PYTHONPATH" in message and "worker.python" in message
    assert reports == []  # stopped when the worker joined, while the first runner was still running
