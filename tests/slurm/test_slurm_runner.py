"""worker=dask_slurm_runner on the real three-node SLURM: ``srun -n N dask-runner simulate ...`` as a user runs it.

Every rank runs the same command with this checkout first on PYTHONPATH; rank 0 is the scheduler, rank 1
the driver, the others workers, spread over the nodes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from local_slurm import LocalSlurm
from other_user import OtherUser
from sync_helpers import wait_until

from dask_runner.dask.clusters.tls import CERTIFICATE, KEY, security_from_pem

pytest.importorskip("dask_jobqueue")
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]  # set-up may apt-get SLURM

REPO = Path(__file__).resolve().parents[2]
QUICK = ["show_progress=false", "html_report=false", "planner=simple_planner"]


def srun(ranks: int, run_dir: Path, *overrides: str, shell_prefix: str = "") -> subprocess.Popen[str]:
    """Start ``srun -n ranks dask-runner simulate worker=dask_slurm_runner ...``; output in run_dir/srun.log.

    ``shell_prefix``: shell commands each rank runs first (in ``bash -c``), e.g. to set one rank's environment.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    shell = ["bash", "-c", f'{shell_prefix}; exec "$@"', "rank"] if shell_prefix else []
    # Appending: each node opens the file, and without it each would write over what the others wrote.
    command = ["srun", f"--ntasks={ranks}", "--output", str(run_dir / "srun.log"), "--open-mode=append", *shell, sys.executable, "-m",
               "dask_runner.cli", "simulate", "worker=dask_slurm_runner", "worker.interface=lo",
               "worker.dashboard_port=0", f"worker.scheduler_file='{run_dir}/scheduler-{{job_id}}.json'",
               f"output_dir={run_dir / 'out'}", *QUICK, *overrides]
    return subprocess.Popen(command, env=env, cwd=run_dir, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def address_in(scheduler_file: Path) -> str | None:
    try:
        return str(json.loads(scheduler_file.read_text())["address"])
    except (ValueError, KeyError):  # not completely written yet
        return None


def finished(process: subprocess.Popen[str], run_dir: Path) -> str:
    output, _ = process.communicate(timeout=600)
    log = (run_dir / "srun.log").read_text() if (run_dir / "srun.log").exists() else ""
    assert process.returncode == 0, output[-3000:] + log[-5000:]
    return log


def test_tls_by_default_inside_one_allocation_and_another_user_cannot_connect_nor_read_the_certificates(
        clean_queue: LocalSlurm, other_user: OtherUser, shared_tmp: Path) -> None:
    """A batch over TLS finishes; the scheduler takes no plain connection nor one with another certificate; the
    shared key is private to its owner, then gone."""
    from distributed import Client

    total = 16
    process = srun(5, shared_tmp, f"scenario_filter.limit_total_scenarios={total}")
    try:
        scheduler_file = wait_until(lambda: next(shared_tmp.glob("scheduler-*.json"), None), 180,
                                    "rank 0 to write the scheduler file")
        address = wait_until(lambda: address_in(scheduler_file), 30, "the scheduler's address")
        assert address.startswith("tls://127.0.0.1:")
        folder = next(shared_tmp.glob("dask-runner-tls-*"))
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {CERTIFICATE: 0o600, KEY: 0o600}
        seen = other_user.attack(address, files=[scheduler_file, folder, folder / KEY, folder / CERTIFICATE])
        # ... while the scheduler was there all along for a client with the allocation's certificates.
        security = security_from_pem((folder / CERTIFICATE).read_text(), (folder / KEY).read_text())
        with Client(address, security=security, timeout="30s") as client:
            workers = wait_until(lambda: client.scheduler_info(n_workers=-1)["workers"] or None, 120,
                                 "a worker rank to join")
            assert all(worker.startswith("tls://") for worker in workers)
    finally:
        log = finished(process, shared_tmp)
    assert seen["plain"].startswith("refused:") and seen["tls with a certificate of its own"].startswith("refused:"), seen
    assert seen["files"][str(scheduler_file)].startswith("read:")  # an address is no secret; the key is
    assert all(seen["files"][str(path)] == "denied: PermissionError"
               for path in (folder, folder / KEY, folder / CERTIFICATE)), seen["files"]
    reports = pd.read_parquet(shared_tmp / "out" / "runner_report.parquet")
    assert len(reports) == total and reports["succeeded"].all(), log[-3000:]
    assert not list(shared_tmp.glob("dask-runner-tls-*"))  # rank 0 deleted the key when its scheduler stopped


def test_only_the_driver_builds_the_runners_and_reports_a_configuration_error_then_all_ranks_end(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """The scheduler and worker ranks learn their role first and build nothing; the driver's error ends them."""
    process = srun(4, tmp_path, "scenario_filter.limit_total_scenarios=-1")
    output, _ = process.communicate(timeout=300)  # the ranks that serve do not wait for a driver that stopped
    log = (tmp_path / "srun.log").read_text()
    assert process.returncode != 0, log[-3000:]
    assert log.count("limit_total_scenarios must be >= 0") == 1, log[-3000:]  # rank 1 only: no other rank built it
    assert not (tmp_path / "out").exists()


def test_a_finished_batch_resumed_ends_the_allocation_and_only_the_driver_says_so(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    finished(srun(3, tmp_path, "scenario_filter.limit_total_scenarios=4"), tmp_path)
    log = finished(srun(3, tmp_path, "scenario_filter.limit_total_scenarios=4", "resume=true"), tmp_path)
    assert log.count("All 4 runners are already reported") == 1, log[-3000:]
    assert len(pd.read_parquet(tmp_path / "out" / "runner_report.parquet")) == 4


def test_worker_ranks_that_cannot_import_the_planners_module_end_the_batch_naming_it(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """The planner comes from a folder only the driver rank has on its path: the batch ends, naming the module."""
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "rank_lab_planners.py").write_text(
        "from dask_runner.planners.simple_planner import SimplePlanner\n\nclass LabPlanner(SimplePlanner):\n    pass\n")
    # Rank 1, the driver, alone sees the lab folder.
    process = srun(4, tmp_path, "planner.simple_planner._target_=rank_lab_planners.LabPlanner",
                   "scenario_filter.limit_total_scenarios=8",
                   shell_prefix=f'[ "$SLURM_PROCID" = 1 ] && export PYTHONPATH={lab}:$PYTHONPATH')
    process.communicate(timeout=300)  # before, the worker ranks left on their first task and the batch waited
    log = (tmp_path / "srun.log").read_text()
    assert process.returncode != 0, log[-3000:]
    assert "'rank_lab_planners'" in log and "cannot import" in log and "PYTHONPATH" in log, log[-3000:]


def test_worker_ranks_that_get_there_after_the_batch_ended_leave_and_the_job_succeeds(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """Ranks held back before Python starts, as nuPlan's imports hold them: rank 3 until the batch's report is
    written (the scheduler closing or closed), rank 4 until rank 0 has gone too (its scheduler file and
    certificates removed). Both leave with status 0, so srun returns 0, with every output there.

    Before, rank 4 waited ``start_timeout_s`` for the removed certificates and failed the job; without TLS
    (or with them still there) a late rank waited for the gone scheduler forever and srun never returned.
    """
    out = tmp_path / "out"
    batch_ended = f"[ -e {out}/runner_report.parquet ]"
    rank_0_gone = (f"! compgen -G '{tmp_path}/scheduler-*.json' >/dev/null "
                   f"&& ! compgen -G '{tmp_path}/dask-runner-tls-*' >/dev/null")
    hold_back = (f'if [ "$SLURM_PROCID" = 3 ]; then until {batch_ended}; do sleep 0.1; done; fi; '
                 f'if [ "$SLURM_PROCID" = 4 ]; then until {batch_ended} && {rank_0_gone}; do sleep 0.1; done; fi')
    process = srun(5, tmp_path, "scenario_filter.limit_total_scenarios=4", shell_prefix=hold_back)
    try:
        process.communicate(timeout=300)  # a late rank waiting for the gone scheduler would keep srun here
    finally:
        process.kill()  # srun's own process only; SLURM ends the step's ranks when srun goes
    log = (tmp_path / "srun.log").read_text()
    assert process.returncode == 0, log[-5000:]
    assert log.count("ended the batch before this worker joined") == 2, log[-5000:]
    reports = pd.read_parquet(out / "runner_report.parquet")
    assert len(reports) == 4 and reports["succeeded"].all(), log[-3000:]
    assert (out / "aggregator_metric").is_dir()
    # The last rank to leave removed the step's record; nothing of the step runs any more.
    assert not list(tmp_path.glob("dask-runner-step-*")) and not list(tmp_path.glob("dask-runner-tls-*"))
    wait_until(lambda: not clean_queue.squeue(), 60, "the step's job to leave the queue", interval_s=0.2)
