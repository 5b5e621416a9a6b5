"""A Dask ``LocalCluster`` sized to this machine: the default place simulations run.

Python planners are held back by the GIL, so the default is one worker process per usable core with
one thread each. Every worker declares a ``CPU`` resource equal to its threads, so tasks that ask for
CPUs are placed by the same rules on a laptop as on a cluster.

Worker processes are forked from a fork server that has already imported what every worker imports
(distributed and dask_runner's task functions), instead of being spawned to import it all again each.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING

from dask_runner.dask.compat import (
    PROCTITLE_PARENT_VARIABLE,
    UNKNOWN,
    distributed_config_defaults,
    forkserver_pid,
    load_distributed_config_defaults,
    nanny_keeping_local_cluster,
    poll_worker_start_often,
    skip_dask_forkserver_preload,
    stop_forkserver,
)
from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import LocalCluster
    from distributed.security import Security

logger = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
DASHBOARD_ATTRIBUTE = "dask_runner_dashboard"  # set on clusters we start: whether their dashboard runs
EXAMPLE_CALL = "start_local_cluster(n_workers=4, threads_per_worker=1, memory_limit='4GB')"

# What every worker process imports before its first task. Spawned workers imported it each, after the
# scheduler had started (about 1 s of CPU apiece); the fork server imports it once, on another core while
# the driver imports distributed and starts the scheduler (it is started before the driver imports
# distributed), and forks workers that are ready at once and exit without tearing the interpreter down
# (0.5 s less at close). Modules that fail to import are skipped by the server.
WORKER_PRELOAD = ["distributed", "dask_runner.dask.tasks", "dask_runner.dask.clusters.warm_versions"]

# (pid, environment) of the fork server this process started for its workers.
_forkserver_launch: tuple[int | None, dict[str, str]] | None = None
# A server started before dask was imported: the workers' variables it was given (from distributed's
# defaults) and the values they replaced here, until start_forkserver has checked them against Dask's config.
_unchecked_launch: tuple[dict[str, str], dict[str, str | None]] | None = None


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
    signatures of ``start_local_cluster`` and ``DaskDistributed`` and the worker YAML files refer to them.

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


def start_local_cluster(
    n_workers: int | None = LocalClusterSettings.n_workers,
    threads_per_worker: int | None = LocalClusterSettings.threads_per_worker,
    memory_limit: str | float | None = LocalClusterSettings.memory_limit,
    local_directory: str | None = LocalClusterSettings.local_directory,
    dashboard_address: str | None = LocalClusterSettings.dashboard_address,
    processes: bool = LocalClusterSettings.processes,
    resources: dict[str, float] | None = LocalClusterSettings.resources,
    security: bool | Security = LocalClusterSettings.security,
) -> LocalCluster:
    """Start a ``LocalCluster`` on 127.0.0.1 whose workers declare ``{"CPU": threads}`` plus ``resources``.

    The arguments are those of :class:`LocalClusterSettings`; ``local_directory`` is created when missing.
    """
    LocalClusterSettings(n_workers, threads_per_worker, memory_limit, local_directory, dashboard_address,
                         processes, resources, security)
    prestart_forkserver(processes)  # its imports run on another core while this process imports distributed
    extra = validate_resources(resources)
    workers, threads = local_cluster_size(n_workers, threads_per_worker, processes)
    worker_resources = {"CPU": float(threads), **extra}
    dashboard = resolve_dashboard_address(dashboard_address) if _dashboard_possible(dashboard_address) else None
    if local_directory is not None:
        try:
            os.makedirs(local_directory, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"local_directory {local_directory!r} cannot be created ({exc}); pass a writable "
                              "folder, e.g. local_directory='/tmp/dask-runner'") from exc

    tls = cluster_security(security, processes, "The local Dask cluster")
    cluster_cls = nanny_keeping_local_cluster()
    poll_worker_start_often()
    import dask_runner.dask.clusters.warm_versions  # noqa: F401  (the scheduler's, before its first worker registers)

    with forked_workers(processes):
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
    if dashboard is not None:
        from dask_runner.dask.clusters.background_dashboard import start_dashboard_in_background

        start_dashboard_in_background(cluster)  # its pages: imported while the first tasks run
    logger.info("Local Dask cluster: %d worker(s) x %d thread(s), resources %s, scheduler %s, dashboard %s",
                workers, threads, worker_resources, cluster.scheduler_address,
                cluster.dashboard_link if dashboard else "off")
    # Dask serves its HTTP routes (and a dashboard_link) even with the dashboard off: say which it is.
    setattr(cluster, DASHBOARD_ATTRIBUTE, dashboard is not None)
    return cluster


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


def worker_environ() -> dict[str, str]:
    """The variables a Nanny sets before it starts a worker process (``distributed.nanny.pre-spawn-environ``).

    As the Nanny does: the process environment overrides the config, a None value unsets, and the hash
    seed is fixed so that every worker hashes alike.
    """
    import dask

    return _environ_from(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})


def _environ_from(configured: Mapping[str, object]) -> dict[str, str]:
    environ = {name: os.environ.get(name, str(value)) for name, value in configured.items() if value is not None}
    if environ.get("PYTHONHASHSEED") in (None, "0"):
        environ["PYTHONHASHSEED"] = "6640"
    return {PROCTITLE_PARENT_VARIABLE: str(os.getpid()), **environ}


def use_forkserver(processes: bool) -> bool:
    """Whether the workers of a cluster we start fork from the fork server (the user kept Dask's spawn)."""
    import dask

    return (processes and dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
            and "forkserver" in multiprocessing.get_all_start_methods())


def start_forkserver() -> bool:
    """Start multiprocessing's fork server with the workers' environment and imports; False if unusable.

    Forked workers get the server's environment, not the one a Nanny sets just before it starts a
    worker, so the server starts with those variables (thread counts must be set before numpy loads;
    the Nanny leaves them in this process's environment anyway), and with the variable by which the
    Nanny names its workers' processes. A server we started for an earlier cluster is reused while this
    process's environment is still the one it started with; one started by someone else, or with
    another environment, is left alone and the workers are spawned instead. One started before dask was
    imported (``prestart_forkserver_before_dask``) is checked against Dask's config now, and started again
    when that config gives the workers other variables.
    """
    global _forkserver_launch, _unchecked_launch

    running = forkserver_pid()
    if running is UNKNOWN or working_directory_shadows_imports():
        return False
    wanted = worker_environ()
    if _unchecked_launch is not None and _forkserver_launch is not None and running == _forkserver_launch[0]:
        given, replaced = _unchecked_launch
        _unchecked_launch = None
        if wanted == given:
            _forkserver_launch = (running, {**os.environ, **wanted})
            return True
        logger.info("Dask's config gives the workers other variables than distributed's defaults; their fork "
                    "server starts again with them")
        _restore_environ(replaced)
        if not stop_forkserver():
            return False
        running = None
    environ = {**os.environ, **wanted}
    if running is not None:
        return _forkserver_launch == (running, environ)
    started = _launch_forkserver(wanted)
    if started is None:
        return False
    _forkserver_launch = (started, environ)
    return True


def _launch_forkserver(wanted: dict[str, str]) -> int | None:
    """Start the fork server with ``wanted`` set in this process's environment (it inherits it); its pid."""
    os.environ.update(wanted)
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_PRELOAD))
    from multiprocessing import forkserver

    forkserver.ensure_running()
    started = forkserver_pid()
    return started if isinstance(started, int) else None


