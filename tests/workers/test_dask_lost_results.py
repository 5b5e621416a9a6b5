"""Results that reached the driver stay valid when the worker that held them dies before they are handled."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from runners_for_tests import scripted

from dask_runner.dask import batch as dask_execution
from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners


@pytest.mark.processes
def test_a_group_whose_summary_is_lost_after_it_arrived_keeps_its_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    handle = dask_execution.DaskBatch._handle
    lost: list[str] = []

    def handle_after_losing_the_first_summary(batch: Any, future: Any, result: Any) -> None:
        # The summary has arrived (as_completed delivered its result); now the worker process holding it is
        # killed, and Dask sets about computing it again elsewhere, before the batch has handled it.
        if future in batch.summaries and not lost:
            [address] = batch.client.who_has([future])[future.key]
            pid = batch.client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while future.status == "finished" and time.monotonic() < deadline:
                time.sleep(0.01)
            lost.append(future.status)
        handle(batch, future, result)

    monkeypatch.setattr(dask_execution.DaskBatch, "_handle", handle_after_losing_the_first_summary)
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address=None) as pool:
        reports = execute_runners(scripted(["ok"] * 6, seconds=0.3), pool)
    assert lost and lost[0] != "finished"  # the case arose: the future was no longer finished when handled
    assert [r.error_stage for r in reports] == [None] * 6, [r.error_message for r in reports]
