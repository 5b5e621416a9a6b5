"""GPU clusters: dask-cuda's ``LocalCUDACluster`` with one worker per GPU that declares ``{"GPU": 1}``.

dask-cuda declares no resources by itself; without ``GPU`` on the workers a task annotated with
``resources={"GPU": 0.25}`` would wait forever. Each worker gets enough threads for the requested share
(four for 0.25), so four simulations really share one GPU and one copy of a per-worker model.

Threads of one process share one interpreter lock, so a planner whose step is mostly Python gains
nothing from more threads on a GPU. ``workers_per_gpu=k`` starts k worker processes on each GPU instead,
each declaring ``{"GPU": 1/k}``: simulations run truly in parallel, at the price of one model copy per
process.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from dask_runner.dask.clusters.local import (
    LOCALHOST,
    LocalClusterSettings,
    check_security,
    cluster_security,
    resolve_dashboard_address,
    validate_resources,
)
from dask_runner.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import LocalCluster
    from distributed.security import Security

    from dask_runner.dask.pool import DaskDistributed

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dask_runner[cuda]'"
NO_GPU_HINT = ("use worker=dask_local (a CPU cluster) or set number_of_gpus_allocated_per_simulation=0 "
               "to run without GPUs")


def _visible_device_limit() -> int | None:
    """How many devices ``CUDA_VISIBLE_DEVICES`` allows (None when it is unset)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return None
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    # CUDA stops at the first invalid entry, and "-1" is the usual way to hide every GPU.
    count = 0
    for entry in entries:
        if entry.startswith("-"):
            break
        count += 1
    return count


def _physical_gpu_count() -> int:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no pynvml, no driver, no device: ask nvidia-smi instead
        logger.debug("pynvml could not count GPUs; trying nvidia-smi", exc_info=True)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    if listing.returncode != 0:
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def gpu_count() -> int:
    """GPUs this process can use (0 without a driver or device); honours ``CUDA_VISIBLE_DEVICES``; never raises."""
    try:
        physical = _physical_gpu_count()
        limit = _visible_device_limit()
    except Exception:  # noqa: BLE001 - a probe must not take the caller down
        return 0
    return physical if limit is None else min(physical, limit)


def threads_for_share(num_gpus_per_simulation: float | None, threads_per_worker: int | None,
                      workers_per_gpu: int = 1) -> int:
    """Threads per GPU worker: enough for ``ceil(GPU per worker / share)`` simulations to run at once."""
    worker_share = 1.0 / workers_per_gpu
    if num_gpus_per_simulation is None or num_gpus_per_simulation == 0:
        return threads_per_worker or 1
    if isinstance(num_gpus_per_simulation, bool) or not 0 < num_gpus_per_simulation <= 1:
        raise ConfigError(
            f"num_gpus_per_simulation must be in (0, 1] on a one-GPU-per-worker cluster, got "
            f"{num_gpus_per_simulation!r}; e.g. start_cuda_cluster(num_gpus_per_simulation=0.25)"
        )
    if num_gpus_per_simulation > worker_share + 1e-9:
        raise ConfigError(
            f"num_gpus_per_simulation={num_gpus_per_simulation} does not fit on a worker that holds "
            f"1/{workers_per_gpu} of a GPU (workers_per_gpu={workers_per_gpu}); use at most "
            f"{worker_share:g} GPU per simulation, or fewer workers per GPU"
        )
    needed = math.ceil(worker_share / num_gpus_per_simulation - 1e-9)
    if threads_per_worker is None:
        return needed
    if threads_per_worker < needed:
        logger.warning("threads_per_worker=%d lets only %d simulation(s) share a GPU worker although each asks "
                       "for %s of one; pass threads_per_worker=%d to use the whole share",
                       threads_per_worker, threads_per_worker, num_gpus_per_simulation, needed)
    return threads_per_worker


