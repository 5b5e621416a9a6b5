"""The one policy of every cluster dask_runner starts for a pool: local, CUDA, dask-jobqueue, one SLURM allocation.

- Started under :func:`OwnedCluster.starting`: a task whose worker died fails at once (allowed-failures 0; the
  pool re-runs the innocent runners itself, in isolation), the Simulations page is on the scheduler from the
  start, and the background work of Dask's servers is tuned for CPU-bound simulations (below).
- Its dashboard pages are attached in the background when a page is first asked for
  (:mod:`dask_runner.dask.clusters.background_dashboard`), where its scheduler runs in this process.
- Owned by the pool it was started for, which closes it in ``shutdown()`` (:meth:`OwnedCluster.close`), also
  when the pool fails to start.

A cluster a user hands to a pool (``DaskDistributed(cluster=...)``) keeps its own settings and stays open.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

logger = logging.getLogger(__name__)

# Workers that die take every task they held with them; we re-run those ourselves (in isolation), so
# the scheduler of a cluster we start fails such tasks at the first death instead of retrying them.
ALLOWED_FAILURES = 0

# Background work of the clusters we start, tuned for CPU-bound simulations (measured on 2 cores, 512
# IDM simulations, A/B: wall -7%, driver CPU -25%, per-runner time 53 -> 49 ms):
# - every Dask server (scheduler, each nanny, each worker) checks its event loop every 20 ms and samples
#   the system every 0.5 s; the scheduler and nannies live in the driver and share the workers' cores;
# - nannies poll their worker's memory every 0.1 s (0.5 s still stops a runaway worker well before the
#   pause and terminate thresholds matter);
# - Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's adaptive mmap
#   threshold: every simulation array above 128 kB became an mmap/munmap pair (80% more page faults,
#   twice the system time). Memory is still returned to the system by glibc's defaults.
# Servers in other processes (worker jobs, the ranks of an allocation) keep their own config.
BACKGROUND_CONFIG: dict[str, object] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}

_PRE_SPAWN = "distributed.nanny.pre-spawn-environ."
# The workers' variables among those settings, for a fork server started before dask is imported.
PRE_SPAWN_ENVIRON: dict[str, object] = {key[len(_PRE_SPAWN):]: value for key, value in BACKGROUND_CONFIG.items()
                                        if key.startswith(_PRE_SPAWN)}


class OwnedCluster:
    """A cluster dask_runner started for one pool, and what closes it: the cluster itself, or what keeps its
    worker jobs (``closer``, e.g. a ``JobKeeper``). ``dashboard``: whether it serves Dask's dashboard (Dask
    answers ``dashboard_link`` even when it serves only its JSON and health routes)."""

    def __init__(self, cluster: Any, *, dashboard: bool, closer: Any = None,
                 describe: Callable[[], str] | None = None) -> None:
        self.cluster = cluster
        self.dashboard = dashboard
        # What the cluster does about workers now, for a batch that has none (a JobKeeper's view of the jobs).
        self.describe = describe
        self._closer = closer if closer is not None else cluster
        self._closed = False

    @staticmethod
    @contextlib.contextmanager
    def starting(extra: Mapping[str, object] | None = None,
                 first: Callable[[], None] | None = None) -> Iterator[None]:
        """Start the cluster inside this block: allowed-failures 0, the background config above, the Simulations
        page on its scheduler from the start (its dashboard pages attached later, see :meth:`started`), and
        ``extra`` dask config (e.g. the workers' preloads). ``first`` runs under all but the page's config, before
        the page's modules (and with them distributed) are imported: a local cluster checks its workers' fork
        server there, whose imports then overlap with this process's."""
        import dask

        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, **BACKGROUND_CONFIG,
                              **(extra or {})}):
            if first is not None:
                first()
            from dask_runner.dashboard.install import scheduler_config

            with dask.config.set(scheduler_config(dashboard_at_start=False)):
                yield

    @classmethod
    def started(cls, cluster: Any, *, dashboard: bool, closer: Any = None,
                describe: Callable[[], str] | None = None) -> OwnedCluster:
        """``cluster``, just started inside :meth:`starting` without its dashboard pages: they are attached in
        the background from now on, when ``dashboard`` asks for them."""
        if dashboard:
            from dask_runner.dask.clusters.background_dashboard import start_dashboard_in_background

            start_dashboard_in_background(cluster)  # its pages: imported when first asked for
        return cls(cluster, dashboard=dashboard, closer=closer, describe=describe)

    def close(self) -> None:
        """Close the cluster (its worker jobs cancelled, an allocation's ranks ended); twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            self._closer.close()
        except Exception:  # noqa: BLE001  (a pool's shutdown must go on; the log says what is left)
            logger.warning("closing the Dask cluster %s failed", type(self.cluster).__name__, exc_info=True)


__all__ = ["ALLOWED_FAILURES", "BACKGROUND_CONFIG", "PRE_SPAWN_ENVIRON", "OwnedCluster"]
