"""Worker jobs on a batch scheduler through dask-jobqueue: the part every scheduler shares.

``worker=dask_slurm``, ``dask_sge``, ``dask_pbs``, ``dask_lsf`` and ``dask_htcondor`` are each a short module
(``clusters/<scheduler>.py``) holding a settings class derived from :class:`JobQueueSettings` (the scheduler's
own keys, its walltime format, its GPU request, how it checks a job script without running it) and a factory
that calls :func:`jobqueue_worker_pool`. Everything else is here, once: checking the settings at
construction, the workers' command line (resources, walltime retirement, preloads), starting dask-jobqueue's
cluster with the policy of the clusters dask_runner starts, keeping the job count (``JobKeeper``, where the
scheduler's jobs can be listed: dask-jobqueue alone does not replace a job that ended by itself), waiting for
the first worker, and the pool that closes the cluster at shutdown.

The driver runs the scheduler and submits the worker jobs; each job runs ``dask worker`` (``dask cuda worker``
with GPUs) with the driver's own Python by default, so the workers use the driver's environment.

Walltime: a worker whose job reaches its walltime is killed by the scheduler, which Dask sees as a death. So
the workers retire first (Dask's ``--lifetime`` = walltime minus ``lifetime_margin``, spread by
``--lifetime-stagger``): a retirement hands the worker's tasks over gracefully, and new jobs replace them.

Security: the scheduler, the workers and the driver require TLS with the batch's own temporary certificate
(``dask_runner.dask.clusters.tls``); the jobs read it from a private folder in ``log_directory``, removed when
the cluster closes. ``security=False`` gives plain TCP, with a warning. The dashboard listens on the
scheduler's own address, not on every interface.

Adding a scheduler: a module with a ``JobQueueSettings`` subclass (its ``cluster_class``, ``worker_key``,
``walltime_seconds`` and, where the scheduler can, ``check_job_is_accepted`` and ``list_jobs``), a factory, and a
YAML in ``config/worker/``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.dask.clusters.owned import OwnedCluster
from dask_runner.dask.clusters.preloads import scheduler_preloads, worker_preloads
from dask_runner.dask.clusters.tls import (
    remove_certificates,
    security_from_files,
    temporary_security,
    warn_security_off,
    write_certificates,
)
from dask_runner.errors import ClusterError, ConfigError, NothingToRun

if TYPE_CHECKING:
    from dask_runner.dask.clusters.job_keeper import JobListing
    from dask_runner.dask.pool import DaskDistributed

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dask_runner[slurm]'"  # the extra that brings dask-jobqueue (all its schedulers)
# What a printed job script shows where the scheduler's address, and the batch's certificate folder, will be.
SCHEDULER_PLACEHOLDER = "tcp://<scheduler-address>:8786"
TLS_SCHEDULER_PLACEHOLDER = "tls://<scheduler-address>:8786"
CERTIFICATES_PLACEHOLDER = "<batch>"
# The least memory one worker process may be given (worker.memory / its processes). Measured: a `dask worker`
# process with dask_runner's preload holds 62 MiB, 68 MiB after importing the task code (runners, IDM planner,
# metric engine, synthetic scenarios) and 178 MiB after running the default simulation (16 scenarios, IDM,
# metrics on); Dask pauses a worker at 80% of its limit (distributed.worker.memory.pause), so below
# 178 / 0.8 = 223 MiB it would pause with work in hand and the batch would wait forever. Rounded up.
MIN_MEMORY_PER_PROCESS = 256 * 2**20


@dataclass(frozen=True)
class AdaptiveJobs:
    """Adaptive scaling between ``minimum_jobs`` and ``maximum_jobs`` worker jobs (off while maximum_jobs is None)."""

    minimum_jobs: int = 0
    maximum_jobs: int | None = None

    def __post_init__(self) -> None:
        example = "worker.adapt.minimum_jobs=1 worker.adapt.maximum_jobs=8"
        if isinstance(self.minimum_jobs, bool) or not isinstance(self.minimum_jobs, int) or self.minimum_jobs < 0:
            raise ConfigError(f"adapt.minimum_jobs must be a whole number >= 0, got {self.minimum_jobs!r}; e.g. {example}")
        if self.maximum_jobs is not None and (isinstance(self.maximum_jobs, bool) or not isinstance(
                self.maximum_jobs, int) or self.maximum_jobs < max(1, self.minimum_jobs)):
            raise ConfigError(f"adapt.maximum_jobs must be a whole number >= max(1, minimum_jobs="
                              f"{self.minimum_jobs}), got {self.maximum_jobs!r}; e.g. {example}")

    @property
    def on(self) -> bool:
        return self.maximum_jobs is not None


def clock_seconds(text: str, example: str) -> float:
    """``[[H:]M:]S``-style clock text (``HH:MM:SS``, ``MM:SS`` or plain seconds) as seconds, checked."""
    try:
        parts = [float(p) for p in str(text).strip().split(":")]
    except ValueError as exc:
        raise ConfigError(f"walltime {text!r} is not a time; pass e.g. walltime={example!r}") from exc
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts):
        raise ConfigError(f"walltime {text!r} is not a time; pass e.g. walltime={example!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    if seconds <= 0:
        raise ConfigError(f"walltime {text!r} must be longer than zero; pass e.g. walltime={example!r}")
    return seconds


def _seconds(name: str, value: str | float) -> float:
    from dask.utils import parse_timedelta

    try:
        seconds = parse_timedelta(value, default="s")
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{name} {value!r} is not a duration; pass e.g. {name}='5m' or '30s'") from exc
    if seconds is None or seconds < 0:
        raise ConfigError(f"{name} must be a duration >= 0, got {value!r}; e.g. {name}='5m'")
    return float(seconds)


def _string_list(name: str, value: list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name} must be a list of strings, got {value!r}; e.g. {name}=['--exclusive'] "
                          f"(on the command line: 'worker.{name}=[\"--exclusive\"]')")
    return list(value)


@dataclass(frozen=True)
class JobQueueSettings:
    """The worker jobs of a ``worker=dask_<scheduler>`` pool: these defaults are the only ones (the YAMLs' schemas
    are made from them, see ``dask_runner.dask.worker_schemas``).

    ``jobs`` worker jobs are kept queued or running (1 when neither it nor ``adapt`` is given), or ``adapt``
    scales between its bounds. Each job has ``cores`` CPUs, ``memory`` in all, and runs ``processes`` worker
    processes (None: one per core, single-threaded, as Python planners hold the GIL; with GPUs one per GPU).
    ``gpus_per_job > 0`` asks the scheduler for that many GPUs (each scheduler's own directive) and starts
    dask-cuda workers, one per GPU, each declaring the resource ``GPU=1``. ``lifetime`` (None: walltime minus
    ``lifetime_margin``) retires workers before the walltime, spread over ``lifetime_stagger``;
    ``lifetime_margin=None`` turns that off. ``security`` (TLS with a temporary certificate) writes the jobs'
    copy to a private folder in ``log_directory`` (the working directory when None), which must be on a
    filesystem the nodes see.
    """

    # What each scheduler's module sets.
    scheduler: ClassVar[str] = ""  # its name in messages, e.g. "SLURM"
    worker_key: ClassVar[str] = ""  # the worker= value, e.g. "dask_slurm"
    cluster_class: ClassVar[str] = ""  # dask-jobqueue's cluster class, e.g. "SLURMCluster"
    walltime_example: ClassVar[str] = "01:00:00"
    queue_listing: ClassVar[str] = ""  # the command that shows what the queues offer, for error messages
    lists_jobs: ClassVar[bool] = False  # whether ``list_jobs`` answers (then a JobKeeper replaces ended jobs)
    ended_states: ClassVar[frozenset[str]] = frozenset()  # ``list_jobs`` states of a job that is over or ending

    jobs: int | None = None
    adapt: AdaptiveJobs | None = None
    cores: int = 1
    processes: int | None = None
    memory: str = "2GB"
    walltime: str = "01:00:00"
    queue: str | None = None
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    job_extra_directives: list[str] | None = None
    job_script_prologue: list[str] | None = None
    worker_extra_args: list[str] | None = None
    python: str | None = None
    gpus_per_job: int = 0
    lifetime: str | None = None
    lifetime_margin: str | None = "5m"
    lifetime_stagger: str = "1m"
    job_name: str = "dask-runner-worker"
    dashboard_port: int | None = 8787
    security: bool = True
    start_timeout_s: float = 600.0

    @property
    def example_call(self) -> str:
        return (f"{type(self).__name__}(jobs=4, cores=8, memory='16GB', walltime={self.walltime_example!r}, "
                f"queue='cpu', interface='ib0') or, on the command line, worker={self.worker_key} worker.jobs=4 "
                "worker.cores=8 worker.memory=16GB")

    def __post_init__(self) -> None:
        if isinstance(self.adapt, Mapping):  # a plain mapping from Python or an untyped YAML node
            object.__setattr__(self, "adapt", AdaptiveJobs(**self.adapt))
        self._positive_int("jobs", self.jobs, allow_none=True)
        if self.adapt is not None and not isinstance(self.adapt, AdaptiveJobs):
            raise ConfigError(f"adapt must be AdaptiveJobs(minimum_jobs=..., maximum_jobs=...), got {self.adapt!r}")
        if self.jobs is not None and self.adapt is not None and self.adapt.on:
            raise ConfigError(f"pass either jobs={self.jobs} (a fixed count) or adapt.maximum_jobs (adaptive "
                              "scaling), not both; e.g. worker.jobs=null worker.adapt.maximum_jobs=8")
        self._positive_int("cores", self.cores)
        self._positive_int("processes", self.processes, allow_none=True)
        if isinstance(self.gpus_per_job, bool) or not isinstance(self.gpus_per_job, int) or self.gpus_per_job < 0:
            raise ConfigError(f"gpus_per_job must be a whole number >= 0, got {self.gpus_per_job!r}; "
                              "e.g. worker.gpus_per_job=1")
        if self.worker_processes > self.cores or self.cores % self.worker_processes:
            raise ConfigError(f"cores={self.cores} cannot be shared equally by {self.worker_processes} worker "
                              f"processes; pass cores as a multiple of processes, e.g. cores={self.worker_processes * 4} "
                              f"processes={self.worker_processes}")
        if self.gpus_per_job and self.processes not in (None, self.gpus_per_job):
            raise ConfigError(f"dask-cuda starts one worker process per GPU: processes={self.processes} does not "
                              f"match gpus_per_job={self.gpus_per_job}; leave processes=null")
        self._check_memory_per_process(self.memory_bytes)
        self.walltime_seconds()
        for name in ("job_extra_directives", "job_script_prologue", "worker_extra_args"):
            _string_list(name, getattr(self, name))
        if self.python is not None and not os.path.isabs(str(self.python)):
            raise ConfigError(f"python must be an absolute path to the interpreter of the workers' environment "
                              f"(on a filesystem the nodes see), got {self.python!r}; e.g. python={sys.executable!r}")
        if self.dashboard_port is not None and (isinstance(self.dashboard_port, bool)
                                                or not isinstance(self.dashboard_port, int)
                                                or not 0 <= self.dashboard_port <= 65535):
            raise ConfigError(f"dashboard_port must be 0-65535 (0: any free port) or null (no dashboard), got "
                              f"{self.dashboard_port!r}")
        if not isinstance(self.start_timeout_s, (int, float)) or self.start_timeout_s <= 0:
            raise ConfigError(f"start_timeout_s must be seconds > 0, got {self.start_timeout_s!r}")
        if not isinstance(self.security, bool):
            raise ConfigError(f"security must be true (TLS with temporary certificates) or false, got {self.security!r}")
        self.worker_lifetime()  # checks lifetime, lifetime_margin and lifetime_stagger
        if self.interface is not None:
            check_interface(self.interface)

    def _positive_int(self, name: str, value: int | None, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}; e.g. {self.example_call}")

    @property
    def memory_bytes(self) -> int:
        from dask.utils import parse_bytes

        try:
            return int(parse_bytes(self.memory))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"memory {self.memory!r} is not a size; pass the memory of one job, e.g. "
                              "memory='16GB'") from exc

    def _check_memory_per_process(self, memory: int) -> None:
        """Each worker process gets ``memory / processes``; too little and Dask pauses it: the batch would hang."""
        processes = self.worker_processes
        if memory // processes >= MIN_MEMORY_PER_PROCESS:
            return
        minimum = MIN_MEMORY_PER_PROCESS // 2**20
        needed_gb = math.ceil(MIN_MEMORY_PER_PROCESS * processes / 1e9)
        raise ConfigError(f"memory={self.memory} shared by {processes} worker process(es) gives each "
                          f"{memory // processes / 2**20:.0f} MiB, below the {minimum} MiB a worker needs (Dask "
                          f"would pause the workers and the batch would hang): pass worker.memory={needed_gb}GB "
                          f"or more, or fewer processes per job (worker.processes, with worker.cores a multiple "
                          f"of it; at most {max(1, memory // MIN_MEMORY_PER_PROCESS)} for memory={self.memory})")

    # -- what each scheduler's module overrides --------------------------------------------------

    def walltime_seconds(self) -> float:
        """The walltime in seconds, parsed in the scheduler's own format (checked at construction)."""
        return clock_seconds(self.walltime, self.walltime_example)

    def scheduler_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the scheduler's dask-jobqueue cluster beyond the shared ones."""
        return {}

    def gpu_directives(self) -> list[str]:
        """The job script directives that ask for ``gpus_per_job`` GPUs (called only when it is > 0)."""
        return []

    def check_job_is_accepted(self) -> None:
        """Ask the scheduler whether it would run the job script, without running it; nothing where it cannot."""

    def list_jobs(self) -> JobListing | None:
        """This user's jobs the scheduler holds, job id -> (state, why it waits: "" when running), with pending
        jobs in state ``"PENDING"``; None where dask_runner cannot list them (its jobs are then replaced only by
        dask-jobqueue's own scaling)."""
        return None

    # -- what the settings mean -----------------------------------------------------------------

    @property
    def worker_processes(self) -> int:
        if self.processes is not None:
            return self.processes
        return self.gpus_per_job or self.cores

    @property
    def threads_per_process(self) -> int:
        return self.cores // self.worker_processes

    def worker_lifetime(self) -> tuple[float, float] | None:
        """(lifetime, stagger) in seconds of each worker, or None when workers live as long as their job."""
        stagger = _seconds("lifetime_stagger", self.lifetime_stagger)
        walltime = self.walltime_seconds()
        if self.lifetime is not None:
            lifetime = _seconds("lifetime", self.lifetime)
        elif self.lifetime_margin is None:
            return None
        else:
            margin = _seconds("lifetime_margin", self.lifetime_margin)
            if stagger >= margin:
                raise ConfigError(f"lifetime_stagger={self.lifetime_stagger} must be shorter than lifetime_margin="
                                  f"{self.lifetime_margin}, or staggered workers outlive their walltime; e.g. "
                                  "worker.lifetime_margin=5m worker.lifetime_stagger=1m")
            lifetime = walltime - margin
        if lifetime <= stagger:
            raise ConfigError(f"the workers' lifetime ({lifetime:g} s: walltime {self.walltime} minus lifetime_margin "
                              f"{self.lifetime_margin}, or lifetime) must be longer than lifetime_stagger "
                              f"({stagger:g} s); raise the walltime or lower the margin, e.g. "
                              f"worker.walltime={self.walltime_example} worker.lifetime_margin=5m")
        return lifetime, stagger

    def worker_resources(self) -> dict[str, float]:
        """What each worker process declares: its threads as ``CPU``, and one ``GPU`` per dask-cuda worker."""
        resources = {"CPU": float(self.threads_per_process)}
        if self.gpus_per_job:
            resources["GPU"] = 1.0
        return resources

    def worker_args(self) -> list[str]:
        """Arguments of each job's ``dask worker`` command, ours first, the user's ``worker_extra_args`` last."""
        args = ["--resources", ",".join(f"{k}={v:g}" for k, v in self.worker_resources().items())]
        lifetime = self.worker_lifetime()
        if lifetime is not None:
            args += ["--lifetime", f"{lifetime[0]:g}s", "--lifetime-stagger", f"{lifetime[1]:g}s"]
        for module in worker_preloads():
            args += ["--preload", module]
        return args + _string_list("worker_extra_args", self.worker_extra_args)

    def job_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of dask-jobqueue's job / cluster class for these settings."""
        directives = _string_list("job_extra_directives", self.job_extra_directives)
        if self.gpus_per_job:
            directives = [*self.gpu_directives(), *directives]
        kwargs: dict[str, Any] = {
            "cores": self.cores,
            "processes": self.worker_processes,
            "memory": self.memory,
            "walltime": self.walltime,
            "queue": self.queue,
            "interface": self.interface,
            "local_directory": self.local_directory,
            "log_directory": self.log_directory,
            "job_extra_directives": directives,
            "job_script_prologue": _string_list("job_script_prologue", self.job_script_prologue),
            "worker_extra_args": self.worker_args(),
            "python": self.python or sys.executable,
            "job_name": self.job_name,
            **self.scheduler_kwargs(),
        }
        if self.gpus_per_job:
            kwargs["worker_command"] = "dask cuda worker"  # `python -m dask cuda worker`: one worker per GPU
        return kwargs

    def certificate_folder(self, batch: str) -> Path:
        """Where the jobs' copy of the batch's certificate goes: a folder of its own, on the shared filesystem."""
        return Path(self.log_directory or os.getcwd()) / f"dask-runner-tls-{batch}"

    def changed(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) != f.default]


