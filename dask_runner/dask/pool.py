"""DaskDistributed: the worker pool that runs batches on a Dask cluster (local, remote, SLURM or GPU).

It starts a ``LocalCluster`` sized to the machine unless it is given a scheduler address, a scheduler
file, a cluster object or a client; it closes only what it started. ``execute_runners`` on this pool
uses the Dask strategy of :mod:`dask_runner.dask.batch` (bounded, grouped, chained tasks
with worker-death and hard-timeout handling).
"""

from __future__ import annotations

import concurrent.futures
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dask_runner.dask import keys
from dask_runner.dask.batch import DaskBatchSettings
from dask_runner.dask.clusters.local import LocalClusterSettings
from dask_runner.dask.clusters.owned import PRE_SPAWN_ENVIRON, OwnedCluster
from dask_runner.dask.resources import (
    WorkerInfo,
    check_satisfiable,
    cluster_resources,
    task_resources,
    workers_from_scheduler_info,
)
from dask_runner.errors import ConfigError
from dask_runner.execution.worker_pool import Task, WorkerPool, WorkerResources

if TYPE_CHECKING:
    from distributed import Client
    from distributed.security import Security

    from dask_runner.execution.executor import ExecutionOptions
    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.report import RunnerReport

logger = logging.getLogger(__name__)

EXAMPLE = ("DaskDistributed() (a local cluster), DaskDistributed(address='tcp://10.0.0.5:8786'), "
           "DaskDistributed(scheduler_file='scheduler.json'), DaskDistributed(cluster=cluster) or "
           "DaskDistributed(client=client)")

