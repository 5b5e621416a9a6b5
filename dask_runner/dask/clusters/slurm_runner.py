"""Everything inside one SLURM allocation: ``srun -n N dask-runner simulate worker=dask_slurm_runner ...``.

Every rank runs the same command. dask-jobqueue's ``SLURMRunner`` gives each its role from ``SLURM_PROCID``:
rank 0 runs the scheduler, rank 1 is the driver that runs the batch, the others are workers. The job
skeleton asks for the role first (``serve_unless_driver``, before it builds scenarios or runners): the
scheduler and worker ranks serve there until the driver is done and then leave by ``NothingToRun`` (status
0, no folder, nothing printed); only the driver checks the rest of the configuration, builds the runners
and writes outputs, and it ends the other ranks itself if it stops before its pool takes them over. A
worker rank that gets there after the driver has ended the batch (slowed by its imports, say) leaves at
once with status 0 too (``allocation_step``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.dask.clusters.allocation_step import AllocationStep
from dask_runner.dask.clusters.jobqueue import (
    check_interface,
    dashboard_address,
    import_jobqueue,
    keep_sigint_handler,
)
from dask_runner.dask.clusters.owned import OwnedCluster
from dask_runner.dask.clusters.preloads import scheduler_preloads, worker_preloads
from dask_runner.dask.clusters.tls import (
    certificate_folder,
    load_certificates,
    make_certificates,
    remove_certificates,
    warn_security_off,
)
from dask_runner.errors import ConfigError, NothingToRun

if TYPE_CHECKING:
    from distributed.security import Security

logger = logging.getLogger(__name__)

SLURM_VARIABLES = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID")
EXAMPLE = "srun -n 6 dask-runner simulate worker=dask_slurm_runner worker.interface=ib0"
DRIVER_RANK = 1
POLL_S = 0.2  # how often a rank that has not joined looks at the shared folder (the scheduler file, the step's end)
MARK_DELAY_S = 10.0  # how long a rank that failed to join waits for the batch's end to show before it fails

# `dask worker` arguments that mean something to one worker process, as Worker/Nanny keywords.
_WORKER_FLAGS: dict[str, tuple[str, type]] = {
    "--nthreads": ("nthreads", int),
    "--memory-limit": ("memory_limit", str),
    "--lifetime": ("lifetime", str),
    "--lifetime-stagger": ("lifetime_stagger", str),
    "--death-timeout": ("death_timeout", str),
    "--preload": ("preload", str),
    "--resources": ("resources", str),
}


def worker_options_from_args(args: list[str]) -> dict[str, Any]:
    """``["--resources", "GPU=1", "--lifetime", "55m"]`` → Nanny keywords (the flags that apply to one rank)."""
    if isinstance(args, str) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"worker_extra_args must be a list of strings, got {args!r}; e.g. "
                          "'worker.worker_extra_args=[\"--resources\", \"GPU=1\"]'")
    options: dict[str, Any] = {}
    pending = list(args)
    while pending:
        flag = pending.pop(0)
        if flag not in _WORKER_FLAGS or not pending:
            raise ConfigError(f"worker_extra_args: {flag!r} is not supported in one allocation (supported, each "
                              f"with a value: {sorted(_WORKER_FLAGS)}); e.g. "
                              "'worker.worker_extra_args=[\"--resources\", \"GPU=1\"]'")
        name, kind = _WORKER_FLAGS[flag]
        value = kind(pending.pop(0))
        if name == "resources":
            for item in str(value).replace(",", " ").split():
                key, _, amount = item.partition("=")
                options.setdefault("resources", {})[key] = float(amount)
        elif name == "preload":
            options.setdefault("preload", []).append(value)
        else:
            options[name] = value
    return options


@dataclass(frozen=True)
class SLURMRunnerSettings:
    """The allocation's cluster; these defaults are the only ones (the YAML refers to them).

    ``scheduler_file`` is where rank 0 writes its address for the others (``{job_id}`` is replaced, so a
    file of an earlier job is never read); it must be on a filesystem every node sees, and so must the
    folder of the allocation's certificates beside it (``security``, see ``dask_runner.dask.clusters.tls``).
    """

    scheduler_file: str = "scheduler-{job_id}.json"
    interface: str | None = None
    local_directory: str | None = None
    worker_extra_args: list[str] | None = None
    threads_per_worker: int = 1
    dashboard_port: int | None = 8787
    security: bool = True
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.scheduler_file:
            raise ConfigError("scheduler_file must name a file on a shared filesystem, e.g. "
                              "worker.scheduler_file=$HOME/scheduler-{job_id}.json")
        if isinstance(self.threads_per_worker, bool) or not isinstance(self.threads_per_worker, int) \
                or self.threads_per_worker < 1:
            raise ConfigError(f"threads_per_worker must be a whole number >= 1, got {self.threads_per_worker!r}")
        if not isinstance(self.security, bool):
            raise ConfigError(f"security must be true (TLS with temporary certificates) or false, got {self.security!r}")
        worker_options_from_args(list(self.worker_extra_args or []))
        if self.interface is not None:
            check_interface(self.interface)

    def scheduler_path(self, job_id: str) -> Path:
        """The scheduler file of job ``job_id``, as dask-jobqueue names it."""
        return Path(self.scheduler_file.format(job_id=job_id))

    def worker_options(self) -> dict[str, Any]:
        extra = worker_options_from_args(list(self.worker_extra_args or []))
        resources = {"CPU": float(self.threads_per_worker), **extra.pop("resources", {})}
        options: dict[str, Any] = {"nthreads": self.threads_per_worker, "resources": resources,
                                   "preload": [*worker_preloads(), *extra.pop("preload", [])], **extra}
        if self.interface is not None:
            options["interface"] = self.interface
        if self.local_directory is not None:
            options["local_directory"] = self.local_directory
        return options

    def scheduler_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"preload": scheduler_preloads()}
        if self.security:
            options["protocol"] = "tls"
        if self.interface is not None:
            options["interface"] = self.interface
        if self.dashboard_port is None:
            options["dashboard"] = False
        else:
            options["dashboard_address"] = dashboard_address(self.interface, self.dashboard_port)
        return options


def _role_finished(*_: object) -> None:
    """dask-jobqueue signals its own process with SIGINT when a scheduler or worker rank's role is over."""
    sys.exit(0)


