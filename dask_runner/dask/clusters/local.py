"""A Dask ``LocalCluster`` sized to this machine: the default place simulations run.

Python planners are held back by the GIL, so the default is one worker process per usable core with
one thread each. Every worker declares a ``CPU`` resource equal to its threads, so tasks that ask for
CPUs are placed by the same rules on a laptop as on a cluster.

Worker processes are forked from a fork server that has already imported what every worker imports
(``fork_server``), instead of being spawned to import it all again each.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from dask_runner.dask.clusters.fork_server import FORK_SERVER
from dask_runner.dask.compat import nanny_keeping_local_cluster, poll_worker_start_often
from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import LocalCluster
    from distributed.security import Security

logger = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
EXAMPLE_CALL = "start_local_cluster(n_workers=4, threads_per_worker=1, memory_limit='4GB')"



def usable_cpu_count() -> int:
    """CPUs this process may run on (affinity-aware: a SLURM job or taskset sees its share, not the node)."""
    try:
        return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _split_host_port(address: str) -> tuple[str, int]:
    text = address.split("://", 1)[-1]
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, "0"
    if not host:
        host = LOCALHOST
    try:
        port = int(port_text)
    except ValueError as exc:
        raise ConfigError(
            f"dashboard_address {address!r} is not HOST:PORT; pass e.g. dashboard_address='127.0.0.1:8787' "
            "(port 0 picks a free one)"
        ) from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"dashboard_address {address!r} has port {port} outside 0-65535; "
                          "pass e.g. dashboard_address='127.0.0.1:8787'")
    return host, port


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP server could listen on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def resolve_dashboard_address(dashboard_address: str | None) -> str | None:
    """The address to give Dask: the one asked for, or a free port on the same host when it is taken.

    Port 8787 is often held by another Dask session (or a notebook); failing a whole batch over the
    dashboard would be wrong, so we move to a free port and say where in the log.
    """
    if dashboard_address is None or dashboard_address == "":
        return None
    host, port = _split_host_port(dashboard_address)
    if port == 0 or port_is_free(host, port):
        return f"{host}:{port}"
    logger.warning("Dashboard port %s on %s is taken; the dashboard will use a free port instead "
                   "(see cluster.dashboard_link)", port, host)
    return f"{host}:0"


def validate_memory_limit(memory_limit: str | float | None) -> None:
    """Fail at construction for a memory limit Dask would reject later inside every worker."""
    if memory_limit is None or memory_limit == "auto":
        return
    if isinstance(memory_limit, bool):
        raise ConfigError(f"memory_limit must be 'auto', a size like '4GB', a number of bytes or a fraction "
                          f"of RAM, got {memory_limit!r}; e.g. {EXAMPLE_CALL}")
    if isinstance(memory_limit, (int, float)):
        if memory_limit < 0:
            raise ConfigError(f"memory_limit must not be negative, got {memory_limit!r}; e.g. {EXAMPLE_CALL}")
        return
    if isinstance(memory_limit, str):
        from dask.utils import parse_bytes

        try:
            parse_bytes(memory_limit)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"memory_limit {memory_limit!r} is not a size Dask understands; pass 'auto', "
                              f"'4GB', '512MiB' or a number of bytes, e.g. {EXAMPLE_CALL}") from exc
        return
    raise ConfigError(f"memory_limit must be 'auto', a size string, a number or None, got "
                      f"{type(memory_limit).__name__}; e.g. {EXAMPLE_CALL}")


def validate_resources(resources: dict[str, float] | None) -> dict[str, float]:
    """Resource names map to non-negative numbers (Dask compares them as floats)."""
    if resources is None:
        return {}
    if not isinstance(resources, dict):
        raise ConfigError(f"resources must be a dict, got {type(resources).__name__}; e.g. resources={{'GPU': 1}}")
    checked: dict[str, float] = {}
    for name, amount in resources.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"resource names must be non-empty strings, got {name!r}; e.g. resources={{'GPU': 1}}")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ConfigError(f"resource {name!r} must be a non-negative number, got {amount!r}; "
                              "e.g. resources={'GPU': 1}")
        checked[name] = float(amount)
    return checked


def _check_positive_int(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer or None (sized to the machine), got {value!r}; "
                          f"e.g. {EXAMPLE_CALL}")


def local_cluster_size(n_workers: int | None, threads_per_worker: int | None, processes: bool) -> tuple[int, int]:
    """(workers, threads per worker): one single-threaded process per core unless told otherwise.

    In-process clusters (``processes=False``) share one GIL anyway, so they default to one worker with a
    thread per core.
    """
    cpus = usable_cpu_count()
    if not processes and n_workers is None:
        return 1, threads_per_worker or cpus
    if n_workers is None:
        threads = threads_per_worker or 1
        return max(1, cpus // threads), threads
    return n_workers, threads_per_worker or max(1, cpus // n_workers)


@dataclass(frozen=True)
class LocalClusterSettings:
    """The settings of a local cluster, checked at construction. These defaults are the only ones: the
    keywords of ``DaskDistributed`` and the worker YAML files' schema (``dask_runner.dask.worker_schemas``) take them.

    ``memory_limit`` is per worker ("auto" splits the RAM between workers; None or 0 means no limit).
    ``local_directory`` holds the workers' spill files and temporary data (defaults to Dask's choice).
    ``dashboard_address=None`` runs without a dashboard; a taken port moves to a free one.
    ``security``: the workers and clients must hold the cluster's own temporary TLS certificate (True), one
    given as a ``distributed.security.Security``, or none (False: anyone who can reach the port can run
    code as you; logged). In-process clusters (``processes=False``) open no port, so it does not apply.
    """

    n_workers: int | None = None  # worker processes; None = one per usable CPU
    threads_per_worker: int | None = None  # None = 1 (Python planners hold the GIL)
    memory_limit: str | float | None = "auto"
    local_directory: str | None = None
    dashboard_address: str | None = "127.0.0.1:8787"
    processes: bool = True
    resources: dict[str, float] | None = None  # extra resources each worker declares, e.g. {"GPU": 1}
    security: bool | Security = True

    def __post_init__(self) -> None:
        _check_positive_int("n_workers", self.n_workers)
        _check_positive_int("threads_per_worker", self.threads_per_worker)
        validate_memory_limit(self.memory_limit)
        validate_resources(self.resources)
        if not isinstance(self.processes, bool):
            raise ConfigError(f"processes must be True or False, got {self.processes!r}; e.g. {EXAMPLE_CALL}")
        if self.dashboard_address:
            _split_host_port(self.dashboard_address)
        check_security(self.security)

    def changed(self) -> list[str]:
        """The settings that differ from the defaults."""
        return [f.name for f in fields(self) if getattr(self, f.name) != f.default]


def check_security(security: object) -> None:
    """``security`` is True, False or a ``distributed.security.Security``."""
    if isinstance(security, bool):
        return
    from distributed.security import Security

    if not isinstance(security, Security):
        raise ConfigError(f"security must be true (TLS with temporary certificates), false or a "
                          f"distributed.security.Security, got {security!r}; e.g. DaskDistributed(security=True)")


def cluster_security(security: bool | Security, processes: bool, cluster: str) -> Security | None:
    """What a cluster of processes this driver starts gets as ``security=`` (None: plain TCP, said in the log)."""
    if not processes:
        return None  # Dask's inproc transport: nothing outside this process can reach it
    if security is False:
        from dask_runner.dask.clusters.tls import warn_security_off

        warn_security_off(cluster)
        return None
    if security is True:
        from dask_runner.dask.clusters.tls import temporary_security

        return temporary_security()  # in memory: the workers get it as arguments of their process, not a file
    return security


def start_local_cluster(settings: LocalClusterSettings | None = None, **keys: Any) -> LocalCluster:
    """Start a ``LocalCluster`` on 127.0.0.1 whose workers declare ``{"CPU": threads}`` plus ``resources``.

    Its settings are :class:`LocalClusterSettings`, given as one or as its keywords:
    ``start_local_cluster(n_workers=4, threads_per_worker=1, memory_limit='4GB')``; ``local_directory`` is created
    when missing. Its dashboard's pages are attached in the background when first asked for (see
    ``background_dashboard``).
    """
    if settings is None:
        settings = local_cluster_settings(keys)
    elif keys:
        raise ConfigError(f"pass LocalClusterSettings or its keywords, not both (got {sorted(keys)} too); e.g. "
                          f"{EXAMPLE_CALL}")
    cluster, dashboard = start_local_cluster_for_pool(settings)
    if dashboard:
        from dask_runner.dask.clusters.background_dashboard import start_dashboard_in_background

        start_dashboard_in_background(cluster)
    return cluster


def local_cluster_settings(keys: dict[str, Any]) -> LocalClusterSettings:
    """``LocalClusterSettings(**keys)``, or a ConfigError that names the keys it has."""
    unknown = sorted(set(keys) - {f.name for f in fields(LocalClusterSettings)})
    if unknown:
        raise ConfigError(f"a local cluster has no setting {', '.join(unknown)}; its settings are "
                          f"{', '.join(f.name for f in fields(LocalClusterSettings))}, e.g. {EXAMPLE_CALL}")
    return LocalClusterSettings(**keys)


def start_local_cluster_for_pool(settings: LocalClusterSettings) -> tuple[LocalCluster, bool]:
    """(the cluster, whether it serves a dashboard): ``start_local_cluster`` without attaching the dashboard's
    pages, which a pool's ``OwnedCluster`` does."""
    processes, local_directory, dashboard_address = settings.processes, settings.local_directory, \
        settings.dashboard_address
    FORK_SERVER.prestart(processes)  # its imports run on another core while this process imports distributed
    extra = validate_resources(settings.resources)
    workers, threads = local_cluster_size(settings.n_workers, settings.threads_per_worker, processes)
    worker_resources = {"CPU": float(threads), **extra}
    dashboard = resolve_dashboard_address(dashboard_address) if _dashboard_possible(dashboard_address) else None
    if local_directory is not None:
        try:
            os.makedirs(local_directory, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"local_directory {local_directory!r} cannot be created ({exc}); pass a writable "
                              "folder, e.g. local_directory='/tmp/dask-runner'") from exc

    tls = cluster_security(settings.security, processes, "The local Dask cluster")
    memory_limit = settings.memory_limit
    cluster_cls = nanny_keeping_local_cluster()
    poll_worker_start_often()
    import dask_runner.dask.clusters.warm_versions  # noqa: F401  (the scheduler's, before its first worker registers)

    with FORK_SERVER.forked_workers(processes):
        try:
            cluster = _make_cluster(cluster_cls, workers, threads, memory_limit, local_directory, dashboard,
                                    processes, worker_resources, tls)
        except OSError as exc:
            if dashboard is None or dashboard.endswith(":0"):
                raise ClusterError(f"the local Dask cluster could not start: {exc}; check free ports and "
                                   "memory on 127.0.0.1") from exc
            # The port was free when we looked but taken before Dask bound it: retry on any free port.
            logger.warning("Dashboard address %s could not be bound (%s); using a free port", dashboard, exc)
            host = dashboard.rpartition(":")[0]
            try:
                cluster = _make_cluster(cluster_cls, workers, threads, memory_limit, local_directory,
                                        f"{host}:0", processes, worker_resources, tls)
            except OSError as retry_exc:
                raise ClusterError(f"the local Dask cluster could not start: {retry_exc}; check free ports "
                                   "and memory on 127.0.0.1") from retry_exc
    logger.info("Local Dask cluster: %d worker(s) x %d thread(s), resources %s, scheduler %s, dashboard %s",
                workers, threads, worker_resources, cluster.scheduler_address,
                cluster.dashboard_link if dashboard else "off")
    # Dask serves its HTTP routes (and a dashboard_link) even with the dashboard off: say which it is.
    return cluster, dashboard is not None