@functools.cache
def _shared_gpu_cluster_class() -> type:
    """``LocalCUDACluster`` that starts ``workers_per_gpu`` workers with one GPU's settings each."""
    from dask_cuda import LocalCUDACluster

    class SharedGPUCluster(LocalCUDACluster):  # type: ignore[misc,unused-ignore]
        def __init__(self, *args: Any, workers_per_gpu: int, **kwargs: Any) -> None:
            self.workers_per_gpu = workers_per_gpu  # read by new_worker_spec, which __init__ calls
            super().__init__(*args, **kwargs)

        def new_worker_spec(self) -> dict[Any, Any]:
            # dask-cuda names a worker after its GPU and picks the next GPU without a worker of that
            # name; copies named "<gpu>-<i>" keep its CUDA_VISIBLE_DEVICES, CPU affinity and memory setup.
            ((name, spec),) = super().new_worker_spec().items()
            copies = {f"{name}-{i}": copy.deepcopy(spec) for i in range(1, self.workers_per_gpu)}
            return {name: spec, **copies}

    return SharedGPUCluster


def _requested_gpus(kwargs: dict[str, Any]) -> int:
    """GPUs the cluster will use: ``n_workers``, else ``CUDA_VISIBLE_DEVICES`` given here, else all visible."""
    if kwargs.get("n_workers"):
        return int(kwargs["n_workers"])
    visible = kwargs.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len(visible.split(",") if isinstance(visible, str) else list(visible))
    return gpu_count()


def start_cuda_cluster(
    threads_per_worker: int | None = None,
    num_gpus_per_simulation: float | None = None,
    local_directory: str | None = None,
    dashboard_address: str | None = LocalClusterSettings.dashboard_address,
    workers_per_gpu: int = 1,
    security: bool | Security = LocalClusterSettings.security,
    **kwargs: Any,
) -> LocalCluster:
    """A ``LocalCUDACluster`` on 127.0.0.1, one worker per visible GPU, resources ``{"GPU": 1, "CPU": threads}``.

    ``workers_per_gpu=k`` starts k worker processes per GPU, each with ``{"GPU": 1/k}`` (for planners
    whose steps are mostly Python, which threads of one process cannot run in parallel). ``security`` is the
    local cluster's (TLS with a temporary certificate held in memory unless False). Other keywords
    (``CUDA_VISIBLE_DEVICES``, ``rmm_pool_size``, ``device_memory_limit``, ``resources``, ...) go to
    ``LocalCUDACluster``; extra ``resources`` are merged into the GPU/CPU ones.
    """
    if threads_per_worker is not None and (isinstance(threads_per_worker, bool)
                                           or not isinstance(threads_per_worker, int) or threads_per_worker < 1):
        raise ConfigError(f"threads_per_worker must be a positive integer or None, got {threads_per_worker!r}; "
                          "e.g. start_cuda_cluster(num_gpus_per_simulation=0.25)")
    if isinstance(workers_per_gpu, bool) or not isinstance(workers_per_gpu, int) or workers_per_gpu < 1:
        raise ConfigError(f"workers_per_gpu must be a positive integer, got {workers_per_gpu!r}; "
                          "e.g. start_cuda_cluster(num_gpus_per_simulation=0.25, workers_per_gpu=4)")
    check_security(security)
    threads = threads_for_share(num_gpus_per_simulation, threads_per_worker, workers_per_gpu)
    extra = validate_resources(kwargs.pop("resources", None))
    resources = {"GPU": 1.0 / workers_per_gpu, "CPU": float(threads), **extra}

    try:
        from dask_cuda import LocalCUDACluster
    except ImportError as exc:
        if gpu_count() == 0:
            raise ClusterError(f"no GPU was found on this machine (and dask-cuda is not installed): {NO_GPU_HINT}; "
                               f"on a GPU machine, {INSTALL_HINT}") from exc
        raise ClusterError(f"dask-cuda is needed for GPU clusters ({exc}); install it with {INSTALL_HINT}") from exc
    if gpu_count() == 0:
        raise ClusterError(f"no GPU was found (no NVIDIA driver or device visible to this process): {NO_GPU_HINT}")

    if local_directory is not None:
        os.makedirs(local_directory, exist_ok=True)
    kwargs.setdefault("host", LOCALHOST)
    tls = cluster_security(security, True, "The CUDA cluster")
    if tls is not None:
        kwargs.update(security=tls, protocol="tls")
    cluster_class: Any = LocalCUDACluster
    if workers_per_gpu > 1:
        cluster_class = functools.partial(_shared_gpu_cluster_class(), workers_per_gpu=workers_per_gpu)
        # n_workers counts processes: dask-cuda divides host memory by it.
        kwargs["n_workers"] = _requested_gpus(kwargs) * workers_per_gpu
    dashboard = resolve_dashboard_address(dashboard_address)
    try:
        cluster = start_cluster_of(cluster_class, threads_per_worker=threads, local_directory=local_directory,
                                   dashboard=dashboard, resources=resources, **kwargs)
    except ImportError as exc:
        raise ClusterError(f"dask-cuda could not load its CUDA bindings ({exc}); reinstall with {INSTALL_HINT}") from exc
    except Exception as exc:
        if "NVML" in type(exc).__name__ or "nvml" in str(exc).lower() or "cuda" in str(exc).lower():
            raise ClusterError(f"no usable GPU was found ({type(exc).__name__}: {exc}): {NO_GPU_HINT}") from exc
        raise ClusterError(f"the CUDA cluster could not start ({type(exc).__name__}: {exc}); check the GPU "
                           "driver with nvidia-smi") from exc
    logger.info("CUDA cluster: %d GPU worker(s) (%d per GPU) x %d thread(s), resources %s, scheduler %s, dashboard %s",
                len(cluster.workers), workers_per_gpu, threads, resources, cluster.scheduler_address,
                cluster.dashboard_link if dashboard else "off")
    return cluster