def slurm_rank() -> tuple[int, int]:
    """(this rank, number of ranks) of the ``srun`` step, or a ConfigError saying how to start one."""
    missing = [name for name in SLURM_VARIABLES if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"worker=dask_slurm_runner runs inside a SLURM allocation, one command per rank "
                          f"({', '.join(missing)} not set): start it with `{EXAMPLE}` in an sbatch script")
    rank, ranks = int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"])
    if ranks < 3:
        raise ConfigError(f"worker=dask_slurm_runner needs at least 3 ranks (scheduler, driver, a worker), got "
                          f"SLURM_NTASKS={ranks}; e.g. `{EXAMPLE}`")
    return rank, ranks


def role_of(rank: int) -> str:
    return {0: "scheduler", DRIVER_RANK: "driver"}.get(rank, "worker")


def _certificates(settings: SLURMRunnerSettings, rank: int, step: AllocationStep) -> tuple[Security | None, Path | None]:
    """This rank's TLS set-up (None without ``security``): rank 0 makes the certificates, the others load them.

    A rank that arrives after the batch has ended finds them removed already: it stops waiting when the step
    says so (``_EndedBeforeJoining``) instead of failing after ``start_timeout_s``.
    """
    if not settings.security:
        return None, None
    job_id = os.environ["SLURM_JOB_ID"]
    folder = certificate_folder(settings.scheduler_path(job_id), job_id, os.environ.get("SLURM_STEP_ID", "0"))
    if rank == 0:
        return make_certificates(folder), folder
    security = load_certificates(folder, settings.start_timeout_s, give_up=step.ended)
    if security is None:
        raise _EndedBeforeJoining
    return security, folder


