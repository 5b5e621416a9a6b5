"""worker=dask_slurm on a real SLURM of three nodes: worker jobs submitted with sbatch, and the faults a cluster brings.

Workers run in SLURM jobs with the test's Python; they import this checkout and the tests' runner modules
through the PYTHONPATH the job script's prologue exports (as a user's prologue would).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_slurm import LocalSlurm
from sync_helpers import wait_until

from dask_runner.clusters.slurm import slurm_worker_pool
from dask_runner.errors import ClusterError, ConfigError
from dask_runner.runner.executor import execute_runners
from dask_runner.runner.report import RunnerReport
from dask_runner.workers.dask import DaskDistributed

pytest.importorskip("dask_jobqueue")
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]  # set-up may apt-get SLURM

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# What a user's job_script_prologue does: make the code the runners come from importable on the workers.
PROLOGUE = [f"export PYTHONPATH={REPO}:{TESTS / 'workers'}:{TESTS / 'slurm'}:{TESTS}"]

sys.path.insert(0, str(TESTS / "workers"))
sys.path.insert(0, str(TESTS / "dashboard"))
from dashboard_helpers import counts_of, http_base, json_counts, wait_for_batch  # noqa: E402
from runners_for_tests import ScriptedRunner, scripted  # noqa: E402


def _slurm_info() -> dict[str, str]:
    return {"node": os.environ.get("SLURMD_NODENAME", "?"), "job": os.environ.get("SLURM_JOB_ID", "?")}


def worker_placement(pool: DaskDistributed) -> dict[str, dict[str, str]]:
    """Worker address → the SLURM node and job it runs in (read from the worker's own environment)."""
    return pool.client.run(_slurm_info)


def one_report_each(reports: list[RunnerReport], runners: list[Any]) -> None:
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert Counter(r.runner_id for r in reports).most_common(1)[0][1] == 1


def pool_kwargs(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(jobs=3, cores=1, memory="1GB", walltime="00:10:00", interface="lo",
                                  dashboard_port=0, job_script_prologue=PROLOGUE, lifetime_margin=None,
                                  log_directory=str(tmp_path / "worker-logs"), start_timeout_s=120)
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def pool3(clean_queue: LocalSlurm, tmp_path: Path) -> Iterator[DaskDistributed]:
    pool = slurm_worker_pool(**pool_kwargs(tmp_path))
    try:
        pool.client.wait_for_workers(3, timeout=120)
        yield pool
    finally:
        pool.shutdown()


def test_worker_jobs_on_several_nodes_run_a_batch_and_are_cancelled_at_shutdown(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    pool = slurm_worker_pool(**pool_kwargs(tmp_path))
    try:
        pool.client.wait_for_workers(3, timeout=120)
        placement = worker_placement(pool)
        assert len({where["node"] for where in placement.values()}) >= 2, placement
        assert all(address.startswith("tcp://127.0.0.1:") for address in placement)  # loopback only
        runners = scripted(["ok"] * 30, seconds=0.2)
        reports = execute_runners(runners, pool, experiment_name="on-slurm")
        one_report_each(reports, runners)
        assert all(r.succeeded for r in reports)
        nodes_used = {placement[r.worker]["node"] for r in reports if r.worker in placement}
        assert len(nodes_used) >= 2, nodes_used
        # The Simulations page is on the scheduler from its start (preload), with exact counts.
        status = f"{http_base(pool.client)}/api/dask_runner/status.json"
        batch = wait_for_batch(status, "on-slurm", "finished")
        assert json_counts(batch) == counts_of(reports)
    finally:
        pool.shutdown()
    wait_until(lambda: not clean_queue.squeue(), 60, "the worker jobs to leave the queue after shutdown")


def test_a_slurmcluster_passed_by_a_python_user_runs_the_batch_and_stays_theirs(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    from dask_jobqueue import SLURMCluster

    with SLURMCluster(cores=1, processes=1, memory="1GB", interface="lo", job_script_prologue=PROLOGUE,
                      scheduler_options={"dashboard_address": ":0"}, python=sys.executable,
                      log_directory=str(tmp_path / "worker-logs")) as cluster:
        cluster.scale(jobs=2)
        with DaskDistributed(cluster=cluster) as pool:
            pool.client.wait_for_workers(1, timeout=120)
            runners = scripted(["ok", "fail", "ok", "ok"])
            reports = execute_runners(runners, pool)
        one_report_each(reports, runners)
        assert [r.succeeded for r in reports] == [True, False, True, True]
        assert cluster.status.name == "running"  # the pool closed only its client


def test_runner_module_missing_on_the_workers_fails_fast_naming_module_worker_python_and_fix(
        pool3: DaskDistributed, tmp_path: Path) -> None:
    """The module is on the driver's path only (a script folder): before, workers died in a loop and the batch hung."""
    folder = tmp_path / "driver_only"
    folder.mkdir()
    (folder / "my_lab_runners.py").write_text(
        "from runners_for_tests import ScriptedRunner\n\nclass LabRunner(ScriptedRunner):\n    pass\n")
    sys.path.insert(0, str(folder))
    try:
        from my_lab_runners import LabRunner  # type: ignore[import-not-found]

        with pytest.raises(ClusterError) as info:
            execute_runners([LabRunner("r1"), ScriptedRunner("r2")], pool3)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("my_lab_runners", None)
    message = str(info.value)
    assert "'my_lab_runners'" in message and "tcp://127.0.0.1:" in message
    assert f"python {sys.executable}" in message
    assert "PYTHONPATH" in message and "worker.python" in message
    assert pool3.client.who_has() == {}  # nothing was submitted


def _job_of_a_busy_worker(pool: DaskDistributed) -> tuple[str, str]:
    placement = worker_placement(pool)
    busy = wait_until(lambda: [a for a, keys in pool.client.processing().items() if keys], 60, "a busy worker")
    return busy[0], placement[busy[0]]["job"]


def test_a_worker_job_cancelled_mid_batch_costs_no_report(pool3: DaskDistributed, clean_queue: LocalSlurm,
                                                          tmp_path: Path) -> None:
    started = tmp_path / "started"
    started.mkdir()
    runners = scripted(["ok"] * 18, seconds=1.0, started_dir=str(started))
    reports: list[RunnerReport] = []

    def cancel_when_running() -> None:
        wait_until(lambda: len(list(started.iterdir())) >= 3, 120, "three runners to start")
        _, job = _job_of_a_busy_worker(pool3)
        clean_queue.scancel(job)

    import threading

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    try:
        reports = execute_runners(runners, pool3)
    finally:
        canceller.join()
    one_report_each(reports, runners)
    assert all(r.succeeded for r in reports), [(r.runner_id, r.error_stage) for r in reports if not r.succeeded]
    assert not any(r.error_stage == "worker_lost" for r in reports)


def test_a_lost_node_costs_no_report(pool3: DaskDistributed, clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """A whole node goes: its slurmd and every process of its jobs are killed at once."""
    started = tmp_path / "started"
    started.mkdir()
    runners = scripted(["ok"] * 18, seconds=1.0, started_dir=str(started))
    placement = worker_placement(pool3)
    lost: list[str] = []

    def lose_a_busy_node() -> None:
        wait_until(lambda: len(list(started.iterdir())) >= 3, 120, "three runners to start")
        address, _ = _job_of_a_busy_worker(pool3)
        node = placement[address]["node"]
        jobs = {where["job"] for where in placement.values() if where["node"] == node}
        clean_queue.kill_node(node, jobs)
        lost.append(node)

    import threading

    killer = threading.Thread(target=lose_a_busy_node)
    killer.start()
    try:
        reports = execute_runners(runners, pool3)
    finally:
        killer.join()
        for node in lost:
            clean_queue.restart_node(node)
    one_report_each(reports, runners)
    assert lost
    assert all(r.succeeded for r in reports), [(r.runner_id, r.error_stage) for r in reports if not r.succeeded]


def test_workers_retire_before_their_walltime_and_are_replaced_without_losing_a_runner(
        clean_queue: LocalSlurm, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """One-minute jobs whose workers retire after about 20 s; the batch lasts longer than one worker's life."""
    pool = slurm_worker_pool(**pool_kwargs(tmp_path, jobs=2, walltime="00:01:00", lifetime_margin="40s",
                                           lifetime_stagger="5s"))
    try:
        runners = scripted(["ok"] * 40, seconds=1.5)
        with caplog.at_level(logging.INFO, logger="dask_runner.workers.dask_execution"):
            reports = execute_runners(runners, pool)
    finally:
        pool.shutdown()
    # A runner moved off a retiring worker is not a death: none was re-run as a suspect.
    assert not [r.message for r in caplog.records if "A worker died" in r.message]
    one_report_each(reports, runners)
    assert all(r.succeeded for r in reports), [(r.runner_id, r.error_stage) for r in reports if not r.succeeded]
    # More workers than jobs at a time ran runners: retired workers were replaced by new jobs.
    assert len({r.worker for r in reports}) > 2


def test_tls_between_driver_scheduler_and_workers(clean_queue: LocalSlurm, tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    pool = slurm_worker_pool(**pool_kwargs(tmp_path, jobs=2, security=True))
    try:
        assert pool.client.scheduler.address.startswith("tls://127.0.0.1:")
        assert all(address.startswith("tls://") for address in pool.client.scheduler_info()["workers"])
        runners = scripted(["ok"] * 6)
        reports = execute_runners(runners, pool)
        assert all(r.succeeded for r in reports)
    finally:
        pool.shutdown()


def test_ctrl_c_still_interrupts_the_driver_after_dask_jobqueue_is_imported() -> None:
    from dask_runner.clusters.jobqueue import import_jobqueue

    before = signal.getsignal(signal.SIGINT)
    import_jobqueue()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_job_slurm_refuses_fails_at_once_naming_the_reason(clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """The nodes have 4000 MB: a job asking for 64 GB would be retried in the background forever."""
    with pytest.raises(ConfigError, match="SLURM refuses the worker job") as info:
        slurm_worker_pool(**pool_kwargs(tmp_path, memory="64GB"))
    assert "worker.memory" in str(info.value)
    assert not clean_queue.squeue()


def test_a_worker_joining_mid_batch_from_another_environment_stops_the_batch_naming_module_and_worker(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """A worker started later (another job, a node without the code) that cannot import the runners' module."""
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "joiner_lab_runners.py").write_text(
        "from runners_for_tests import ScriptedRunner\n\nclass LabRunner(ScriptedRunner):\n    pass\n")
    started = tmp_path / "started"
    started.mkdir()
    sys.path.insert(0, str(folder))
    joiner: subprocess.Popen[bytes] | None = None
    outcome: dict[str, BaseException] = {}
    try:
        from joiner_lab_runners import LabRunner  # type: ignore[import-not-found]

        # Runners that never finish: only the joiner's failed check can end the batch.
        runners = [LabRunner(f"r{i}", "hang", started_dir=str(started)) for i in range(2)]
        prologue = [f"export PYTHONPATH={folder}:{PROLOGUE[0].split('=', 1)[1]}"]
        pool = slurm_worker_pool(**pool_kwargs(tmp_path, jobs=1, job_script_prologue=prologue))
        try:
            def batch() -> None:
                try:
                    execute_runners(runners, pool)
                except BaseException as exc:  # noqa: BLE001  (the test looks at it)
                    outcome["error"] = exc

            running = threading.Thread(target=batch)
            running.start()
            wait_until(lambda: any(started.iterdir()), 120, "the batch to start on the worker job")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [REPO, TESTS / "workers", TESTS]))}
            joiner = subprocess.Popen(["srun", "--ntasks=1", sys.executable, "-m", "distributed.cli.dask_worker",
                                       pool.client.scheduler.address, "--nthreads", "1", "--no-dashboard",
                                       "--interface", "lo"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            running.join(timeout=240)
            assert not running.is_alive(), "the batch did not stop"
        finally:
            pool.shutdown()
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("joiner_lab_runners", None)
        if joiner is not None:
            joiner.terminate()
            joiner.wait(timeout=60)
    error = outcome.get("error")
    assert isinstance(error, ClusterError), outcome
    message = str(error)
    assert "'joiner_lab_runners'" in message and "joined during the batch" in message
    assert "tcp://127.0.0.1:" in message and f"python {sys.executable}" in message and "PYTHONPATH" in message
