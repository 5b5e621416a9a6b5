"""Connecting to a scheduler that already runs: by address (``tcp://host:8786``) or by scheduler file.

This is how batches run on HPC: one ``dask scheduler --scheduler-file f.json`` plus workers started by
SLURM, and the driver connects with the same file.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import Client

DEFAULT_SCHEDULER_PORT = 8786


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


def connect_client(address: str | None = None, scheduler_file: str | None = None, timeout: float = 30) -> Client:
    """A ``distributed.Client`` on an existing scheduler, given exactly one of ``address`` or ``scheduler_file``."""
    if (address is None) == (scheduler_file is None):
        raise ConfigError("pass exactly one of address= or scheduler_file=, e.g. "
                          "connect_client(address='tcp://10.0.0.5:8786') or "
                          "connect_client(scheduler_file='scheduler.json')")
    if timeout <= 0:
        raise ConfigError(f"timeout must be positive seconds, got {timeout!r}; e.g. connect_client(..., timeout=30)")

    from distributed import Client

    if scheduler_file is not None:
        started = time.monotonic()
        wait_for_file(scheduler_file, timeout)
        remaining = max(1.0, timeout - (time.monotonic() - started))
        try:
            return Client(scheduler_file=scheduler_file, timeout=remaining)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"could not reach the scheduler named in {scheduler_file!r} ({exc}); the file may be stale "
                "from an earlier run (delete it before starting the scheduler), or the scheduler is down "
                "or not reachable from this host"
            ) from exc

    assert address is not None
    target = normalize_address(address)
    try:
        return Client(target, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"could not reach the Dask scheduler at {target} within {timeout:g} s ({exc}); check that "
            "`dask scheduler` runs there, that the port is open from this host, and the protocol (tcp://, tls://)"
        ) from exc
