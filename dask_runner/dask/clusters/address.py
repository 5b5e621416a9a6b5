"""Connecting to a scheduler that already runs: by address (``tcp://host:8786``) or by scheduler file.

This is how batches run on HPC: one ``dask scheduler --scheduler-file f.json`` plus workers started by
SLURM, and the driver connects with the same file. A ``tls://`` scheduler is reached with the credentials
Dask's config names (``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert`` and ``.key``), or
a ``Security`` given; a plain ``tcp://`` scheduler on another host is said in the log to be open to anyone
who can reach it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import Client
    from distributed.security import Security

logger = logging.getLogger(__name__)

DEFAULT_SCHEDULER_PORT = 8786
# How long a scheduler file's address may refuse connections before the file is called stale.
STALE_CHECK_S = 3.0


def normalize_address(address: str) -> str:
    """``10.0.0.5`` → ``tcp://10.0.0.5:8786``; full addresses (any protocol) pass through unchanged."""
    address = address.strip()
    if not address:
        raise ConfigError("the scheduler address is empty; pass e.g. address='tcp://10.0.0.5:8786'")
    if "://" in address:
        return address
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return f"tcp://{address}"
    # A bare host name or IP (IPv6 included) uses Dask's default scheduler port.
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"
    return f"tcp://{address}:{DEFAULT_SCHEDULER_PORT}"


def wait_for_file(path: str, timeout: float) -> None:
    """Block until ``path`` exists, or raise ClusterError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            raise ClusterError(
                f"scheduler file {path!r} did not appear within {timeout:g} s; start the scheduler with "
                f"`dask scheduler --scheduler-file {path}` (and check the path is on a filesystem the "
                "driver sees), or raise the timeout"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def scheduler_file_address(path: str) -> str:
    """The address a scheduler file names (``dask scheduler --scheduler-file`` writes it as JSON)."""
    try:
        with open(path) as handle:
            address = json.load(handle)["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"scheduler file {path!r} is not a Dask scheduler file ({exc}); delete it and start "
                           f"the scheduler with `dask scheduler --scheduler-file {path}`") from exc
    return str(address)


def answers(address: str, timeout: float) -> bool:
    """Whether something accepts TCP connections at a ``tcp://`` or ``tls://`` address (others: assumed yes)."""
    protocol, _, rest = address.partition("://")
    if protocol not in ("tcp", "tls"):
        return True
    host, _, port = rest.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                return True
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def check_not_stale(path: str, timeout: float = STALE_CHECK_S) -> None:
    """Fail fast when the scheduler a file names does not answer: a file left by an earlier job.

    ``dask scheduler`` writes the file once it listens, so a file whose address refuses connections for a
    few seconds belongs to a scheduler that is gone; waiting for the full connect timeout would only hide that.
    """
    address = scheduler_file_address(path)
    if answers(address, timeout):
        return
    written = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))
    raise ClusterError(
        f"scheduler file {path!r} is stale: it names {address} (written {written}), where no scheduler answers. "
        f"Delete it at the start of each job, before `dask scheduler --scheduler-file {path}` starts (as "
        "scripts/slurm/scheduler_file.sh does), or check that the scheduler is still running"
    )


def is_loopback(address: str) -> bool:
    """Whether a ``protocol://host:port`` address names this host's loopback interface."""
    host = address.partition("://")[2].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(address: str, security: bool | Security) -> None:
    """Before connecting: a ``tls://`` scheduler needs credentials (said now, not as an SSL error); plain TCP
    to another host (or, with ``security=False``, at all) is said in the log with what it allows."""
    protocol = address.partition("://")[0]
    if protocol == "tls" and security is not False:
        from distributed.security import Security

        credentials = security if isinstance(security, Security) else Security()  # Security() reads Dask's config
        if not credentials.get_tls_config_for_role("client").get("ca_file"):
            raise ConfigError(f"the scheduler at {address} uses TLS, but no credentials are named: set Dask's config "
                              "keys distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
                              "distributed.comm.tls.client.key (e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/path/ca.pem), "
                              "or pass DaskDistributed(address=..., security=Security(tls_ca_file=..., "
                              "tls_client_cert=..., tls_client_key=..., require_encryption=True))")
    if protocol != "tcp":
        return
    if security is False:
        from dask_runner.dask.clusters.tls import warn_security_off

        warn_security_off(f"The scheduler at {address}")
    elif not is_loopback(address):
        logger.warning("The scheduler at %s is reached by plain TCP, without TLS: anyone who can reach that port can "
                       "connect and run any code on its workers, as the user who started them. Start it with TLS "
                       "(dask scheduler and dask worker --tls-ca-file/--tls-cert/--tls-key) and name the credentials "
                       "in Dask's config (distributed.comm.tls.*), or run the batch on a cluster dask_runner starts "
                       "(worker=dask_slurm, worker=dask_slurm_runner: TLS by default)", address)


def connect_client(address: str | None = None, scheduler_file: str | None = None, timeout: float = 30,
                   security: bool | Security = True) -> Client:
    """A ``distributed.Client`` on an existing scheduler, given exactly one of ``address`` or ``scheduler_file``.

    ``security``: a ``distributed.security.Security`` to connect with; True or False use what Dask's config
    names (``distributed.comm.tls.*``). False says in the log that a plain ``tcp://`` scheduler is used on
    purpose; True warns only when it is on another host (see ``check_transport``).
    """
    if (address is None) == (scheduler_file is None):
        raise ConfigError("pass exactly one of address= or scheduler_file=, e.g. "
                          "connect_client(address='tcp://10.0.0.5:8786') or "
                          "connect_client(scheduler_file='scheduler.json')")
    if timeout <= 0:
        raise ConfigError(f"timeout must be positive seconds, got {timeout!r}; e.g. connect_client(..., timeout=30)")

    from distributed import Client

    credentials = None if isinstance(security, bool) else security  # None: the Client reads Dask's config
    if scheduler_file is not None:
        started = time.monotonic()
        wait_for_file(scheduler_file, timeout)
        check_not_stale(scheduler_file)
        check_transport(scheduler_file_address(scheduler_file), security)
        remaining = max(1.0, timeout - (time.monotonic() - started))
        try:
            return Client(scheduler_file=scheduler_file, timeout=remaining, security=credentials)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"could not reach the scheduler named in {scheduler_file!r} ({exc}); the file may be stale "
                "from an earlier run (delete it before starting the scheduler), or the scheduler is down "
                "or not reachable from this host"
            ) from exc

    assert address is not None
    target = normalize_address(address)
    check_transport(target, security)
    try:
        return Client(target, timeout=timeout, security=credentials)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"could not reach the Dask scheduler at {target} within {timeout:g} s ({exc}); check that "
            "`dask scheduler` runs there, that the port is open from this host, and the protocol (tcp://, tls://)"
        ) from exc
