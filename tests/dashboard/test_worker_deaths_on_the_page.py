"""Worker deaths and re-runs reach the page: a runner that kills its worker, on a process cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from dashboard_helpers import batch_named, counts_of, get_json, json_counts  # noqa: E402
from workers.runners_for_tests import ScriptedRunner  # noqa: E402

from dask_runner.dashboard.install import status_link  # noqa: E402
from dask_runner.dask.pool import DaskDistributed  # noqa: E402
from dask_runner.execution.executor import execute_runners  # noqa: E402

pytestmark = [pytest.mark.processes, pytest.mark.slow]


def test_a_runner_that_kills_its_worker_shows_as_deaths_reruns_and_one_worker_lost_failure() -> None:
    runners = [ScriptedRunner(f"k{i}", "kill" if i == 2 else "ok", 0.2, planner="idm") for i in range(5)]
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0", max_group_size=1,
                         max_worker_deaths=2) as pool:
        reports = execute_runners(runners, pool, experiment_name="deaths")
        url = status_link(pool.client)
        assert url is not None
        status = get_json(url)
    batch = batch_named(status, "deaths")
    assert batch is not None and json_counts(batch) == counts_of(reports) == {"idm": (4, 1)}
    assert [(f["runner_id"], f["stage"]) for f in batch["failures"]] == [("k2", "worker_lost")]
    assert status["worker_deaths"] >= 2  # the killer ran alone twice, each time killing its worker
    assert batch["reruns"] >= 1
    kinds = [e["kind"] for e in status["cluster_events"]]
    assert "death" in kinds and "re-run" in kinds
