"""The real Grid Engine the tests in this folder run on (see ``local_sge``): started once per session when the
first test needs it, stopped afterwards by process id. Its variables (SGE_ROOT, SGE_CELL and the ports) are set
in this process for the session, so that ``qsub``/``qstat``/``qdel`` called by dask-jobqueue reach this cell."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_sge import LocalGridEngine
from sync_helpers import wait_until


@pytest.fixture(scope="session")
def sge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGridEngine]:
    if os.geteuid() != 0:
        pytest.skip("the test Grid Engine needs root (apt-get, sge_execd); `make test` runs as root")
    cell = LocalGridEngine(Path(tmp_path_factory.mktemp("sge")))
    previous = {name: os.environ.get(name) for name in cell.variables}
    try:
        cell.start()
        os.environ.update(cell.variables)
        yield cell
    finally:
        cell.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def clean_sge(sge: LocalGridEngine) -> Iterator[LocalGridEngine]:
    """The cell with an empty queue before and after the test."""
    sge.delete_all()
    wait_until(lambda: not sge.jobs(), 120, "the jobs of earlier tests to leave the queue", interval_s=0.2)
    yield sge
    sge.delete_all()
