"""Every private attribute of distributed and multiprocessing that dask_runner touches, in one place.

Each is looked up when it is used, never assumed: when a release has moved it, one log line says
what is lost and we fall back to the public behaviour (spawned workers, Dask's own preloads, Dask's
own Nanny handling). ``setup.cfg`` bounds ``distributed`` to the releases the test suite has passed
on; raising that bound means running the suite, which exercises every use here.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import LocalCluster

logger = logging.getLogger(__name__)

_reported: set[str] = set()


def _missing(name: str, consequence: str) -> None:
    """One log line per missing attribute and process."""
    if name not in _reported:
        _reported.add(name)
        logger.warning("%s is missing in this Python/distributed version; %s", name, consequence)


class _Unknown:
    """Returned where a private attribute could not be read (distinct from its value None)."""


UNKNOWN = _Unknown()


def forkserver_pid() -> int | None | _Unknown:
    """The pid of multiprocessing's process-wide fork server (None when not running), or UNKNOWN.

    Whether the server runs, and with which pid, is not public API (``forkserver._forkserver._forkserver_pid``).
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is None or not hasattr(server, "_forkserver_pid"):
        _missing("multiprocessing.forkserver._forkserver._forkserver_pid",
                 "local clusters spawn their workers instead of forking them (each re-imports Dask: slower start)")
        return UNKNOWN
    pid = server._forkserver_pid
    return int(pid) if pid is not None else None


# Set by distributed's Nanny (``distributed.proctitle.enable_proctitle_on_children``) before it starts a worker:
# processes whose pid differs from it name themselves "dask worker [...]" (with setproctitle installed).
# The fork server is started before distributed is imported, so it gets the variable from us.
PROCTITLE_PARENT_VARIABLE = "__DASK_PARENT_PID"

_defaults_loaded = False  # by load_distributed_config_defaults, in this process


def load_distributed_config_defaults() -> None:
    """distributed's config defaults in ``dask.config``, without importing distributed (~0.5 s of imports).

    distributed loads them itself when imported (``distributed/config.py`` reads the ``distributed.yaml``
    beside it). Reading them first lets a driver start the workers' fork server, whose environment comes
    from that config, while it imports distributed; loading them again later changes nothing (user
    settings win over defaults either way). Without the file, distributed is imported for them.
    """
    import sys

    global _defaults_loaded
    if _defaults_loaded or "distributed" in sys.modules:
        return
    _defaults_loaded = True
    import dask

    defaults = distributed_config_defaults()
    if defaults is None:
        _missing("distributed/distributed.yaml", "distributed is imported before the workers' fork server starts "
                 "(the cluster starts ~0.5 s later)")
        import distributed  # noqa: F401  (loads the defaults)

        return
    dask.config.update_defaults(defaults)


