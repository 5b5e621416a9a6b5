"""nuplan-devkit's unmodified run_simulation.py on the real SLURM of three nodes with worker=dask_slurm (worker jobs
submitted with sbatch): reports and metric files identical to nuPlan's worker=sequential.

Needs nuPlan's environment (tests/nuplan: ``DASK_RUNNER_NUPLAN_PYTHON``, ``DASK_RUNNER_NUPLAN_DEVKIT``); skipped,
with the reason, without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from local_slurm import LocalSlurm

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "nuplan"))

from test_nuplan_scripts import DEVKIT, PYTHON, REPO, assert_same_results, run_nuplan  # noqa: E402

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
