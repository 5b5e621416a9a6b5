"""The fork server the local clusters' workers are forked from, already holding what every worker imports.

Spawned workers imported distributed and dask_runner's task code each, after the scheduler had started
(about 1 s of CPU apiece). Multiprocessing's fork server imports it once, on another core while the
driver imports distributed and starts the scheduler (it is started before the driver imports
distributed), and forks workers that are ready at once and exit without tearing the interpreter down
(0.5 s less at close). ``WorkersForkServer`` is the state of that server in this process: which one we
started, with which environment, and whether that environment has been checked against Dask's config.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Mapping
from importlib.machinery import PathFinder

from dask_runner.dask.compat import (
    PROCTITLE_PARENT_VARIABLE,
    UNKNOWN,
    distributed_config_defaults,
    forkserver_pid,
    load_distributed_config_defaults,
    skip_dask_forkserver_preload,
    stop_forkserver,
)

logger = logging.getLogger(__name__)

# What every worker process imports before its first task. Modules that fail to import are skipped by the server.
WORKER_PRELOAD = ["distributed", "dask_runner.dask.tasks", "dask_runner.dask.clusters.warm_versions"]


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


def _restore_environ(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def use_forkserver(processes: bool) -> bool:
    """Whether the workers of a cluster we start fork from the fork server (the user kept Dask's spawn)."""
    import dask

    return (processes and dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
            and "forkserver" in multiprocessing.get_all_start_methods())


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


class WorkersForkServer:
    """The fork server this process starts for its local workers (one per process: ``FORK_SERVER``)."""

    def __init__(self) -> None:
        # (pid, environment) of the server this process started for its workers.
        self._launched: tuple[int | None, dict[str, str]] | None = None
        # A server started before dask was imported: the workers' variables it was given (from distributed's
        # defaults) and the values they replaced here, until ``start`` has checked them against Dask's config.
        self._unchecked: tuple[dict[str, str], dict[str, str | None]] | None = None

    def launch(self, wanted: dict[str, str]) -> int | None:
        """Start the server with ``wanted`` set in this process's environment (it inherits it); its pid."""
        os.environ.update(wanted)
        multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_PRELOAD))
        from multiprocessing import forkserver

        forkserver.ensure_running()
        started = forkserver_pid()
        return started if isinstance(started, int) else None

    def start(self) -> bool:
        """Start the server with the workers' environment and imports; False if unusable.

        Forked workers get the server's environment, not the one a Nanny sets just before it starts a
        worker, so the server starts with those variables (thread counts must be set before numpy loads;
        the Nanny leaves them in this process's environment anyway), and with the variable by which the
        Nanny names its workers' processes. A server we started for an earlier cluster is reused while this
        process's environment is still the one it started with; one started by someone else, or with
        another environment, is left alone and the workers are spawned instead. One started before dask was
        imported (``prestart_before_dask``) is checked against Dask's config now, and started again when
        that config gives the workers other variables.
        """
        running = forkserver_pid()
        if running is UNKNOWN or working_directory_shadows_imports():
            return False
        wanted = worker_environ()
        if self._unchecked is not None and self._launched is not None and running == self._launched[0]:
            given, replaced = self._unchecked
            self._unchecked = None
            if wanted == given:
                self._launched = (running, {**os.environ, **wanted})
                return True
            logger.info("Dask's config gives the workers other variables than distributed's defaults; their fork "
                        "server starts again with them")
            _restore_environ(replaced)
            if not stop_forkserver():
                return False
            running = None
        environ = {**os.environ, **wanted}
        if running is not None:
            return self._launched == (running, environ)
        started = self.launch(wanted)
        if started is None:
            return False
        self._launched = (started, environ)
        return True

    def prestart(self, processes: bool) -> None:
        """Start the server now, if the cluster about to start will fork from it.

        Called before this process imports distributed: the server's imports (distributed and the task
        code, ~0.5 s on 2 cores) then run on another core meanwhile, instead of after the driver's (see the
        README's Performance section). When dask is not imported yet either, the server starts before
        it too (``prestart_before_dask``); otherwise the dask config in force (as for the cluster) sets
        its environment.
        """
        if "dask" not in sys.modules:
            self.prestart_before_dask(processes)
            return
        load_distributed_config_defaults()
        if use_forkserver(processes):
            self.start()
        else:
            self.stop_unchecked()  # started before dask was imported, for a config that turns out not to want it

    def prestart_before_dask(self, processes: bool, pre_spawn_environ: Mapping[str, object] | None = None) -> None:
        """``prestart`` while dask is not imported (``import dask`` is another ~0.1 s); else nothing.

        The server's environment then comes from distributed's defaults (its YAML file) with
        ``pre_spawn_environ`` over them (the overrides of ``distributed.nanny.pre-spawn-environ`` the caller
        sets next); ``start`` checks it against Dask's config once dask is imported, and a caller that
        sets Dask config calls ``prestart`` under it.
        """
        if "dask" in sys.modules or not processes or "forkserver" not in multiprocessing.get_all_start_methods():
            return
        defaults = distributed_config_defaults()
        running = forkserver_pid()
        if defaults is None or running is not None or working_directory_shadows_imports():
            return  # no defaults to go by, or a server already runs (UNKNOWN included): ``start`` decides
        worker = defaults.get("distributed", {}).get("worker", {})
        if worker.get("multiprocessing-method", "spawn") != "spawn":
            return
        configured = {**(defaults.get("distributed", {}).get("nanny", {}).get("pre-spawn-environ") or {}),
                      **(pre_spawn_environ or {})}
        wanted = _environ_from(configured)
        replaced = {name: os.environ.get(name) for name in wanted}
        started = self.launch(wanted)
        if started is None:
            _restore_environ(replaced)
            return
        self._launched = (started, {**os.environ})
        self._unchecked = (wanted, replaced)

    def stop_unchecked(self) -> None:
        """Stop the server ``prestart_before_dask`` started, unless a cluster has checked and used it since
        (the job ended before its pool, or Dask's config turned out to want no fork server of ours)."""
        if self._unchecked is None or self._launched is None or forkserver_pid() != self._launched[0]:
            return
        _restore_environ(self._unchecked[1])
        self._unchecked = self._launched = None
        stop_forkserver()

    @contextlib.contextmanager
    def forked_workers(self, processes: bool) -> Iterator[None]:
        """Within this block, Nannies fork their workers from the server (see WORKER_PRELOAD).

        Workers a Nanny restarts later (a hard time limit, a crash) are spawned as Dask does by default.
        """
        if not use_forkserver(processes):
            self.stop_unchecked()  # started before dask was imported, for a config that turns out not to want it
            yield
            return
        if not self.start():
            yield
            return
        import dask

        skip_dask_forkserver_preload()

        with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
            yield


FORK_SERVER = WorkersForkServer()