@functools.cache
def distributed_config_defaults() -> dict[str, Any] | None:
    """The contents of distributed's ``distributed.yaml`` (read without importing dask or distributed); None
    without the file."""
    import yaml

    path = distributed_config_file()
    if path is None:
        return None
    with open(path, encoding="utf-8") as defaults:
        loaded = yaml.load(defaults, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return loaded if isinstance(loaded, dict) else None


def stop_forkserver() -> bool:
    """Stop the fork server this process started and that has forked no worker yet (``forkserver._forkserver._stop``);
    False if that cannot be done.

    It is terminated first: ``_stop`` only closes the server's pipe and waits, and a server still importing its
    preloads notices that after the imports (~0.4 s more on a bad-input error path).
    """
    import signal
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if not callable(stop):
        _missing("multiprocessing.forkserver._forkserver._stop",
                 "a fork server started with another environment is left alone and the workers are spawned")
        return False
    pid = forkserver_pid()
    if isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    stop()
    return True


def distributed_config_file() -> str | None:
    """distributed's file of config defaults, found without importing distributed; None if not there."""
    import importlib.util

    spec = importlib.util.find_spec("distributed")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = os.path.join(folders[0], "distributed.yaml") if folders else ""
    return path if os.path.isfile(path) else None


# The scheduler's HTTP server and Dask's dashboard: none of this is documented API of distributed.


def import_dashboard_pages() -> Any:
    """``distributed.dashboard.scheduler``, Dask's dashboard pages (imports bokeh: ~0.5 s of CPU)."""
    return importlib.import_module("distributed.dashboard.scheduler")


def connect_dashboard(pages: Any, scheduler: Any) -> bool:
    """Attach Dask's dashboard pages to a running scheduler's HTTP server; False when that cannot be done.

    What ``Scheduler.__init__`` does when it starts with a dashboard: ``distributed.dashboard.scheduler.connect``.
    ``pages`` is that module (``import_dashboard_pages``).
    """
    connect = getattr(pages, "connect", None)
    application = getattr(scheduler, "http_application", None)
    if not callable(connect) or application is None:
        _missing("distributed.dashboard.scheduler.connect",
                 "the dashboard pages of clusters dask_runner starts are not served (their JSON routes are)")
        return False
    connect(application, scheduler.http_server, scheduler, prefix="/")
    return True


def _http_applications(scheduler: Any) -> list[Any] | None:
    """The scheduler's HTTP routing (``RoutingApplication.applications``, a list; what Dask's own
    ``/individual-plots.json`` reads)."""
    applications = getattr(getattr(scheduler, "http_application", None), "applications", None)
    return applications if isinstance(applications, list) else None


def add_http_application(scheduler: Any, application: Any) -> None:
    """Route the scheduler's HTTP requests to ``application`` too (a tornado or bokeh application)."""
    scheduler.http_application.add_application(application)


def remove_http_application(scheduler: Any, application: Any) -> None:
    """Take ``application`` out of the scheduler's HTTP routing."""
    applications = _http_applications(scheduler)
    if applications is not None and application in applications:
        applications.remove(application)


def add_http_routes(scheduler: Any, handlers: list[tuple[Any, ...]]) -> bool:
    """Serve tornado ``handlers`` from the scheduler's HTTP server; False when it runs none."""
    application = getattr(scheduler, "http_application", None)
    if application is None:
        return False
    application.add_handlers(r".*", handlers)
    return True


def dashboard_applications(scheduler: Any) -> list[Any] | None:
    """The bokeh applications of the scheduler's dashboard (empty when it runs none yet; None: cannot tell)."""
    applications = _http_applications(scheduler)
    if applications is None:
        _missing("distributed's http_application.applications",
                 "whether the dashboard already serves the Simulations page cannot be told")
        return None
    return [app for app in applications if hasattr(app, "app_paths")]


def register_dashboard_page(route: str, document: Any) -> bool:
    """Put a page among Dask's own, for dashboards built from now on in this process (the "More..." menu and
    ``/individual-plots.json`` read ``distributed.dashboard.scheduler.applications``); False without bokeh."""
    try:
        from distributed.dashboard.scheduler import applications
    except ImportError:
        return False
    applications.setdefault(route, document)
    return True


def add_dashboard_page(scheduler: Any, route: str, document: Any, prefix: str) -> None:
    """Serve a bokeh page at ``route`` from a dashboard that already runs (on the scheduler's event loop)."""
    from distributed.dashboard.core import BokehApplication
    from tornado.ioloop import IOLoop

    app = BokehApplication({route: document}, scheduler, prefix=prefix)
    add_http_application(scheduler, app)
    app.initialize(IOLoop.current())
    app.start()


def dashboard_menu(scheduler: Any) -> list[dict[str, Any]] | None:
    """The dashboard's "More..." menu entries, a list Dask builds once per scheduler and its pages share."""
    try:
        from distributed.dashboard.scheduler import template_variables

        plots = template_variables(scheduler).get("plots")
    except Exception:  # noqa: BLE001  (a private helper of distributed; the pages work without a menu entry)
        return None
    return plots if isinstance(plots, list) else None


def truncate_events(scheduler: Any, topic: str) -> bool:
    """Drop the events the scheduler keeps under ``topic`` (``Scheduler._broker``); False when it cannot."""
    broker = getattr(scheduler, "_broker", None)
    if broker is None or not hasattr(broker, "truncate"):
        _missing("Scheduler._broker", "dask_runner's events stay in the scheduler's event log (bounded by Dask)")
        return False
    broker.truncate(topic)
    return True


def skip_dask_forkserver_preload() -> None:
    """Tell distributed that the fork server is preloaded already (``distributed.utils._forkserver_preload_set``).

    On first use of the fork server Dask imports numpy, pandas and lz4 in the driver to preload them
    (pandas alone costs ~0.7 s while the scheduler starts); ours already runs with what workers need.
    """
    import distributed.utils

    if not hasattr(distributed.utils, "_forkserver_preload_set"):
        _missing("distributed.utils._forkserver_preload_set",
                 "Dask may import pandas into the driver when the cluster starts (~0.7 s)")
        return
    if distributed.utils._forkserver_preload_set is False:
        distributed.utils._forkserver_preload_set = True


@functools.cache
def nanny_keeping_local_cluster() -> type[LocalCluster]:
    """``LocalCluster`` whose Nannies stay in the cluster while they run, however long their worker is down.

    Dask's clusters close a worker's Nanny if no worker of that name is registered
    ``distributed.deploy.lost-worker-timeout`` (15 s) after it was removed. A Nanny restarts its worker
    itself, so a worker that happened to be dead again at that moment (a runner killing it twice, a
    restart for a hard time limit) cost the cluster that Nanny for good, and a batch waited forever.
    The hook is the private ``Cluster._update_worker_status``; without it, plain ``LocalCluster`` is
    used and the timeout is the only protection.
    """
    from distributed import LocalCluster, Nanny
    from distributed.core import Status
    from distributed.deploy.cluster import Cluster

    if not callable(getattr(Cluster, "_update_worker_status", None)):
        _missing("distributed.deploy.cluster.Cluster._update_worker_status",
                 "a Nanny whose worker stays down past distributed.deploy.lost-worker-timeout is closed for good")
        return LocalCluster

    class NannyKeepingLocalCluster(LocalCluster):
        def _update_worker_status(self, op: str, msg: Any) -> None:
            name = self.scheduler_info.get("workers", {}).get(msg, {}).get("name") if op == "remove" else None
            nanny = self.workers.get(name) if name is not None else None
            if isinstance(nanny, Nanny) and nanny.status == Status.running:
                Cluster._update_worker_status(self, op, msg)  # skip the lost-worker close; the Nanny restarts it
                return
            super()._update_worker_status(op, msg)

    return NannyKeepingLocalCluster


# How often a Nanny looks whether the worker it started has connected (Dask polls a multiprocessing queue
# every 50 ms): for a worker that is ready 60 ms after its fork, that poll alone was ~25 ms of a local
# cluster's start, on average.
WORKER_START_POLL_S = 0.005


def poll_worker_start_often() -> None:
    """Nannies of this process notice their new worker sooner (``WorkerProcess._init_msg_interval``)."""
    from distributed.nanny import WorkerProcess

    if not isinstance(getattr(WorkerProcess, "_init_msg_interval", None), (int, float)):
        _missing("distributed.nanny.WorkerProcess._init_msg_interval",
                 "a local cluster's Nannies notice their started workers every 50 ms (Dask's default)")
        return
    WorkerProcess._init_msg_interval = min(WorkerProcess._init_msg_interval, WORKER_START_POLL_S)


def delivering_as_completed(**options: Any) -> Any:
    """``distributed.as_completed(**options)`` out of which every future comes, also one whose result cannot be fetched.

    With ``with_results=True`` as_completed fetches each result as its future finishes. When that fetch
    raises (a result this process cannot unpickle; a key lost with its worker whose recomputation then
    failed), its private ``_track_future`` ends with the exception and the future never comes out: a loop
    waiting for it waits forever. Here such a future comes out with that exception as its result, put
    where as_completed puts results (its private ``lock``, ``futures``, ``queue``, ``condition`` and
    ``thread_condition``). Without the private ``_track_future``, a plain as_completed.
    """
    cls = _delivering_as_completed_class()
    if cls is None:
        from distributed import as_completed

        return as_completed(**options)
    return cls(**options)


@functools.cache
def _delivering_as_completed_class() -> type | None:
    from distributed import as_completed

    if not callable(getattr(as_completed, "_track_future", None)):
        _missing("distributed.as_completed._track_future",
                 "a result the driver cannot fetch (one it cannot unpickle) leaves a batch waiting for it")
        return None

    class DeliveringAsCompleted(as_completed):
        async def _track_future(self, future: Any) -> None:
            try:
                await super()._track_future(future)
            except Exception as exc:  # noqa: BLE001  (whatever fetching raised is the future's outcome)
                await self._put_unfetched(future, exc)

        async def _put_unfetched(self, future: Any, exc: Exception) -> None:
            # What as_completed does with a fetched result, with the exception in its place.
            with self.lock:
                if future not in self.futures:
                    return
                self.futures[future] -= 1
                if not self.futures[future]:
                    del self.futures[future]
                self.queue.put_nowait((future, exc) if self.with_results else future)
                async with self.condition:
                    self.condition.notify()
                with self.thread_condition:
                    self.thread_condition.notify()

    return DeliveringAsCompleted


def next_batch_within(ac: Any, timeout: float | None) -> list[Any]:
    """``ac.next_batch()``, waiting at most ``timeout`` seconds for a first result (None: until one comes).

    ``as_completed`` has no public wait with a timeout, and its blocking ``next()`` looks at its queue every
    100 ms. Here the thread sleeps on its condition until a result is put (``_track_future`` puts it, then
    notifies under ``thread_condition``: checked under that lock, no notification is lost) or the timeout
    ends. ``queue`` and ``thread_condition`` are not documented.
    """
    queue, condition = getattr(ac, "queue", None), getattr(ac, "thread_condition", None)
    if not hasattr(queue, "empty") or not hasattr(condition, "wait_for"):
        _missing("distributed.as_completed.queue/thread_condition",
                 "a batch waiting for results looks every 50 ms whether a time limit has passed, and at its "
                 "workers (no_worker_timeout_s) only when its next task finishes")
        if timeout is None:
            return list(ac.next_batch(block=True))
        if not ac.has_ready():
            time.sleep(min(timeout, 0.05))
        return list(ac.next_batch(block=False))
    assert queue is not None and condition is not None
    with condition:
        condition.wait_for(lambda: not queue.empty(), timeout)
    return list(ac.next_batch(block=False))
