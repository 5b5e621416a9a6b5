"""nuplan-devkit's unmodified run_simulation.py on the real SLURM of three nodes: worker=dask_slurm (worker jobs
submitted with sbatch) and, under srun, worker=dask_slurm_runner (one allocation); reports and metric files
identical to nuPlan's worker=sequential.

Needs nuPlan's environment (tests/nuplan: ``DASK_RUNNER_NUPLAN_PYTHON``, ``DASK_RUNNER_NUPLAN_DEVKIT``); skipped,
with the reason, without it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from local_slurm import LocalSlurm
from sync_helpers import wait_until

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "nuplan"))

from test_nuplan_scripts import DEVKIT, PYTHON, REPO, assert_same_results, reports, run_nuplan  # noqa: E402

pytest.importorskip("dask_jobqueue")
pytestmark = [
    pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(1500),
    pytest.mark.skipif(not (PYTHON and DEVKIT), reason="no nuplan-devkit environment: set DASK_RUNNER_NUPLAN_PYTHON "
                       "and DASK_RUNNER_NUPLAN_DEVKIT (nuplan-devkit is not on the package index; see the README)"),
]
# What a nuPlan user's job_script_prologue does: their code (here nuPlan's mock scenario builder) importable.
PROLOGUE = f"worker.job_script_prologue=['export PYTHONPATH={TESTS / 'nuplan'}:{REPO}']"


def test_nuplans_script_on_worker_jobs_matches_sequential(clean_queue: LocalSlurm, tmp_path: Path) -> None:
    result, expected = run_nuplan(tmp_path, "sequential", "worker=sequential")
    assert result.returncode == 0, result.stderr[-3000:]
    result, output = run_nuplan(tmp_path, "slurm", "worker=dask_slurm", "worker.jobs=2", "worker.cores=1",
                                "worker.memory=1GB", "worker.interface=lo", "worker.dashboard_port=null",
                                "worker.start_timeout_s=300", f"worker.log_directory={tmp_path}/worker-logs", PROLOGUE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting 4 simulations using DaskDistributed" in result.stdout + result.stderr
    assert_same_results(output, expected)
    assert list((tmp_path / "worker-logs").glob("*.err")), "no worker job ran"
    assert not clean_queue.squeue()  # the worker jobs were cancelled at the end


def processes_of_job(job_id: str) -> list[int]:
    """The processes still running with ``job_id``'s SLURM environment (its ranks and their children)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"SLURM_JOB_ID={job_id}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return found


def test_nuplans_script_inside_one_allocation_matches_sequential_and_every_rank_ends(
        clean_queue: LocalSlurm, tmp_path: Path) -> None:
    """Every rank runs nuPlan's script under srun; rank 4 is held back, as nuPlan's imports hold a rank back on a
    loaded machine, until the driver has closed the cluster at its exit (it recorded that it left the step)."""
    result, expected = run_nuplan(tmp_path, "sequential", "worker=sequential")
    assert result.returncode == 0, result.stderr[-3000:]
    driver_left = f"compgen -G '{tmp_path}/dask-runner-step-*/left-1' >/dev/null"
    hold_back = f'if [ "$SLURM_PROCID" = 4 ]; then until {driver_left}; do sleep 0.1; done; fi'

    def in_one_allocation(command: list[str]) -> list[str]:  # every rank runs nuPlan's script, under srun
        rank = ["bash", "-c", f'{hold_back}; exec "$@"', "rank", *command]
        return ["sbatch", "--wait", "--parsable", "--ntasks=5", f"--output={tmp_path}/job-%j.out", "--wrap",
                "srun --open-mode=append " + shlex.join(rank)]

    result, output = run_nuplan(tmp_path, "allocation", "worker=dask_slurm_runner", "worker.interface=lo",
                                f"worker.scheduler_file='{tmp_path}/scheduler-{{job_id}}.json'",
                                "worker.dashboard_port=null", launcher=in_one_allocation)
    job_output = "\n".join(p.read_text() for p in sorted(tmp_path.glob("job-*.out")))
    assert result.returncode == 0, (result.stderr + job_output)[-3000:]  # sbatch --wait: the job's exit status
    assert job_output.count("Starting 4 simulations using SLURMAllocationPool") == 1  # only the driver rank simulated
    assert "rank 4: the driver ended the batch before this worker joined" in job_output
    assert_same_results(output, expected)
    assert len(reports(output)) == 4
    # No rank is left: the queue is empty and no process of the job runs; the ranks' shared records are gone.
    job_id = result.stdout.strip().split(";")[0]
    wait_until(lambda: not clean_queue.squeue(), 60, "the finished job to leave the queue", interval_s=0.2)
    assert not processes_of_job(job_id)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("dask-runner-", "scheduler-"))]
