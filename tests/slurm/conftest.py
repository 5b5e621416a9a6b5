"""The real SLURM the tests in this folder run on: three emulated nodes on 127.0.0.1 (see ``local_slurm``).

Started once per session when the first test needs it, stopped afterwards by process id. ``SLURM_CONF`` is
set in this process for the session, so that ``sbatch``/``srun`` called by dask-jobqueue and by the tests'
subprocesses reach this cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_slurm import LocalSlurm
from sync_helpers import wait_until


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    if os.geteuid() != 0:
        pytest.skip("the test SLURM needs root (apt-get, slurmd); `make test` runs as root")
    cluster = LocalSlurm(Path(tmp_path_factory.mktemp("slurm")))
    previous = os.environ.get("SLURM_CONF")
    try:
        cluster.start()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        yield cluster
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture
def clean_queue(slurm: LocalSlurm) -> Iterator[LocalSlurm]:
    """The cluster with an empty queue before and after the test (a failed test leaves no jobs behind)."""
    slurm.cancel_all()
    wait_until(lambda: not slurm.squeue(), 120, "the jobs of earlier tests to leave the queue", interval_s=0.2)
    yield slurm
    slurm.cancel_all()