def _restore_environ(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def prestart_forkserver(processes: bool) -> None:
    """Start the workers' fork server now, if the cluster about to start will fork from it.

    Called before this process imports distributed: the server's imports (distributed and the task
    code, ~0.5 s on 2 cores) then run on another core meanwhile, instead of after the driver's (see the
    README's Performance section). When dask is not imported yet either, the server starts before
    it too (``prestart_forkserver_before_dask``); otherwise the dask config in force (as for the
    cluster) sets its environment.
    """
    if "dask" not in sys.modules:
        prestart_forkserver_before_dask(processes)
        return
    load_distributed_config_defaults()
    if use_forkserver(processes):
        start_forkserver()
    else:
        stop_unchecked_forkserver()  # started before dask was imported, for a config that turns out not to want it


def prestart_forkserver_before_dask(processes: bool, pre_spawn_environ: Mapping[str, object] | None = None) -> None:
    """``prestart_forkserver`` while dask is not imported (``import dask`` is another ~0.1 s); else nothing.

    The server's environment then comes from distributed's defaults (its YAML file) with
    ``pre_spawn_environ`` over them (the overrides of ``distributed.nanny.pre-spawn-environ`` the caller
    sets next); ``start_forkserver`` checks it against Dask's config once dask is imported, and a caller
    that sets Dask config calls ``prestart_forkserver`` under it.
    """
    global _forkserver_launch, _unchecked_launch

    if "dask" in sys.modules or not processes or "forkserver" not in multiprocessing.get_all_start_methods():
        return
    defaults = distributed_config_defaults()
    running = forkserver_pid()
    if defaults is None or running is not None or working_directory_shadows_imports():
        return  # no defaults to go by, or a server already runs (UNKNOWN included): start_forkserver decides
    worker = defaults.get("distributed", {}).get("worker", {})
    if worker.get("multiprocessing-method", "spawn") != "spawn":
        return
    configured = {**(defaults.get("distributed", {}).get("nanny", {}).get("pre-spawn-environ") or {}),
                  **(pre_spawn_environ or {})}
    wanted = _environ_from(configured)
    replaced = {name: os.environ.get(name) for name in wanted}
    started = _launch_forkserver(wanted)
    if started is None:
        _restore_environ(replaced)
        return
    _forkserver_launch = (started, {**os.environ})
    _unchecked_launch = (wanted, replaced)


def stop_unchecked_forkserver() -> None:
    """Stop the server ``prestart_forkserver_before_dask`` started, unless a cluster has checked and used it
    since (the job ended before its pool, or Dask's config turned out to want no fork server of ours)."""
    global _unchecked_launch, _forkserver_launch

    if _unchecked_launch is None or _forkserver_launch is None or forkserver_pid() != _forkserver_launch[0]:
        return
    _restore_environ(_unchecked_launch[1])
    _unchecked_launch = _forkserver_launch = None
    stop_forkserver()


def working_directory_shadows_imports() -> bool:
    """Whether the working directory holds another copy of a module this process has imported.

    Python 3.11's fork server imports its preloads with the working directory first on its path, not
    with this process's path; such a copy would then replace, in every worker, the module used here
    (or, for a preload not imported here yet, the one this process would import).
    """
    import importlib.util

    try:
        cwd = os.getcwd()
        entries = {entry.partition(".")[0] for entry in os.listdir(cwd)}
    except OSError:
        return True
    preloads = {module.partition(".")[0] for module in WORKER_PRELOAD}
    for name in entries & ({module.partition(".")[0] for module in list(sys.modules)} | preloads):
        spec = PathFinder.find_spec(name, [cwd])
        if spec is None or spec.origin is None:
            continue
        here = getattr(sys.modules.get(name), "__spec__", None)
        if here is None and name not in sys.modules:
            try:
                here = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                here = None
        if spec.origin != getattr(here, "origin", None):
            return True
    return False


@contextlib.contextmanager
def forked_workers(processes: bool) -> Iterator[None]:
    """Within this block, Nannies fork their workers from the fork server (see WORKER_PRELOAD).

    Workers a Nanny restarts later (a hard time limit, a crash) are spawned as Dask does by default.
    """
    if not use_forkserver(processes):
        stop_unchecked_forkserver()  # started before dask was imported, for a config that turns out not to want it
        yield
        return
    if not start_forkserver():
        yield
        return
    import dask

    skip_dask_forkserver_preload()

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield


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