def check_interface(interface: str) -> None:
    """The scheduler (in this process) listens on ``interface``: it must exist here."""
    import psutil

    available = sorted(psutil.net_if_addrs())
    if interface not in available:
        raise ConfigError(f"network interface {interface!r} does not exist on this host (it has {available}); "
                          "pass one the nodes share, e.g. worker.interface=ib0 (worker.interface=lo on one machine)")


def listening_host(interface: str | None) -> str:
    """The one address a scheduler on this host is reached at, for its dashboard too (never every interface):
    ``interface``'s IPv4 address, or without one the address Dask gives the scheduler (the host's route out)."""
    from distributed.utils import get_ip, get_ip_interface

    return str(get_ip_interface(interface) if interface is not None else get_ip())


def dashboard_address(interface: str | None, port: int) -> str:
    """Where a cluster pool's dashboard listens: the scheduler's own address (an SSH tunnel to it reaches it)."""
    host = listening_host(interface)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextlib.contextmanager
def keep_sigint_handler() -> Iterator[None]:
    """dask-jobqueue replaces the Ctrl-C handler at import (it then exits silently with status 0); keep ours."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def import_jobqueue(worker_key: str = "dask_slurm") -> Any:
    try:
        with keep_sigint_handler():
            import dask_jobqueue
    except ImportError as exc:
        raise ConfigError(f"worker={worker_key} needs dask-jobqueue: {INSTALL_HINT} ({exc})") from exc
    return dask_jobqueue


def cluster_class(settings: JobQueueSettings) -> Any:
    return getattr(import_jobqueue(settings.worker_key), settings.cluster_class)


def job_script(settings: JobQueueSettings) -> str:
    """The script each worker job runs, as the scheduler would get it (the scheduler's address, and the batch's
    certificate folder, placeholders)."""
    job_class = cluster_class(settings).job_cls
    if not settings.security:
        job = job_class(SCHEDULER_PLACEHOLDER, name=settings.job_name, **settings.job_kwargs())
    else:
        job = job_class(TLS_SCHEDULER_PLACEHOLDER, name=settings.job_name, protocol="tls://",
                        security=security_from_files(settings.certificate_folder(CERTIFICATES_PLACEHOLDER)),
                        **settings.job_kwargs())
    return str(job.job_script())


def dry_run_submission(settings: JobQueueSettings, command: list[str], what: str) -> None:
    """Run ``command`` + the job script's path (a scheduler's "check, don't run"): a job it refuses (memory,
    queue, account, GPUs) fails here at once, not retried in the background while the driver waits for workers."""
    if shutil.which(command[0]) is None:
        raise ConfigError(f"worker={settings.worker_key} submits worker jobs with {command[0]}, which is not on "
                          f"PATH here: run the driver on a login node or inside a job, or use worker=dask_local on "
                          "one machine")
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="dask-runner-job-") as script:
        script.write(job_script(settings))
        script.flush()
        try:
            test = subprocess.run([*command, script.name], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(f"{what} could not run ({exc}); check that {settings.scheduler} answers") from exc
    if test.returncode != 0:
        reason = " ".join((test.stderr + " " + test.stdout).split()) or f"exit status {test.returncode}"
        if any(sign in reason for sign in ("Unable to contact", "configuration source", "Unknown host",
                                           "unable to contact qmaster", "cannot connect")):
            raise ClusterError(f"{settings.scheduler} does not answer {what} ({reason}); check that its commands "
                               "work on this host")
        raise ConfigError(f"{settings.scheduler} refuses the worker job ({reason}); adjust worker.cores, "
                          "worker.memory, worker.queue, worker.gpus_per_job or the scheduler's own keys to what "
                          f"the queues offer ({settings.queue_listing}), and see the job with "
                          "worker.print_job_script=true")


def start_jobqueue_cluster(settings: JobQueueSettings) -> OwnedCluster:
    """The dask-jobqueue cluster, started under the policy of the clusters we start, with its worker jobs
    submitted (or adaptive scaling on); what closes it is a ``JobKeeper`` keeping the jobs at the count wanted
    where the scheduler's jobs can be listed, else the cluster itself. Nothing waits for the jobs here.

    With ``settings.security`` the batch's certificate is removed from the shared filesystem when it closes.
    """
    settings.check_job_is_accepted()

    # The scheduler runs in this process, its dashboard pages attached in the background (OwnedCluster.started).
    scheduler_options: dict[str, Any] = {"preload": scheduler_preloads(), "dashboard": False}
    if settings.dashboard_port is not None:
        scheduler_options["dashboard_address"] = dashboard_address(settings.interface, settings.dashboard_port)
    extra: dict[str, Any] = {}
    folder = None
    if settings.security:
        folder = settings.certificate_folder(uuid.uuid4().hex[:12])
        try:
            os.makedirs(folder.parent, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"worker.log_directory {str(folder.parent)!r} cannot be created ({exc}); pass a "
                              "writable folder on a filesystem the nodes see") from exc
        write_certificates(folder, temporary_security())
        extra["security"] = security_from_files(folder)  # the jobs' command lines name the files
    else:
        warn_security_off(f"worker={settings.worker_key}")
    with OwnedCluster.starting():
        try:
            cluster = _removing_certificates(cluster_class(settings), folder)(
                scheduler_options=scheduler_options, **settings.job_kwargs(), **extra)
        except BaseException as exc:
            if folder is not None:
                remove_certificates(folder)
            if isinstance(exc, (OSError, ValueError)):
                raise ClusterError(f"the {settings.scheduler} cluster's scheduler could not start: {exc}; check "
                                   "worker.interface and free ports") from exc
            raise
    from dask_runner.dask.clusters.job_keeper import JobKeeper, KeeperSettings

    owner: Any = cluster
    describe = None
    try:
        if settings.adapt is not None and settings.adapt.on:
            cluster.adapt(minimum_jobs=settings.adapt.minimum_jobs, maximum_jobs=settings.adapt.maximum_jobs)
            how = f"adaptive, {settings.adapt.minimum_jobs}-{settings.adapt.maximum_jobs} jobs"
            keeping = KeeperSettings(None, how)
        else:
            jobs = settings.jobs or 1
            how = f"{jobs} job(s)"
            keeping = KeeperSettings(jobs, how)
        if settings.lists_jobs:
            owner = JobKeeper(cluster, settings.list_jobs, keeping, settings.ended_states).start()  # type: ignore[arg-type]
            describe = owner.describe_jobs
            how += f", jobs that end replaced within {keeping.interval_s:g} s"
        elif keeping.fixed_jobs is not None:
            # Adaptive scaling held at the count, not scale(): it replaces the jobs its own scaling retired.
            cluster.adapt(minimum_jobs=keeping.fixed_jobs, maximum_jobs=keeping.fixed_jobs)
        owned = OwnedCluster.started(cluster, dashboard=settings.dashboard_port is not None, closer=owner,
                                     describe=describe)
    except BaseException:
        owner.close()
        raise
    lifetime = settings.worker_lifetime()
    logger.info("%s cluster: scheduler listening on %s, dashboard %s; %s of %d core(s) / %s, %d worker "
                "process(es) each, python %s%s", settings.scheduler, cluster.scheduler_address,
                cluster.dashboard_link or "off", how, settings.cores, settings.memory, settings.worker_processes,
                settings.python or sys.executable,
                f", workers retire after {lifetime[0]:g} s (+/- {lifetime[1]:g} s)" if lifetime else "")
    return owned


def _removing_certificates(cluster_cls: Any, certificates: Path | None) -> Any:
    """dask-jobqueue's cluster class; with certificates on the shared filesystem, one that removes them as it closes."""
    if certificates is None:
        return cluster_cls
    folder = certificates

    class ClusterRemovingCertificates(cluster_cls):
        def close(self, timeout: float | None = None) -> Any:  # also what Dask calls at interpreter exit
            try:
                return super().close(timeout)
            finally:
                remove_certificates(folder)

    ClusterRemovingCertificates.__name__ = cluster_cls.__name__
    return ClusterRemovingCertificates