def start_cluster_of(cluster_class: Any, dashboard: str | None, **kwargs: Any) -> LocalCluster:
    """``cluster_class(**kwargs)`` (a ``LocalCluster`` or one of its kind, such as ``LocalCUDACluster``) started
    under the policy of the clusters dask_runner starts, its dashboard (on ``dashboard``, None: none) attached in
    the background when a page is first asked for."""
    from dask_runner.dask.clusters.owned import OwnedCluster

    with OwnedCluster.starting():
        # Without a dashboard, the scheduler's HTTP routes on a free loopback port (not Dask's 0.0.0.0:8787).
        cluster = cluster_class(dashboard_address=dashboard or f"{LOCALHOST}:0", scheduler_kwargs={"dashboard": False},
                                **kwargs)
    return OwnedCluster.started(cluster, dashboard=dashboard is not None).cluster


def cuda_worker_pool(cluster: Any, start_timeout_s: float = 60.0, **batch: Any) -> DaskDistributed:
    """``worker=dask_cuda``: a DaskDistributed on the CUDA cluster of the ``cluster`` node
    (:func:`start_cuda_cluster` and its keywords), which the pool owns: ``shutdown()`` closes it.

    The node is built here, not by Hydra (the worker node is ``_recursive_: false``): Hydra would start the
    cluster before the other keywords are built and checked, and nothing would close it when one of them, or
    the caller's factory (nuPlan's ``logs_subdir`` check), failed. So the keywords are checked first, then the
    cluster starts, and whatever fails after that closes it. ``cluster`` may also be a cluster already
    started, which the pool then owns the same way. ``batch`` holds DaskDistributed's batch tuning
    (``max_in_flight_per_slot``, ...).
    """
    from collections.abc import Mapping

    from dask_runner.dask.clusters.jobqueue import check_batch_keys, pool_owning
    from dask_runner.dask.clusters.owned import OwnedCluster

    # Its dashboard pages are attached by start_cuda_cluster (a cluster without one gives no dashboard_link).
    if not isinstance(cluster, Mapping):  # started already (a config node is a dict or Hydra's DictConfig)
        return pool_owning(OwnedCluster(cluster, dashboard=True), batch, start_timeout_s, None)
    check_batch_keys(batch, "dask_cuda", {"cluster", "start_timeout_s"})
    from hydra.utils import instantiate

    return pool_owning(OwnedCluster(instantiate(cluster, _convert_="all"), dashboard=True), batch, start_timeout_s,
                       None)


