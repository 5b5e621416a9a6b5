"""Schedulers dask_runner did not start: `dask scheduler --preload dask_runner.dashboard`, and one without it.

Both run as commands (as a job script starts them) on 127.0.0.1 with one `dask worker`; the driver
connects with ``DaskDistributed(scheduler_file=...)``, runs a batch, and reads status.json over HTTP.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS / "dashboard") not in sys.path:
    sys.path.insert(0, str(TESTS / "dashboard"))
if str(TESTS / "cli") not in sys.path:
    sys.path.insert(0, str(TESTS / "cli"))

from cli_helpers import cli_env  # noqa: E402
from dashboard_helpers import batch_named, counts_of, get_json, get_text, json_counts  # noqa: E402
from gated_runners import GatedRunner  # noqa: E402
from sync_helpers import wait_until  # noqa: E402

from dask_runner.dashboard.install import status_link  # noqa: E402
from dask_runner.dask.pool import DaskDistributed  # noqa: E402
from dask_runner.execution.executor import execute_runners  # noqa: E402

pytestmark = [pytest.mark.processes, pytest.mark.slow]
DASK = str(Path(sys.executable).parent / "dask")


@contextmanager
def scheduler_and_worker(folder: Path, preload: bool) -> Iterator[Path]:
    """A `dask scheduler` (with our preload or without) and a `dask worker`, both ours to stop; the scheduler file."""
    scheduler_file = folder / "scheduler.json"
    env = cli_env(TESTS, TESTS / "dashboard")
    scheduler_cmd = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(scheduler_file), *(["--preload", "dask_runner.dashboard"] if preload else [])]
    processes = [subprocess.Popen(scheduler_cmd, env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                  stderr=open(folder / "scheduler.log", "w"))]
    try:
        wait_until(scheduler_file.exists, 60, "the scheduler file")
        processes.append(subprocess.Popen(
            [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1", "--nthreads", "2",
             "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
            env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "worker.log", "w")))
        yield scheduler_file
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def batch(gate: Path, count: int) -> list[GatedRunner]:
    return [GatedRunner(f"g{i}", ("idm", "pdm")[i % 2], gate, fail=i % 3 == 2) for i in range(count)]


def page_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Simulations page" in r.getMessage()]


def test_preloaded_scheduler_serves_status_json(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    with scheduler_and_worker(tmp_path, preload=True) as scheduler_file, caplog.at_level(logging.INFO):
        with DaskDistributed(scheduler_file=str(scheduler_file)) as pool:
            pool.client.wait_for_workers(1, timeout=60)
            assert page_log_lines(caplog) == [f"Simulations page installed with the scheduler (preload "
                                              f"dask_runner.dashboard): {pool.simulations_page}"]
            reports = execute_runners(batch(gate, 9), pool, experiment_name="preloaded")
            url = status_link(pool.client)
            assert url is not None and url.startswith("http://127.0.0.1:")
            status = get_json(url)
    found = batch_named(status, "preloaded")
    assert found is not None and found["state"] == "finished"
    assert json_counts(found) == counts_of(reports) == {"idm": (3, 2), "pdm": (3, 1)}
    assert {f["runner_id"] for f in found["failures"]} == {"g2", "g5", "g8"}
    assert {f["error"] for f in found["failures"]} == {"second line: the last one is shown"}


def test_scheduler_without_preload_gets_the_page_at_run_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gate = tmp_path / "gate"
    with scheduler_and_worker(tmp_path, preload=False) as scheduler_file, caplog.at_level(logging.INFO):
        with DaskDistributed(scheduler_file=str(scheduler_file)) as pool:
            pool.client.wait_for_workers(1, timeout=60)
            page = pool.simulations_page
            assert page is not None
            assert page_log_lines(caplog) == [
                "Simulations page added at run time to a scheduler started without it (start schedulers with "
                f"`--preload dask_runner.dashboard` to have it from the start): {page}"]
            assert "Bokeh" in get_text(page)
            assert "individual-simulations" in get_text(page.replace("/individual-simulations", "/status"))
            with DaskDistributed(scheduler_file=str(scheduler_file)) as second:  # a second driver installs nothing
                assert page_log_lines(caplog)[-1] == f"Simulations page already added at run time by an earlier " \
                                                     f"driver: {second.simulations_page}"
            url = status_link(pool.client)
            assert url is not None
            reports: list = []
            import threading

            runner = threading.Thread(target=lambda: reports.extend(
                execute_runners(batch(gate, 6), pool, experiment_name="run time")))
            runner.start()
            try:  # mid-batch: runners on the cluster, nothing finished, the worker's two threads busy
                def two_running() -> dict | None:
                    status = get_json(url)
                    return status if sum(r["executing"] for r in status["running"]) == 2 else None

                mid = wait_until(two_running, 60, "two simulations running in status.json")
                found = batch_named(mid, "run time")
                assert found is not None and found["total"]["succeeded"] + found["total"]["failed"] == 0
                assert found["total"]["running"] + found["total"]["queued"] == 6
                assert {r["experiment"] for r in mid["running"]} == {"run time"}
                assert len(mid["running"]) == 4  # two per worker thread are sent; the other two wait there
            finally:
                gate.touch()
                runner.join(timeout=120)
            found = batch_named(get_json(url), "run time")
    assert found is not None and found["state"] == "finished"
    assert json_counts(found) == counts_of(reports)
