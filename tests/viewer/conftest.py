"""Real small batches for the viewer's tests (sequential worker), and `dask-runner view` started on them."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dask_runner.experiment.simulation_job import simulate
from tests.viewer.viewer_helpers import SCENARIOS


def _simulate(root: Path, planners: str) -> Path:
    simulate([f"planner={planners}", "worker=sequential", f"scenario_filter.limit_total_scenarios={SCENARIOS}",
              f"output_dir={root}", "show_progress=false", "html_report=false"], out=io.StringIO())
    return root


@pytest.fixture(scope="session")
def two_planner_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SimplePlanner and IDMPlanner on the same 8 scenarios."""
    return _simulate(tmp_path_factory.mktemp("viewer") / "two_planners", "[simple_planner,idm_planner]")


@pytest.fixture(scope="session")
def idm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("viewer") / "idm", "idm_planner")


@pytest.fixture(scope="session")
def simple_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run that regresses against ``idm_run``: its planner collides or stalls where IDM does not."""
    return _simulate(tmp_path_factory.mktemp("viewer") / "simple", "simple_planner")


@pytest.fixture()
def start_viewer() -> Iterator[Callable[..., str]]:
    """Start `dask-runner view FOLDERS` as a user does; returns its address. Stopped by its pid at the end."""
    processes: list[subprocess.Popen[str]] = []

    def start(*folders: Path) -> str:
        process = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", "view", *map(str, folders)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        processes.append(process)
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", first)
        assert match, f"no address in {first!r}"
        tunnel = process.stdout.readline()
        assert tunnel.startswith("From another machine: ssh -N -L "), tunnel
        return match.group(0)

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
