"""start_local_cluster: sized to the machine, loopback only, CPU resources, dashboard fallback, validation."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from distributed import Client

from dask_runner.dask.clusters.local import local_cluster_size, start_local_cluster, usable_cpu_count
from dask_runner.errors import ConfigError


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A loopback port that something else listens on, as when another Dask session holds 8787."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _workers(cluster) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(cluster.scheduler_info["workers"].values())


def test_default_size_is_one_single_threaded_process_per_usable_core() -> None:
    cpus = usable_cpu_count()
    assert cpus == len(os.sched_getaffinity(0))
    assert local_cluster_size(None, None, processes=True) == (cpus, 1)
    assert local_cluster_size(None, 2, processes=True) == (max(1, cpus // 2), 2)
    assert local_cluster_size(3, None, processes=True) == (3, max(1, cpus // 3))
    assert local_cluster_size(None, None, processes=False) == (1, cpus)


def test_in_process_cluster_declares_cpu_and_extra_resources_and_runs_tasks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    local = tmp_path / "dask-space"
    with start_local_cluster(n_workers=2, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0",
                             resources={"GPU": 1}, local_directory=str(local)) as cluster:
        workers = _workers(cluster)
        assert len(workers) == 2
        assert all(w["nthreads"] == 2 for w in workers)
        assert all(w["resources"] == {"CPU": 2.0, "GPU": 1.0} for w in workers)
        with Client(cluster) as client:
            assert client.submit(sum, [1, 2, 3], resources={"GPU": 0.5}).result(timeout=30) == 6
    assert local.is_dir()


def test_dashboard_moves_to_a_free_port_when_the_asked_one_is_taken(occupied_port: int,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with start_local_cluster(processes=False, n_workers=1, threads_per_worker=1,
                             dashboard_address=f"127.0.0.1:{occupied_port}") as cluster:
        port = cluster.scheduler.http_server.port
        assert port != occupied_port
        assert str(port) in cluster.dashboard_link
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    assert f"Dashboard port {occupied_port}" in caplog.text


def test_no_dashboard_keeps_http_on_loopback() -> None:
    with start_local_cluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        assert "dashboard" not in cluster.scheduler.services or cluster.scheduler.http_server is not None
        sockets = cluster.scheduler.http_server._sockets.values()
        assert all(s.getsockname()[0] == "127.0.0.1" for s in sockets)


@pytest.mark.processes
def test_process_cluster_listens_on_loopback_only_and_with_tls() -> None:
    with start_local_cluster(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0",
                             memory_limit="1GB") as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        info = _workers(cluster)[0]
        assert info["host"] == "127.0.0.1"
        assert info["id"] is not None and info["nanny"].startswith("tls://127.0.0.1:")  # a nanny runs code too
        assert info["memory_limit"] == 10**9
        assert client.submit(os.getpid, pure=False).result(timeout=30) != os.getpid()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_workers": 0}, "n_workers must be a positive integer"),
        ({"threads_per_worker": 1.5}, "threads_per_worker must be a positive integer"),
        ({"memory_limit": "four gigs"}, "memory_limit 'four gigs'"),
        ({"memory_limit": -1}, "must not be negative"),
        ({"resources": {"GPU": -1}}, "non-negative number"),
        ({"resources": ["GPU"]}, "resources must be a dict"),
        ({"dashboard_address": "127.0.0.1:http"}, "HOST:PORT"),
        ({"processes": "yes"}, "processes must be True or False"),
        ({"security": "yes"}, "security must be true"),
    ],
)
def test_bad_arguments_fail_before_anything_starts_and_show_a_correct_call(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match="e.g.") as info:
        start_local_cluster(**kwargs)
    assert fragment in str(info.value)
