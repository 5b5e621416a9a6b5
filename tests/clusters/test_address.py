"""connect_client: an existing scheduler by address or by scheduler file, with errors that say what to check."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster
from sync_helpers import thread_is_inside, wait_until

from dask_runner.dask.clusters.address import connect_client, normalize_address, wait_for_file
from dask_runner.errors import ClusterError, ConfigError


@pytest.fixture(scope="module")
def tcp_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Path]]:
    """A scheduler on a loopback TCP port (workers in-process) that also wrote a scheduler file."""
    scheduler_file = tmp_path_factory.mktemp("sched") / "scheduler.json"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address="127.0.0.1:0",
                      scheduler_kwargs={"scheduler_file": str(scheduler_file)}) as cluster:
        yield cluster, scheduler_file


def test_bare_ip_gets_tcp_and_the_default_port() -> None:
    assert normalize_address("10.0.0.5") == "tcp://10.0.0.5:8786"
    assert normalize_address("10.0.0.5:9000") == "tcp://10.0.0.5:9000"
    assert normalize_address("tls://node1:8786") == "tls://node1:8786"
    assert normalize_address("node1") == "tcp://node1:8786"
    with pytest.raises(ConfigError, match="e.g."):
        normalize_address("  ")


def test_connects_by_address_without_protocol(tcp_cluster: tuple[LocalCluster, Path]) -> None:
    cluster, _ = tcp_cluster
    bare = cluster.scheduler_address.removeprefix("tcp://")
    with connect_client(address=bare, timeout=10) as client:
        assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
        assert client.scheduler.address == cluster.scheduler_address


def test_waits_for_a_scheduler_file_that_appears_later(tcp_cluster: tuple[LocalCluster, Path],
                                                       tmp_path: Path) -> None:
    _, real_file = tcp_cluster
    late = tmp_path / "late.json"
    waiter = threading.get_ident()

    def write_later() -> None:
        # Only once connect_client is inside wait_for_file: the file appears while it waits.
        wait_until(lambda: thread_is_inside(waiter, wait_for_file), 15, "connect_client to wait for the file")
        late.write_text(real_file.read_text())

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        with connect_client(scheduler_file=str(late), timeout=15) as client:
            assert client.scheduler.address == json.loads(real_file.read_text())["address"]
            assert client.submit(max, [4, 9], pure=False).result(timeout=30) == 9
    finally:
        writer.join()


def test_missing_scheduler_file_times_out_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "never.json"
    started = time.monotonic()
    with pytest.raises(ClusterError, match="did not appear within 0.5 s") as info:
        connect_client(scheduler_file=str(missing), timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert str(missing) in str(info.value)
    assert "dask scheduler --scheduler-file" in str(info.value)


def test_unreachable_address_names_it_and_what_to_check() -> None:
    with socket_closed_port() as port, pytest.raises(ClusterError, match=rf"tcp://127.0.0.1:{port}") as info:
        connect_client(address=f"127.0.0.1:{port}", timeout=1)
    assert "dask scheduler" in str(info.value)


def test_exactly_one_target_is_required() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        connect_client()
    with pytest.raises(ConfigError, match="exactly one"):
        connect_client(address="127.0.0.1", scheduler_file="s.json")


class socket_closed_port:
    """A loopback port with nothing listening (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Path]]:
    """A scheduler on a loopback TLS port with a temporary certificate, whose PEM files lie in ``folder``."""
    from distributed.security import Security

    from dask_runner.dask.clusters.tls import write_certificates

    security = Security.temporary()
    folder = tmp_path_factory.mktemp("tls") / "credentials"
    write_certificates(folder, security)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://", host="127.0.0.1",
                      security=security, dashboard_address="127.0.0.1:0") as cluster:
        yield cluster, folder


def test_a_tls_scheduler_is_reached_with_the_credentials_dasks_config_names(
        tls_cluster: tuple[LocalCluster, Path]) -> None:
    import dask

    cluster, folder = tls_cluster
    with dask.config.set({"distributed.comm.tls.ca-file": str(folder / "cert.pem"),
                          "distributed.comm.tls.client.cert": str(folder / "cert.pem"),
                          "distributed.comm.tls.client.key": str(folder / "key.pem")}):
        with connect_client(address=cluster.scheduler_address, timeout=10) as client:
            assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3


def test_a_tls_scheduler_is_reached_with_a_security_given_to_the_pool(tls_cluster: tuple[LocalCluster, Path]) -> None:
    from dask_runner.dask.pool import DaskDistributed

    cluster, _ = tls_cluster
    with DaskDistributed(address=cluster.scheduler_address, security=cluster.security) as pool:
        assert pool.client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3


def test_a_tls_scheduler_without_credentials_is_refused_at_once_naming_the_config_keys(
        tls_cluster: tuple[LocalCluster, Path]) -> None:
    cluster, _ = tls_cluster
    with pytest.raises(ConfigError, match=r"distributed\.comm\.tls\.ca-file.*security=Security"):
        connect_client(address=cluster.scheduler_address, timeout=10)


def test_plain_tcp_to_another_host_is_warned_about_and_security_false_says_what_it_allows(
        caplog: pytest.LogCaptureFixture) -> None:
    from dask_runner.dask.clusters.address import check_transport, is_loopback

    assert is_loopback("tcp://127.0.0.1:8786") and is_loopback("tcp://[::1]:8786") and is_loopback("tcp://localhost:1")
    assert not is_loopback("tcp://10.0.0.5:8786") and not is_loopback("tcp://node1:8786")
    check_transport("tcp://127.0.0.1:8786", True)
    assert not caplog.records  # this host's loopback: nothing to say here
    check_transport("tcp://10.0.0.5:8786", True)  # checked before connecting: no traffic leaves loopback
    assert "tcp://10.0.0.5:8786 is reached by plain TCP" in caplog.text and "distributed.comm.tls" in caplog.text
    caplog.clear()
    check_transport("tcp://127.0.0.1:8786", False)
    assert "runs without TLS (security=false)" in caplog.text and "run any code on its workers" in caplog.text