class _EndedBeforeJoining(Exception):
    """A worker rank got to the allocation after its driver had ended the batch: nothing left for it to do."""


def _runner_class(jobqueue: Any, security: Security | None, step: AllocationStep) -> Any:
    """dask-jobqueue's SLURMRunner, with what it lacks for ranks that arrive late and for TLS.

    - Late worker ranks: SLURMRunner hands the scheduler file to Dask's Nanny, which waits for it forever
      (blocking the event loop: no death_timeout), and a Nanny that read a file not yet removed retries the
      gone address until Dask's connect timeout, then fails to start. Here the rank reads the address itself
      and watches the step's record while it joins: if the driver ends the batch first, the rank closes its
      Nanny and leaves (status 0, see ``AllocationStep``); a Nanny that fails while the batch runs is a
      failure. Once joined, the scheduler's close ends the rank as before.
    - The driver marks the step as ended before it closes the scheduler, and records that it left.
    - TLS: on the driver, SLURMRunner opens an ``rpc`` to the scheduler (its ``close()`` sends ``terminate``
      through it, which ends every rank) without any security: with TLS that message would never arrive.
      ``Client(runner)`` reads the ``security`` attribute.
    """
    from dask_jobqueue.runner import Role
    from distributed.core import rpc

    client_connection = security.get_connection_args("client") if security is not None else {}

    class AllocationRunner(jobqueue.slurm.SLURMRunner):
        async def get_scheduler_address(self) -> str | None:
            """The address rank 0 wrote, or None once the driver has ended the batch."""
            runner: Any = self  # dask-jobqueue has no annotations
            while not step.ended():
                try:
                    return str(json.loads(runner.scheduler_file.read_text())["address"])
                except (FileNotFoundError, ValueError, KeyError):  # not there yet, or being written
                    await asyncio.sleep(POLL_S)
            return None

        async def start_worker(self) -> None:
            runner: Any = self
            options = {key: value for key, value in runner.worker_options.items() if key != "scheduler_file"}
            address = await self.get_scheduler_address()
            if address is None:
                raise _EndedBeforeJoining
            worker = runner.worker_class(scheduler_ip=address, name=await runner.get_worker_name(), **options)
            joining = asyncio.ensure_future(worker.start())
            while not joining.done() and not step.ended():
                await asyncio.wait({joining}, timeout=POLL_S)
            if joining.done() and joining.exception() is not None:
                # The scheduler closed on it as it joined: the batch's end if the driver marked it, which a
                # shared filesystem may show this node a little later than the closed connection.
                deadline = asyncio.get_running_loop().time() + MARK_DELAY_S
                while not step.ended() and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(POLL_S)
            # Ended before it joined: nothing left for it to do.
            if not joining.done() or (joining.exception() is not None and step.ended()):
                joining.cancel()
                with contextlib.suppress(BaseException):
                    await joining
                with contextlib.suppress(Exception):
                    await worker.close(reason="the batch ended before this rank joined")
                raise _EndedBeforeJoining
            async with worker:  # joined (or failed to while the batch runs: that error goes up)
                await worker.finished()

        async def before_client_start(self) -> None:
            runner: Any = self
            if security is not None:
                if runner.scheduler_comm is not None:
                    await runner.scheduler_comm.close_rpc()
                runner.scheduler_comm = rpc(runner.scheduler_address, connection_args=client_connection)

        def close(self) -> None:
            runner: Any = self
            if runner.role != Role.client:
                # Nothing to close (SLURMRunner closes only the driver's connection); BaseRunner.__del__ calls
                # this from the event loop of a serving rank, where its sync close was never awaited.
                return
            step.end()
            super().close()
            step.leave(DRIVER_RANK)

    AllocationRunner.security = security
    return AllocationRunner