def jobqueue_worker_pool(settings_class: type[JobQueueSettings], print_job_script: bool,
                         keys: dict[str, Any]) -> DaskDistributed:
    """A ``worker=dask_<scheduler>`` pool: ``keys`` are the settings' fields plus DaskDistributed's batch tuning
    (``max_in_flight_per_slot``, ...). ``print_job_script=True`` submits nothing: it raises NothingToRun holding
    the job script, which the command prints before exiting with status 0."""
    names = {f.name for f in fields(settings_class)}
    batch = {k: v for k, v in keys.items() if k not in names}
    check_batch_keys(batch, settings_class.worker_key, names | {"print_job_script"})
    settings = settings_class(**{k: v for k, v in keys.items() if k in names})
    if print_job_script:
        raise NothingToRun("worker.print_job_script=true: printed the job script, submitted nothing",
                           output=job_script(settings))
    return pool_owning(start_jobqueue_cluster(settings), batch, settings.start_timeout_s, settings.log_directory,
                       settings.scheduler)


def check_batch_keys(batch: dict[str, Any], worker_key: str, other_keys: set[str]) -> None:
    """Refuse, before anything starts, a key of ``worker=<worker_key>`` that is not DaskDistributed's batch tuning
    (nor one of the node's ``other_keys``), and a tuning value out of range."""
    from dask_runner.dask.batch import DaskBatchSettings

    tuning = {f.name for f in fields(DaskBatchSettings)}
    # and the time limit of the pool's map (what nuPlan's and NAVSIM's scripts call), set by their worker nodes
    unknown = sorted(set(batch) - tuning - {"time_limit_s"})
    if unknown:
        raise ConfigError(f"worker={worker_key} has no key {', '.join(unknown)}; its keys are "
                          f"{', '.join(sorted(tuning | other_keys | {'time_limit_s'}))}")
    DaskBatchSettings(**{k: v for k, v in batch.items() if k in tuning})


