"""Private attributes of distributed and multiprocessing: checked at use, with a fallback and one log line."""

from __future__ import annotations

import logging
import os
from multiprocessing import forkserver

import pytest
from distributed import LocalCluster
from distributed.deploy.cluster import Cluster

from dask_runner.dask import compat
from dask_runner.dask.clusters.fork_server import FORK_SERVER


@pytest.fixture(autouse=True)
def _fresh_reports() -> None:
    compat._reported.clear()
    compat.nanny_keeping_local_cluster.cache_clear()


def test_they_are_all_present_in_the_distributed_we_support() -> None:
    assert compat.forkserver_pid() is not compat.UNKNOWN
    assert compat.nanny_keeping_local_cluster() is not LocalCluster
    import distributed.dashboard.scheduler
    import distributed.utils

    assert hasattr(distributed.utils, "_forkserver_preload_set")
    assert callable(distributed.dashboard.scheduler.connect)
    assert compat.distributed_config_file() == os.path.join(os.path.dirname(distributed.utils.__file__),
                                                                    "distributed.yaml")


def test_without_the_dashboards_connect_the_cluster_runs_without_its_pages(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        assert compat.connect_dashboard(object(), object()) is False
    assert "connect is missing" in caplog.text and "not served" in caplog.text


def test_without_the_fork_server_internals_workers_are_spawned(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(forkserver, "_forkserver", object())
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        assert compat.forkserver_pid() is compat.UNKNOWN
        assert FORK_SERVER.start() is False
        with FORK_SERVER.forked_workers(processes=True):
            import dask

            assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "_forkserver_pid is missing" in lines[0] and "spawn" in lines[0]


def test_without_the_cluster_hook_plain_local_clusters_are_used(monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delattr(Cluster, "_update_worker_status")
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        assert compat.nanny_keeping_local_cluster() is LocalCluster
    assert "lost-worker-timeout" in caplog.text


def test_without_dasks_preload_flag_nothing_breaks(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import distributed.utils

    monkeypatch.delattr(distributed.utils, "_forkserver_preload_set")
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        compat.skip_dask_forkserver_preload()
    assert "_forkserver_preload_set is missing" in caplog.text


def test_nannies_poll_for_their_started_worker_often(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    from distributed.nanny import WorkerProcess

    monkeypatch.setattr(WorkerProcess, "_init_msg_interval", 0.05)
    compat.poll_worker_start_often()
    assert WorkerProcess._init_msg_interval == compat.WORKER_START_POLL_S
    monkeypatch.delattr(WorkerProcess, "_init_msg_interval")
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        compat.poll_worker_start_often()
    assert "_init_msg_interval is missing" in caplog.text and "50 ms" in caplog.text


def test_without_a_way_to_stop_the_fork_server_it_is_left_alone(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(forkserver, "_forkserver", object())
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        assert compat.stop_forkserver() is False
    assert "_stop is missing" in caplog.text and "spawned" in caplog.text


def test_distributeds_defaults_are_read_without_importing_it() -> None:
    import dask

    defaults = compat.distributed_config_defaults()
    assert defaults is not None
    assert defaults["distributed"]["worker"]["multiprocessing-method"] == \
        dask.config.get("distributed.worker.multiprocessing-method", default="spawn")
    assert "OMP_NUM_THREADS" in defaults["distributed"]["nanny"]["pre-spawn-environ"]


def test_the_dashboards_undocumented_parts_are_present_on_a_scheduler_we_start() -> None:
    from dask_runner.dashboard.events import TOPIC

    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        scheduler = cluster.scheduler
        assert compat.dashboard_applications(scheduler) not in (None, [])
        assert compat.truncate_events(scheduler, TOPIC) is True
        assert isinstance(compat.dashboard_menu(scheduler), list)
    assert compat._reported == set()


def test_without_them_the_scheduler_side_says_so_once_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    bare = object()  # a scheduler whose distributed moved all of them
    with caplog.at_level(logging.WARNING, logger=compat.__name__):
        assert compat.truncate_events(bare, "topic") is False
        assert compat.truncate_events(bare, "topic") is False
        assert compat.dashboard_applications(bare) is None
        assert compat.add_http_routes(bare, []) is False
        assert compat.dashboard_menu(bare) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "Scheduler._broker is missing" in lines[0] and "applications is missing" in lines[1]
