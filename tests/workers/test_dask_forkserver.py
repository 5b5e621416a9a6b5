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

from dask_runner.clusters import local
from dask_runner.clusters.local import WORKER_PRELOAD, forked_workers, working_directory_shadows_imports

HERE = str(Path(__file__).resolve().parent)

# Run in a fresh interpreter: which fork server a process has (and with what environment) depends on
# everything it did before, which in a test session is every earlier test.
DRIVER = textwrap.dedent("""
    import json, os, sys
    import psutil
    from runners_for_tests import scripted
    from dask_runner.runner.executor import execute_runners
    from dask_runner.workers.dask import DaskDistributed
    import dask_runner.clusters.local as local

    # Whether this process had imported distributed when it first started the fork server.
    distributed_before_server = []
    start_forkserver = local.start_forkserver

    def recording_start():
        distributed_before_server.append("distributed" in sys.modules)
        return start_forkserver()

    local.start_forkserver = recording_start

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
        print(json.dumps({"first": first, "changed": changed, "again": again,
                          "distributed_before_server": distributed_before_server[0]}))
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

    # The server imports distributed on another core while the driver does (it starts first).
    assert runs["distributed_before_server"] is False
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


def test_a_working_directory_with_another_copy_of_an_imported_package_means_spawned_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dask
    import distributed  # noqa: F401  (imported here, from the environment)

    def method_inside() -> str:
        with forked_workers(processes=True):
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
    monkeypatch.setattr(local, "WORKER_PRELOAD", [*WORKER_PRELOAD, "dask_runner_probe_preload"])
    (tmp_path / "dask_runner_probe_preload.py").write_text("")
    assert working_directory_shadows_imports()
    assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
