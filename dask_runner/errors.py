"""Every exception dask_runner raises, in one hierarchy, so callers can catch ours and nothing else."""

from __future__ import annotations


class DaskRunnerError(Exception):
    """Base class of every dask_runner error."""


class ConfigError(DaskRunnerError, ValueError):
    """A configuration value or argument is invalid; the message says how to fix it."""


class ResourceUnavailableError(DaskRunnerError):
    """A task asks for resources (GPU share, CPUs) that no worker of the cluster can ever provide."""


class SimulationFailedError(DaskRunnerError):
    """A runner failed and ``exit_on_failure`` was set; ``__cause__`` holds the original exception."""


class ScenarioError(DaskRunnerError):
    """A scenario could not be loaded or built (missing file, bad format)."""


class SimulationLogError(DaskRunnerError):
    """A simulation log on disk is truncated, corrupt or of an unknown format; the message names the file."""


class OutputDirError(DaskRunnerError):
    """The output folder cannot be used (exists without resume, not writable, too little free disk)."""


class ClusterError(DaskRunnerError):
    """A Dask cluster could not be started or reached."""


class RunnerLoadError(DaskRunnerError):
    """A worker could not import a module the runners of a task need. Raised inside the task on that worker;
    ``args[0]`` is its answer (address, host, python, the module and its error), which the driver turns into
    a ClusterError that names the fix."""


class RunnerTimeoutError(DaskRunnerError):
    """A runner went past its time limit (checked between simulation steps)."""


class NothingToRun(DaskRunnerError):
    """Not a failure: this process has no batch to run, and the command exits with status 0.

    Raised while the worker pool is built, so before any output folder exists: ``worker.print_job_script=true``
    (``output`` holds the job script to print) and the ranks of a ``SLURMRunner`` allocation that served as
    its scheduler or workers (the driver rank writes the results).
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def raised_from(exc: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    """``exc``, or the first exception it was raised from (``raise ... from``), that is one of ``kinds``."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, kinds):
            return cause
        cause = cause.__cause__
    return None
