"""The record the ranks of one srun step share: the batch's end, who has left, removed by the last to leave."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dask_runner.dask.clusters.allocation_step import AllocationStep

REPO = Path(__file__).resolve().parents[2]


def test_a_step_ends_once_and_its_folder_goes_with_the_last_rank_to_leave(tmp_path: Path) -> None:
    step = AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "0", ranks=3)
    assert not step.ended()
    step.leave(2)  # a worker rank whose part ended (the record is made on first use)
    step.end()
    assert step.ended()
    assert AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "0", ranks=3).ended()  # another rank sees it
    assert not AllocationStep.beside(tmp_path / "scheduler-7.json", "7", "1", ranks=3).ended()  # not the next step
    step.leave(1)
    step.leave(1)  # the driver closing twice counts once
    assert step.ended()  # rank 0 has not left: a late rank may still look for the end
    step.leave(0)
    assert not step.folder.exists()


def test_certificates_are_not_waited_for_once_the_batch_has_ended(tmp_path: Path) -> None:
    from dask_runner.dask.clusters.tls import load_certificates

    # rank 0 removed them with its scheduler; without give_up this waited start_timeout_s and failed the job
    assert load_certificates(tmp_path / "dask-runner-tls-7.0", timeout_s=3600, give_up=lambda: True) is None


JOB = "11"


def _worker_rank_joining(tmp_path: Path, connect_timeout: str) -> tuple[subprocess.Popen[str], socket.socket]:
    """dask-runner's command as rank 2 of a 3-rank srun step runs it (SLURM's variables, no SLURM), once its
    Nanny has connected to the address in the scheduler file: a listener that accepted the connection and
    closed, which stands for the scheduler (close the connection, and it has gone). ``connect_timeout``:
    Dask's timeout for reaching a scheduler."""
    env = {**os.environ, "SLURM_PROCID": "2", "SLURM_NTASKS": "3", "SLURM_JOB_ID": JOB, "SLURM_STEP_ID": "0",
           "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": connect_timeout,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with socket.socket() as scheduler:
        scheduler.bind(("127.0.0.1", 0))
        scheduler.listen()
        scheduler.settimeout(120)
        (tmp_path / f"scheduler-{JOB}.json").write_text(
            json.dumps({"address": f"tcp://127.0.0.1:{scheduler.getsockname()[1]}"}))
        rank = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", "simulate", "worker=dask_slurm_runner",
                                 "worker.interface=lo", "worker.security=false",
                                 f"worker.scheduler_file='{tmp_path}/scheduler-{{job_id}}.json'"],
                                cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            connection, _ = scheduler.accept()  # the rank's Nanny is joining
        except BaseException:
            rank.kill()
            raise
    return rank, connection


def _output_and_status(rank: subprocess.Popen[str]) -> tuple[str, int]:
    try:
        output, _ = rank.communicate(timeout=120)
    finally:
        rank.kill()
    return output, rank.returncode


@pytest.mark.slow
@pytest.mark.processes
def test_a_worker_rank_joining_a_scheduler_that_went_away_leaves_with_status_0_when_the_batch_ends(
        tmp_path: Path) -> None:
    """Once the driver has marked the batch as ended, the rank closes its Nanny and exits with status 0.
    Before, its Nanny retried the gone address until Dask's connect timeout (an hour here)."""
    pytest.importorskip("dask_jobqueue")
    rank, connection = _worker_rank_joining(tmp_path, connect_timeout="3600s")
    AllocationStep.beside(tmp_path / f"scheduler-{JOB}.json", JOB, "0", ranks=3).end()  # the driver, then
    connection.close()  # the scheduler closes
    output, status = _output_and_status(rank)
    assert status == 0, output[-3000:]
    assert "rank 2: the driver ended the batch before this worker joined" in output


@pytest.mark.slow
@pytest.mark.processes
def test_a_worker_rank_that_cannot_reach_the_scheduler_while_the_batch_runs_fails(tmp_path: Path) -> None:
    """A real failure stays one: the batch has not ended, the scheduler does not answer, the rank exits with
    an error (before, any closed connection while starting counted as the batch's end: status 0)."""
    pytest.importorskip("dask_jobqueue")
    rank, connection = _worker_rank_joining(tmp_path, connect_timeout="2s")
    connection.close()
    output, status = _output_and_status(rank)
    assert status != 0, output[-3000:]
    assert "before this worker joined" not in output
    step = AllocationStep.beside(tmp_path / f"scheduler-{JOB}.json", JOB, "0", ranks=3)
    assert not step.folder.exists()  # a rank that failed records no departure