def _start_rank(settings: SLURMRunnerSettings) -> Any:
    """This rank's part: the scheduler and worker ranks serve inside this call until the driver ends the
    allocation and then raise NothingToRun; on the driver it returns the SLURMRunner to connect to."""
    rank, ranks = slurm_rank()
    jobqueue = import_jobqueue()
    role = role_of(rank)
    job_id = os.environ["SLURM_JOB_ID"]
    step = AllocationStep.beside(settings.scheduler_path(job_id), job_id, os.environ.get("SLURM_STEP_ID", "0"), ranks)
    logger.info("SLURM allocation of %d ranks: rank %d is the %s", ranks, rank, role)
    finished = NothingToRun(f"rank {rank} served as the {role} of this allocation; rank {DRIVER_RANK}, the driver, "
                            "wrote the results")
    folder = None
    # The scheduler and worker ranks block inside the constructor until the driver closes the cluster, then
    # dask-jobqueue ends them with SystemExit from its own SIGINT handler.
    # Rank 0's scheduler and the worker ranks' nannies start under the policy of the clusters we start (rank 0
    # starts its dashboard with the scheduler: it blocks in SLURMRunner until the end, with a core of its own).
    try:
        if role == "worker" and step.ended():
            raise _EndedBeforeJoining
        security, folder = _certificates(settings, rank, step)
        scheduler_options, worker_options = settings.scheduler_options(), settings.worker_options()
        if security is not None:
            scheduler_options["security"] = worker_options["security"] = security
        with keep_sigint_handler(), OwnedCluster.starting():
            if role != "driver":
                signal.signal(signal.SIGINT, _role_finished)
            runner_class = _runner_class(jobqueue, security, step)
            try:
                return runner_class(scheduler_file=settings.scheduler_file, scheduler_options=scheduler_options,
                                    worker_options=worker_options, worker_class="distributed.Nanny")
            except SystemExit:
                step.leave(rank)
                raise finished from None
    except _EndedBeforeJoining:
        step.leave(rank)
        # Said on its output: this rank's share of the allocation went unused (a batch shorter than its start).
        raise NothingToRun(f"rank {rank} got to the allocation after the driver had ended the batch",
                           output=f"rank {rank}: the driver ended the batch before this worker joined; "
                                  "nothing left to do") from None
    finally:
        if rank == 0 and folder is not None:
            remove_certificates(folder)


def start_allocation_cluster(settings: SLURMRunnerSettings) -> OwnedCluster:
    """This rank's part of the allocation's cluster: on the driver (rank 1) the cluster its pool owns; the
    scheduler and worker ranks serve inside this call and leave by NothingToRun once the driver has ended it."""
    runner = _start_rank(settings)
    if not settings.security:
        warn_security_off("worker=dask_slurm_runner")  # on the driver rank only: the others have returned
    return OwnedCluster(runner, dashboard=settings.dashboard_port is not None)


def serve_unless_driver(**node: Any) -> Callable[[], None]:
    """The job's first step (``SLURMAllocationPool.first_step``): the scheduler and worker ranks serve here and
    leave by NothingToRun, before any scenario or runner is built (only the driver needs them).

    On the driver it returns at once with what ends the allocation should the job stop before its pool is
    built (a configuration error, nothing left to run): the other ranks would otherwise wait for it forever.
    ``node`` holds the worker node's values, those of ``SLURMAllocationPool`` (its batch tuning is not used here).
    """
    settings = SLURMRunnerSettings(**{f.name: node[f.name] for f in fields(SLURMRunnerSettings) if f.name in node})
    rank, _ = slurm_rank()
    if role_of(rank) != "driver":
        _start_rank(settings)
        raise NothingToRun(f"rank {rank} served this allocation")  # _start_rank returns only on the driver
    return functools.partial(end_allocation, settings)


def end_allocation(settings: SLURMRunnerSettings) -> None:
    """The driver, without a pool: connect as SLURMRunner's client and close, which ends every rank (those
    that have not joined yet too: see ``AllocationStep``)."""
    logger.info("Ending the allocation's scheduler and worker ranks: this driver has nothing to run on them")
    try:
        runner = _start_rank(settings)
    except Exception:  # noqa: BLE001  (the driver's own error, raised after this, is the one to report)
        logger.warning("could not reach the allocation's scheduler to end it", exc_info=True)
        return
    runner.close()
