"""worker=dask_sge on a real Grid Engine (one execution host on 127.0.0.1): the jobqueue core's second scheduler.

The same behaviours as on SLURM, through the same core: worker jobs submitted with qsub and deleted at shutdown,
a job the scheduler refuses failing before anything is submitted, a job deleted mid-batch costing no report, a
runner class the workers cannot import failing fast with the module named.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from local_sge import LocalGridEngine
from sync_helpers import wait_until

from dask_runner.dask.clusters.sge import sge_worker_pool
from dask_runner.errors import ClusterError, ConfigError
from dask_runner.execution.executor import execute_runners
from dask_runner.runner.report import RunnerReport

pytest.importorskip("dask_jobqueue")
pytestmark = [pytest.mark.sge, pytest.mark.slow, pytest.mark.timeout(600)]  # set-up may apt-get Grid Engine

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
PROLOGUE = [f"export PYTHONPATH={REPO}:{TESTS / 'workers'}:{TESTS}"]

sys.path.insert(0, str(TESTS / "workers"))
from runners_for_tests import ScriptedRunner, driver_only_runner_class, scripted  # noqa: E402


def pool_kwargs(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(jobs=2, cores=1, memory="1GB", walltime="00:10:00", interface="lo",
                                  dashboard_port=0, job_script_prologue=PROLOGUE, lifetime_margin=None,
                                  log_directory=str(tmp_path / "worker-logs"), start_timeout_s=120)
    kwargs.update(overrides)
    return kwargs


def one_report_each(reports: list[RunnerReport], runners: list[Any]) -> None:
    assert [r.runner_id for r in reports] == [r.runner_id for r in runners]
    assert Counter(r.runner_id for r in reports).most_common(1)[0][1] == 1


def test_worker_jobs_run_a_batch_show_in_qstat_and_are_deleted_at_shutdown(
        clean_sge: LocalGridEngine, tmp_path: Path) -> None:
    pool = sge_worker_pool(**pool_kwargs(tmp_path))
    seen_running: list[list[dict[str, str]]] = []
    try:
        pool.client.wait_for_workers(2, timeout=120)
        runners = scripted(["ok"] * 16, seconds=0.2)
        watcher = threading.Thread(target=lambda: seen_running.append(clean_sge.jobs()))
        watcher.start()
        reports = execute_runners(runners, pool)
        watcher.join()
        one_report_each(reports, runners)
        assert all(r.succeeded for r in reports)
        assert len({r.worker for r in reports}) == 2  # both jobs' workers took runners
    finally:
        pool.shutdown()
    running = seen_running[0]
    assert len(running) == 2 and {job["name"] for job in running} == {"dask-runner-worker"}
    assert all(job["state"] == "r" for job in running), running
    wait_until(lambda: not clean_sge.jobs(), 60, "the worker jobs to leave the queue after shutdown")


def test_a_job_grid_engine_refuses_fails_at_once_naming_the_reason(clean_sge: LocalGridEngine,
                                                                   tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"Grid Engine refuses the worker job \(.*unknown queue \"nosuch.q\"") as info:
        sge_worker_pool(**pool_kwargs(tmp_path, queue="nosuch.q"))
    assert time.monotonic() - start < 30
    assert "worker.queue" in str(info.value) and "print_job_script" in str(info.value)
    assert clean_sge.jobs() == []  # nothing was submitted


def test_a_worker_job_deleted_mid_batch_costs_no_report_and_is_replaced(clean_sge: LocalGridEngine,
                                                                         tmp_path: Path) -> None:
    started = tmp_path / "started"
    started.mkdir()
    pool = sge_worker_pool(**pool_kwargs(tmp_path))
    replacements: list[set[str]] = []
    try:
        pool.client.wait_for_workers(2, timeout=120)
        runners = scripted(["ok"] * 12, seconds=1.0, started_dir=str(started))

        def delete_one_job() -> None:
            wait_until(lambda: len(list(started.iterdir())) >= 2, 120, "two runners to start")
            first = {job["id"] for job in clean_sge.jobs()}
            clean_sge.qdel(sorted(first)[0])
            # The job count is kept (by the JobKeeper, which sees qstat no longer list the job).
            replacements.append(wait_until(lambda: {job["id"] for job in clean_sge.jobs()} - first, 60,
                                           "a replacement job in qstat"))

        deleter = threading.Thread(target=delete_one_job)
        deleter.start()
        try:
            reports = execute_runners(runners, pool)
        finally:
            deleter.join()
    finally:
        pool.shutdown()
    one_report_each(reports, runners)
    assert all(r.succeeded for r in reports), [(r.runner_id, r.error_stage) for r in reports if not r.succeeded]
    assert len(replacements) == 1 and len(replacements[0]) == 1


def test_a_runner_class_the_workers_cannot_import_fails_fast_naming_the_module(
        clean_sge: LocalGridEngine, tmp_path: Path) -> None:
    pool = sge_worker_pool(**pool_kwargs(tmp_path, jobs=1))
    try:
        with driver_only_runner_class(tmp_path / "driver_only", "my_sge_runners") as LabRunner:
            start = time.monotonic()
            with pytest.raises(ClusterError, match=r"cannot import 'my_sge_runners'"):
                execute_runners([LabRunner("r1"), ScriptedRunner("r2")], pool)
            assert time.monotonic() - start < 30
    finally:
        pool.shutdown()
