"""status.json on a cluster dask_runner starts (in-process, fast): two batches told apart, exact counts."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from dashboard_helpers import (  # noqa: E402
    batch_named,
    counts_of,
    get_json,
    get_text,
    http_base,
    json_counts,
    wait_for_batch,
)
from workers.runners_for_tests import ScriptedRunner  # noqa: E402

from dask_runner.dashboard.routes import STATUS_ROUTE as STATUS  # noqa: E402
from dask_runner.dask.pool import DaskDistributed  # noqa: E402
from dask_runner.execution.executor import execute_runners  # noqa: E402


@pytest.fixture(scope="module")
def pool() -> Iterator[DaskDistributed]:
    with DaskDistributed(processes=False, threads_per_worker=2, dashboard_address="127.0.0.1:0") as dask_pool:
        yield dask_pool


def runners(prefix: str, count: int) -> list[ScriptedRunner]:
    return [ScriptedRunner(f"{prefix}{i}", "fail" if i % 4 == 1 else "ok", planner=("idm", "simple")[i % 2])
            for i in range(count)]


def test_a_cluster_we_start_serves_the_page_from_the_start(pool: DaskDistributed) -> None:
    assert pool.simulations_page is not None and pool.simulations_page.endswith("/individual-simulations")
    base = http_base(pool.client)
    assert "Bokeh" in get_text(base + "/individual-simulations")
    assert "individual-simulations" in get_text(base + "/status")  # in the "More..." menu
    assert "/individual-simulations" in get_text(base + "/individual-plots.json")


def test_two_batches_are_told_apart_and_counted_exactly(pool: DaskDistributed) -> None:
    baseline = execute_runners(runners("a", 10), pool, experiment_name="baseline")
    candidate = execute_runners(runners("b", 7), pool, experiment_name="candidate")
    status = get_json(http_base(pool.client) + STATUS)
    for name, reports in (("baseline", baseline), ("candidate", candidate)):
        batch = batch_named(status, name)
        assert batch is not None and batch["state"] == "finished"
        assert json_counts(batch) == counts_of(reports)
        assert batch["total"]["running"] == batch["total"]["queued"] == 0
        assert {f["runner_id"] for f in batch["failures"]} == {r.runner_id for r in reports if not r.succeeded}
        assert all(f["error"].startswith("ValueError: planner exploded") for f in batch["failures"])
    assert status["running"] == []


def test_a_batch_stopped_by_its_first_failure_says_so(pool: DaskDistributed) -> None:
    from dask_runner.errors import SimulationFailedError

    seen = []
    with pytest.raises(SimulationFailedError):
        execute_runners(runners("c", 8), pool, exit_on_failure=True, experiment_name="stops", on_report=seen.append)
    url = http_base(pool.client) + STATUS
    # A stopped batch's last event is sent without holding up the exception: wait for it to land.
    batch = wait_for_batch(url, "stops", "stopped")
    assert json_counts(batch) == {**{"idm": (0, 0), "simple": (0, 0)}, **counts_of(seen)}


def test_switched_off_by_dask_config(caplog: pytest.LogCaptureFixture) -> None:
    import dask

    with dask.config.set({"dask_runner.simulations-page": False}), caplog.at_level(logging.INFO):
        with DaskDistributed(processes=False, threads_per_worker=1, dashboard_address="127.0.0.1:0") as off:
            assert off.simulations_page is None
            assert off.client.run_on_scheduler(lambda dask_scheduler: "dask_runner-simulations"
                                               in dask_scheduler.plugins) is False
    assert not [r for r in caplog.records if "Simulations page" in r.getMessage()]


def test_the_scheduler_does_not_keep_our_events_once_counted(pool: DaskDistributed,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from dask_runner.dashboard import events, plugin

    monkeypatch.setattr(plugin, "KEEP_OWN_EVENTS", 5)  # the scheduler is in this process
    for number in range(12):
        pool.client.log_event(events.TOPIC, events.progress_message("no-such-batch", {}, {}, [], [], float(number)))
    assert len(pool.client.get_events(events.TOPIC)) < 5
