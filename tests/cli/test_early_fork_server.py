"""`dask-runner simulate` on a local cluster starts its workers' fork server as the job's first step, before the
driver imports Dask, and stops it when the job ends before its worker pool exists."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_helpers import cli_env

# A fresh interpreter: in a test session dask is imported already, and the fork server is the session's.
DRIVER = textwrap.dedent("""
    import json, os, sys
    import psutil
    from dask_runner.dask.clusters.fork_server import FORK_SERVER
    from dask_runner.cli import main
    from dask_runner.dask.compat import forkserver_pid

    launches = []
    launch = FORK_SERVER.launch

    def recording_launch(wanted):
        launches.append({"dask": "dask" in sys.modules, "pandas": "pandas" in sys.modules})
        pid = launch(wanted)
        launches[-1]["pid"] = pid
        return pid

    FORK_SERVER.launch = recording_launch

    if __name__ == "__main__":
        code = main(["simulate", *sys.argv[1:]])
        print(json.dumps({"code": code, "launches": launches, "running": forkserver_pid(),
                          "children": [p.pid for p in psutil.Process().children()]}))
""")


def _run(tmp_path: Path, source: str, *overrides: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """``source`` as a script in a fresh interpreter (this checkout first on its path); what it printed last, as JSON."""
    script = tmp_path / "driver.py"
    script.write_text(source)
    result = subprocess.run([sys.executable, str(script), *overrides], capture_output=True, text=True, env=cli_env(),
                            timeout=300, cwd=tmp_path)
    lines = result.stdout.strip().splitlines()
    return result, dict(json.loads(lines[-1])) if lines else {}


def _simulate(tmp_path: Path, *overrides: str) -> dict[str, object]:
    result, printed = _run(tmp_path, DRIVER, *overrides)
    return dict(printed, stderr=result.stderr)


@pytest.mark.processes
def test_the_fork_server_starts_first_and_is_stopped_when_nothing_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ran = _simulate(tmp_path, f"output_dir={out}", "scenario_filter.limit_total_scenarios=2",
                    "worker.n_workers=1", "worker.dashboard_address=null")
    assert ran["code"] == 0, ran["stderr"][-3000:]
    # Before dask and before the job's heavier imports: it imports Dask while the job builds its runners.
    assert [(launch["dask"], launch["pandas"]) for launch in ran["launches"]] == [(False, False)]
    assert (out / "runner_report.parquet").is_file()

    # Resumed with nothing left to run: no pool is built, and the server started for it is stopped.
    again = _simulate(tmp_path, f"output_dir={out}", "scenario_filter.limit_total_scenarios=2",
                      "worker.n_workers=1", "worker.dashboard_address=null", "resume=true")
    assert again["code"] == 0, again["stderr"][-3000:]
    assert len(again["launches"]) == 1 and again["running"] is None
    assert again["launches"][0]["pid"] not in again["children"]

    # A job that stops on bad input after its first step stops the server too.
    (tmp_path / "a_file").write_text("not a folder")
    bad = _simulate(tmp_path, f"output_dir={tmp_path / 'a_file'}", "worker.n_workers=1")
    assert bad["code"] != 0 and "a_file" in bad["stderr"]
    assert len(bad["launches"]) == 1 and bad["running"] is None


FIRST_STEP_ONLY = textwrap.dedent("""
    import json, sys
    from dask_runner.dask.compat import forkserver_pid
    from dask_runner.experiment.components import first_step
    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

    if __name__ == "__main__":
        first_step(compose_config(SIMULATION_CONFIG, sys.argv[1:]))
        print(json.dumps({"running": forkserver_pid() is not None}))
""")


@pytest.mark.parametrize(("overrides", "started"), [
    ([], True),
    (["worker=dask_scheduler", "worker.address=tcp://127.0.0.1:9"], False),
    (["worker.processes=false"], False),
    (["worker=sequential"], False),
])
def test_only_a_local_cluster_of_processes_starts_one(tmp_path: Path, overrides: list[str], started: bool) -> None:
    result, printed = _run(tmp_path, FIRST_STEP_ONLY, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    assert printed == {"running": started}
