"""Workers of the clusters DaskDistributed starts fork from a preloaded fork server, with spawn's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from dask_runner.dask.clusters import fork_server
from dask_runner.dask.clusters.fork_server import (
    FORK_SERVER,
    WORKER_PRELOAD,
    working_directory_shadows_imports,
)

HERE = str(Path(__file__).resolve().parent)

# Run in a fresh interpreter: which fork server a process has (and with what environment) depends on
# everything it did before, which in a test session is every earlier test.
DRIVER = textwrap.dedent("""
    import json, os, sys
    import psutil
    from runners_for_tests import scripted
    from dask_runner.execution.executor import execute_runners
    from dask_runner.dask.pool import DaskDistributed
    from dask_runner.dask.clusters.fork_server import FORK_SERVER

    # Whether this process had imported dask and distributed each time it started a fork server.
    launches = []
    launch = FORK_SERVER.launch

    def recording_launch(wanted):
        launches.append({"dask": "dask" in sys.modules, "distributed": "distributed" in sys.modules})
        return launch(wanted)

    FORK_SERVER.launch = recording_launch

    def view():
        return {"pid": os.getpid(), "parent": " ".join(psutil.Process().parent().cmdline()),
                "variable": os.environ.get("DASK_RUNNER_TEST_VARIABLE"), "omp": os.environ.get("OMP_NUM_THREADS"),
                "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}

    def pool_views(behaviours):
        with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address=None) as pool:
            views = list(pool.client.run(view).values())
            stages = [r.error_stage for r in execute_runners(scripted(behaviours, seconds=0.05), pool)]
            pool.client.wait_for_workers(2, timeout=120)
            after = list(pool.client.run(view).values())
        return {"views": views, "stages": stages, "after": after}

    if __name__ == "__main__":
        first = pool_views(["ok", "fail", "callback_ok", "callback_fail", "kill", "ok"])
        os.environ["DASK_RUNNER_TEST_VARIABLE"] = "changed"
        changed = pool_views(["ok"])
        del os.environ["DASK_RUNNER_TEST_VARIABLE"]
        again = pool_views(["ok"])
        print(json.dumps({"first": first, "changed": changed, "again": again, "launches": launches}))
""")


def _forked(view: dict[str, object]) -> bool:
    return "multiprocessing.forkserver import main" in str(view["parent"])


@pytest.mark.processes
def test_workers_fork_from_the_preloaded_server_with_spawns_environment(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_TRIM_THRESHOLD_"}
    env["PYTHONPATH"] = os.pathsep.join([HERE, env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=240,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    first, changed, again = runs["first"], runs["changed"], runs["again"]

    # The server imports dask and distributed on another core while the driver does (it starts first, once).
    assert runs["launches"] == [{"dask": False, "distributed": False}]
    assert len(first["views"]) == 2 and all(_forked(v) for v in first["views"])
    assert all(module in first["views"][0]["parent"] for module in WORKER_PRELOAD)
    # Dask's pre-spawn variables still reach the workers, the ones our clusters unset stay unset.
    assert all(v["omp"] == "1" and v["malloc_trim"] is None for v in first["views"])
    assert first["stages"] == [None, "simulation", None, "callback", "worker_lost", None]
    assert len(first["after"]) == 2  # the killed worker was replaced
    # The fork server has the environment it started with; a changed one means spawned workers, as Dask does.
    assert all(v["variable"] == "changed" and not _forked(v) for v in changed["views"])
    assert all(v["variable"] is None and _forked(v) for v in again["views"])
    # Closing a pool leaves none of its workers behind.
    pids = [int(v["pid"]) for run in (first, changed, again) for v in run["views"] + run["after"]]
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)], timeout=15)
    assert alive == []


CONFIGURED_DRIVER = textwrap.dedent("""
    import json, os, sys
    import psutil
    from dask_runner.dask.clusters.fork_server import FORK_SERVER
    from dask_runner.dask.pool import DaskDistributed

    launches = []
    launch = FORK_SERVER.launch

    def recording_launch(wanted):
        launches.append({"dask": "dask" in sys.modules, "mark": wanted.get("DASK_RUNNER_TEST_MARK")})
        return launch(wanted)

    FORK_SERVER.launch = recording_launch

    def view():
        return {"mark": os.environ.get("DASK_RUNNER_TEST_MARK"), "omp": os.environ.get("OMP_NUM_THREADS"),
                "parent": " ".join(psutil.Process().parent().cmdline())}

    if __name__ == "__main__":
        with DaskDistributed(n_workers=1, threads_per_worker=1, dashboard_address=None) as pool:
            views = list(pool.client.run(view).values())
        print(json.dumps({"launches": launches, "views": views}))