def pool_owning(cluster: OwnedCluster, batch: dict[str, Any], start_timeout_s: float, log_directory: str | None,
                scheduler: str = "SLURM") -> DaskDistributed:
    """A DaskDistributed on ``cluster`` that closes it at shutdown, returned once a worker has joined.

    Whatever fails on the way closes what was started (the cluster, or the pool with it).
    """
    from dask_runner.dask.pool import DaskDistributed

    pool = DaskDistributed(cluster=cluster, **batch)
    try:
        wait_for_first_worker(pool, start_timeout_s, log_directory, scheduler)
    except BaseException:
        pool.shutdown()
        raise
    return pool


QUEUE_HINTS = {
    "SLURM": ("`squeue --me`", "the jobs' slurm-<id>.out files"),
    "Grid Engine": ("`qstat`", "the jobs' <name>.o<id> files"),
    "PBS": ("`qstat -u $USER`", "the jobs' <name>.o<id> files"),
    "LSF": ("`bjobs`", "the jobs' output files"),
    "HTCondor": ("`condor_q`", "the jobs' log files"),
}


def wait_for_first_worker(pool: DaskDistributed, timeout: float, log_directory: str | None,
                          scheduler: str = "SLURM") -> None:
    """Block until one worker has joined (batches start with what there is; the others join as they come)."""
    queue_command, default_logs = QUEUE_HINTS.get(scheduler, ("the scheduler's queue", "the jobs' output files"))
    try:
        pool.client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        where = f"the job logs in {log_directory}" if log_directory else default_logs
        raise ClusterError(f"no worker joined within {timeout:g} s: check {queue_command} (jobs still pending? a "
                           f"queue or account {scheduler} refused?) and {where} (a worker that cannot start, e.g. "
                           "another Python or a missing package); raise worker.start_timeout_s for long queues") from exc