def _call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Runs on the worker: keyword arguments of the user's function never clash with ``client.submit``'s."""
    return fn(*args, **kwargs)


class DaskDistributed(WorkerPool):
    """A worker pool on Dask distributed.

    Connect with ``address=`` or ``scheduler_file=``, wrap ``cluster=`` or ``client=``, or (with none of
    them) start a local cluster: ``n_workers`` processes of ``threads_per_worker`` threads,
    ``memory_limit`` per worker, spill/temporary files under ``local_directory``, the dashboard on
    ``dashboard_address`` (a free port when taken) and extra worker ``resources`` such as ``{"GPU": 1}``;
    its workers fork from a fork server that has imported Dask already (see ``dask_runner.dask.clusters.local``).

    ``security``: a local cluster it starts requires TLS with a temporary certificate of its own, held in
    memory (True), so no one else can connect to it and run code as you; ``False`` turns that off (said in
    the log). Connecting by ``address=``/``scheduler_file=``, it uses the credentials Dask's config names
    (``distributed.comm.tls.*``), or a ``distributed.security.Security`` given here, and warns when it
    talks plain ``tcp://`` to another host. A ``cluster=`` or ``client=`` keeps its own.

    ``cluster=`` may be an :class:`~dask_runner.dask.clusters.owned.OwnedCluster`: one dask_runner started for this pool
    alone (``worker=dask_cuda``, ``dask_slurm``, ``dask_slurm_runner``, ...), which the pool then closes in
    ``shutdown()`` (worker jobs cancelled, an allocation's ranks ended), or at once should the pool fail to start.

    Batch tuning: ``max_in_flight_per_slot`` runner groups per worker slot are submitted at once;
    a runner is reported ``worker_lost`` after killing ``max_worker_deaths`` workers; a runner still
    running ``timeout_grace_s`` after its time limit gets its worker restarted; short runners are
    grouped up to ``max_group_size`` per task, aiming at ``target_task_duration_s`` per task; runners
    whose planners batch go ``lockstep_group_size`` to a task, stepped in lockstep (1 turns it off).
    Runners that wait while no worker is connected fail after ``no_worker_timeout_s`` (stage ``"no_workers"``,
    rerun by ``resume=true``; None waits forever); the driver logs what it waits for once a minute before.
    ``time_limit_s`` limits each call of ``map`` (nuPlan's executor runs its simulations through ``map``
    and cannot pass one); ``execute_runners(time_limit_s=...)`` sets its own.
    ``worker_profiling=True`` turns Dask's worker profiler (the dashboard's Profile page) back on for a
    cluster this pool starts; it is off by default because it costs about a tenth of the workers' CPU.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        scheduler_file: str | None = None,
        cluster: Any = None,
        client: Client | None = None,
        n_workers: int | None = LocalClusterSettings.n_workers,
        threads_per_worker: int | None = LocalClusterSettings.threads_per_worker,
        memory_limit: str | float | None = LocalClusterSettings.memory_limit,
        local_directory: str | None = LocalClusterSettings.local_directory,
        dashboard_address: str | None = LocalClusterSettings.dashboard_address,
        processes: bool = LocalClusterSettings.processes,
        resources: dict[str, float] | None = LocalClusterSettings.resources,
        security: bool | Security = LocalClusterSettings.security,
        max_in_flight_per_slot: int = DaskBatchSettings.max_in_flight_per_slot,
        max_worker_deaths: int = DaskBatchSettings.max_worker_deaths,
        timeout_grace_s: float = DaskBatchSettings.timeout_grace_s,
        target_task_duration_s: float = DaskBatchSettings.target_task_duration_s,
        max_group_size: int = DaskBatchSettings.max_group_size,
        lockstep_group_size: int = DaskBatchSettings.lockstep_group_size,
        no_worker_timeout_s: float | None = DaskBatchSettings.no_worker_timeout_s,
        worker_profiling: bool = False,
        time_limit_s: float | None = None,
    ) -> None:
        # A cluster dask_runner started for this pool (worker=dask_cuda, dask_slurm, ...): closed with the pool,
        # and at once should the pool fail to start.
        self._owned: OwnedCluster | None = cluster if isinstance(cluster, OwnedCluster) else None
        if self._owned is not None:
            cluster = self._owned.cluster
        self._own_client = client is None
        self._closed = False
        try:
            self._start(address, scheduler_file, cluster, client, worker_profiling, time_limit_s,
                        LocalClusterSettings(n_workers, threads_per_worker, memory_limit, local_directory,
                                             dashboard_address, processes, resources, security),
                        DaskBatchSettings(max_in_flight_per_slot, max_worker_deaths, timeout_grace_s,
                                          target_task_duration_s, max_group_size, lockstep_group_size,
                                          no_worker_timeout_s))
        except BaseException:
            DaskDistributed.shutdown(self)  # what it started so far, and the cluster it was handed to own
            raise

    def _start(self, address: str | None, scheduler_file: str | None, cluster: Any, client: Client | None,
               worker_profiling: bool, time_limit_s: float | None, local: LocalClusterSettings,
               settings: DaskBatchSettings) -> None:
        given = [name for name, value in (("address", address), ("scheduler_file", scheduler_file),
                                          ("cluster", cluster), ("client", client)) if value is not None]
        if len(given) > 1:
            raise ConfigError(f"pass at most one of address=, scheduler_file=, cluster=, client= (got {given}); "
                              f"e.g. {EXAMPLE}")
        if (cluster is not None or client is not None) and local.security is not True:
            raise ConfigError(f"security= applies to the clusters this pool starts and the schedulers it connects "
                              f"to; the {given[0]}= you pass keeps its own (Client(cluster) uses cluster.security): "
                              f"drop security=, e.g. {EXAMPLE}")
        local_options = [name for name in local.changed() if name not in ("dashboard_address", "security")]
        if given and local_options:
            raise ConfigError(f"{local_options} configure a local cluster, but this pool uses an existing one "
                              f"({given[0]}=); set them on that cluster's workers, or drop {given[0]}= to start "
                              "a local cluster: DaskDistributed(n_workers=4, threads_per_worker=1)")
        if client is not None and not hasattr(client, "submit"):
            raise ConfigError(f"client= must be a distributed.Client, got {type(client).__name__}; e.g. {EXAMPLE}")
        if cluster is not None and not hasattr(cluster, "scheduler_address"):
            raise ConfigError(f"cluster= must be a Dask cluster object (LocalCluster, SLURMCluster, ...), got "
                              f"{type(cluster).__name__}; e.g. {EXAMPLE}")
        self._settings = settings
        if time_limit_s is not None and (isinstance(time_limit_s, bool) or not isinstance(time_limit_s, (int, float))
                                         or time_limit_s <= 0):
            raise ConfigError(f"time_limit_s must be a number of seconds > 0 or None, got {time_limit_s!r}; "
                              "e.g. DaskDistributed(time_limit_s=600)")
        self._map_time_limit_s = float(time_limit_s) if time_limit_s is not None else None

        if client is not None:
            self._client = client
        elif address is not None or scheduler_file is not None:
            from dask_runner.dask.clusters.address import connect_client

            self._client = connect_client(address=address, scheduler_file=scheduler_file, security=local.security)
        else:
            if cluster is None:
                self._owned = _start_own_cluster(local, worker_profiling)
                cluster = self._owned.cluster
            from distributed import Client

            self._client = Client(cluster)
        super().__init__(cluster_resources(self._workers()))
        from dask_runner.dashboard.install import ensure_on_scheduler

        self._simulations_page = ensure_on_scheduler(self._client)  # logs how it came to be there
        logger.info("DaskDistributed on %s (%s); dashboard: %s", getattr(self._client.scheduler, "address", "?"),
                    self._config, self.dashboard_link)

    @classmethod
    def first_step(cls, **settings: Any) -> Callable[[], None]:
        """A local cluster of processes: its workers' fork server starts now (see :func:`start_workers_early`)."""
        return start_workers_early(**settings)

    # -- the live cluster -------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        return self._client

    @property
    def dashboard_link(self) -> str | None:
        """The dashboard's address, or None when the scheduler runs none (no bokeh 3, or turned off)."""
        if self._owned is not None and not self._owned.dashboard:
            return None
        try:
            link = self._client.dashboard_link
        except Exception:  # noqa: BLE001  (no dashboard on this scheduler)
            return None
        return str(link) if link else None

    @property
    def simulations_page(self) -> str | None:
        """The Simulations page on this cluster's dashboard, or None when its scheduler serves no pages."""
        return self._simulations_page

    def _workers(self) -> list[WorkerInfo]:
        return workers_from_scheduler_info(self._client.scheduler_info(n_workers=-1))

    @property
    def config(self) -> WorkerResources:
        """nuPlan's view of the cluster now (workers may come and go): hosts, threads and GPUs per host."""
        if not self._closed:
            self._config = cluster_resources(self._workers())
        return self._config

    @property
    def number_of_threads(self) -> int:
        return self.config.number_of_threads

    # -- the pool contract ------------------------------------------------------------------------

    def check_resources(self, num_gpus: float | None, num_cpus: int | None) -> None:
        """ResourceUnavailableError now if no worker could ever run a runner needing these (jobs call it
        before they create their output folder)."""
        self._resources_for(Task(_call, num_cpus=num_cpus, num_gpus=num_gpus))

    def _resources_for(self, task: Task) -> dict[str, float]:
        workers = self._workers()
        resources = task_resources(task.num_cpus, task.num_gpus, workers)
        check_satisfiable(resources, workers)
        return resources

    def _map(self, task: Task, *item_lists: list[Any], verbose: bool = False) -> list[Any]:
        """Each call runs as a runner of the Dask strategy: bounded, grouped, time-limited, isolated from
        worker deaths (see :mod:`dask_runner.dask.mapped_calls`); nuPlan's executor maps through here."""
        from dask_runner.dask.mapped_calls import map_with_guarantees

        return map_with_guarantees(self.execute_runners, task, item_lists, verbose, self._map_time_limit_s)

    def submit(self, task: Task, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Start one call of ``task`` on the cluster; the returned concurrent future follows the Dask future."""
        resources = self._resources_for(task)
        dask_future = self._client.submit(_call, task.fn, args, kwargs, pure=False, resources=resources or None,
                                          key=f"{_task_name(task)}-{uuid.uuid4().hex}")
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def transfer(done: Any) -> None:  # runs in Dask's callback thread, not on its event loop
            if not result.set_running_or_notify_cancel():
                return
            try:
                result.set_result(done.result())
            except Exception as exc:  # noqa: BLE001  (the task's own exception, handed to the caller)
                result.set_exception(exc)

        def cancel_remote(f: concurrent.futures.Future[Any]) -> None:
            if f.cancelled():
                dask_future.cancel()

        result.add_done_callback(cancel_remote)
        dask_future.add_done_callback(transfer)
        return result

    def execute_runners(self, runners: Sequence[AbstractRunner], options: ExecutionOptions) -> list[RunnerReport]:
        """The Dask strategy: bounded, grouped, chained futures on one ``as_completed`` (see dask_runner.dask.batch)."""
        from dask_runner.dask.batch import execute_on_dask

        return execute_on_dask(self._client, self, runners, options, self._settings, self._workers(),
                               self.cluster_state)

    def cluster_state(self) -> str:
        """What the cluster does about workers, for a batch that has none: the worker jobs of a cluster that
        submits them (what keeps the jobs of one we started, or a dask-jobqueue cluster's requested jobs), else
        where the scheduler is."""
        if self._owned is not None and self._owned.describe is not None:
            return self._owned.describe()
        cluster = self._owned.cluster if self._owned is not None else getattr(self._client, "cluster", None)
        spec = getattr(cluster, "worker_spec", None)
        if isinstance(spec, dict):
            jobs = hasattr(cluster, "job_cls")  # dask-jobqueue's clusters
            return (f"{type(cluster).__name__} has {len(spec)} worker {'job(s)' if jobs else 'process(es)'} requested"
                    + (" (dask-jobqueue does not replace a job that ended by itself; see squeue or qstat)"
                       if jobs else ""))
        address = getattr(self._client.scheduler, "address", "?")
        return f"scheduler {address}, whose workers dask_runner does not start"

    # -- lifetime ---------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Close the client and the cluster if this pool started them; calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._own_client and hasattr(self, "_client"):  # (none yet when the pool failed to start)
            try:
                self._client.close()
            except Exception:
                logger.debug("closing the Dask client failed", exc_info=True)
        self._close_cluster()

    @property
    def owns_cluster(self) -> bool:
        """Whether ``shutdown()`` closes the cluster (one dask_runner started for this pool)."""
        return self._owned is not None

    def _close_cluster(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()

    def __repr__(self) -> str:
        c = self._config
        return (f"DaskDistributed(nodes={c.number_of_nodes}, cpus_per_node={c.number_of_cpus_per_node}, "
                f"gpus_per_node={c.number_of_gpus_per_node}, dashboard={self.dashboard_link})")


def _start_own_cluster(local: LocalClusterSettings, worker_profiling: bool) -> OwnedCluster:
    """The local cluster a pool starts, with the settings above, under the policy of the clusters we start; its
    workers' fork server starts first.

    Nothing here imports dask or distributed before ``prestart_forkserver``: the server's imports then run
    on another core while this process imports them and starts the scheduler.
    """
    from dask_runner.dask.clusters.fork_server import FORK_SERVER
    from dask_runner.dask.clusters.local import start_local_cluster_for_pool

    FORK_SERVER.prestart_before_dask(local.processes, PRE_SPAWN_ENVIRON)
    import dask

    from dask_runner.dask.compat import load_distributed_config_defaults

    # Dask's statistical profiler samples every worker thread every 10 ms; with Python
    # simulations it cost ~11% of worker CPU (measured on 512 IDM simulations), so the
    # clusters we start leave it off unless asked (worker_profiling=True).
    from dask_runner.dask.worker_setup import PRELOAD

    load_distributed_config_defaults()  # before we read or override any of them
    preload = [*(dask.config.get("distributed.worker.preload") or []), PRELOAD]
    extra = {"distributed.worker.profile.enabled": worker_profiling, "distributed.worker.preload": preload}
    # The fork server is checked (or started) with the workers' environment the policy sets.
    with OwnedCluster.starting(extra, first=lambda: FORK_SERVER.prestart(local.processes)):
        cluster, dashboard = start_local_cluster_for_pool(local)
    return OwnedCluster.started(cluster, dashboard=dashboard)


def start_workers_early(**settings: Any) -> Callable[[], None]:
    """``DaskDistributed.first_step``: for a local cluster of processes, its workers' fork server starts now, importing
    Dask on another core while the job composes and builds its runners, so that the pool finds it (nearly) ready.
    Returns what stops that server should the job end before its pool exists. Values are checked when the pool is
    built, not here."""
    from dask_runner.dask.clusters.fork_server import FORK_SERVER

    elsewhere = any(settings.get(name) is not None for name in ("address", "scheduler_file", "cluster", "client"))
    if not elsewhere and settings.get("processes", LocalClusterSettings.processes) is True:
        FORK_SERVER.prestart_before_dask(True, PRE_SPAWN_ENVIRON)
    return FORK_SERVER.stop_unchecked


def _task_name(task: Task) -> str:
    return keys.key_part(getattr(task.fn, "__name__", type(task.fn).__name__))


__all__ = ["DaskDistributed"]