""")


@pytest.mark.processes
def test_a_server_started_before_dask_follows_the_users_dask_config(tmp_path: Path) -> None:
    """Started before dask is imported, the server gets the workers' variables from distributed's defaults; a
    config file that adds one is seen once dask is imported, and the server starts again with it; one that
    asks for another way to start workers stops it."""
    script = tmp_path / "driver.py"
    script.write_text(CONFIGURED_DRIVER)
    config = tmp_path / "dask-config"
    config.mkdir()
    (config / "workers.yaml").write_text("distributed:\n  nanny:\n    pre-spawn-environ:\n"
                                         "      DASK_RUNNER_TEST_MARK: from-config\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DASK_")}
    env["PYTHONPATH"] = os.pathsep.join([HERE, env.get("PYTHONPATH", "")])

    def run(**extra: str) -> dict[str, list[dict[str, object]]]:
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                env={**env, **extra}, timeout=240, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    plain = run()
    assert plain["launches"] == [{"dask": False, "mark": None}]
    assert [(v["mark"], v["omp"], _forked(v)) for v in plain["views"]] == [(None, "1", True)]

    configured = run(DASK_CONFIG=str(config))
    assert configured["launches"] == [{"dask": False, "mark": None}, {"dask": True, "mark": "from-config"}]
    assert [(v["mark"], v["omp"], _forked(v)) for v in configured["views"]] == [("from-config", "1", True)]

    # A config that picks Dask's own fork server: ours, started on the defaults' word, is stopped unused
    # (Dask's would otherwise be it: multiprocessing has one per process), and Dask starts its own.
    (config / "workers.yaml").write_text("distributed:\n  worker:\n    multiprocessing-method: forkserver\n")
    dasks = run(DASK_CONFIG=str(config))
    assert dasks["launches"] == [{"dask": False, "mark": None}]
    assert len(dasks["views"]) == 1 and _forked(dasks["views"][0])
    assert "dask_runner.dask.tasks" not in dasks["views"][0]["parent"]


def test_a_working_directory_with_another_copy_of_an_imported_package_means_spawned_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dask
    import distributed  # noqa: F401  (imported here, from the environment)

    def method_inside() -> str:
        with FORK_SERVER.forked_workers(processes=True):
            return str(dask.config.get("distributed.worker.multiprocessing-method"))

    monkeypatch.chdir(tmp_path)
    (tmp_path / "json").mkdir()  # a folder without __init__.py shadows nothing
    (tmp_path / "notes.txt").write_text("not a module")
    assert not working_directory_shadows_imports()
    # The fork server would import this copy (it puts the working directory first on its path).
    (tmp_path / "distributed").mkdir()
    (tmp_path / "distributed" / "__init__.py").write_text("")
    assert working_directory_shadows_imports()
    assert method_inside() == "spawn"
    (tmp_path / "distributed" / "__init__.py").unlink()
    assert not working_directory_shadows_imports()
    # A preload this process has not imported (yet) counts too: the server would import the copy here.
    monkeypatch.setattr(fork_server, "WORKER_PRELOAD", [*WORKER_PRELOAD, "dask_runner_probe_preload"])
    (tmp_path / "dask_runner_probe_preload.py").write_text("")
    assert working_directory_shadows_imports()
    assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