def _dashboard_possible(dashboard_address: str | None) -> bool:
    """Whether the asked-for dashboard can run here: Dask's needs bokeh 3 (nuPlan environments have 2.4)."""
    if not dashboard_address:
        return False
    from dask_runner.optional_dependencies import DASHBOARD

    reason = DASHBOARD.missing()
    if reason is not None:
        logger.warning("No Dask dashboard: it needs bokeh>=%s (%s); pip install 'dask_runner[%s]'",
                       DASHBOARD.minimum, reason, DASHBOARD.extra)
        return False
    return True


def _make_cluster(
    cluster_cls: type[LocalCluster],
    workers: int,
    threads: int,
    memory_limit: str | float | None,
    local_directory: str | None,
    dashboard: str | None,
    processes: bool,
    resources: dict[str, float],
    security: Security | None,
) -> LocalCluster:
    # In-process clusters talk over Dask's inproc transport, which takes no host; process clusters
    # listen on loopback only, so nothing is reachable from other machines, and with ``security`` (TLS:
    # Dask picks tls:// for it) only by processes holding the certificate, not by other users of this one.
    network: dict[str, object] = {"host": LOCALHOST} if processes else {}
    if security is not None:
        network["security"] = security
    # The scheduler starts without its dashboard pages (they are attached in the background, see
    # background_dashboard) but with its HTTP server: on the dashboard's address, or without a
    # dashboard on a free loopback port instead of 0.0.0.0:8787 (Dask still serves health routes).
    network["scheduler_kwargs"] = {"dashboard": False}
    if dashboard is None:
        dashboard = f"{LOCALHOST}:0"
    return cluster_cls(
        n_workers=workers,
        threads_per_worker=threads,
        memory_limit=memory_limit,
        local_directory=local_directory,
        dashboard_address=dashboard,
        processes=processes,
        resources=resources,
        **network,
    )
