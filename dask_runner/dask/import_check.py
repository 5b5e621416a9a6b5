"""Before a batch: can every worker import the modules the runners are pickled with? And during it: say so.

A worker that cannot unpickle a task message (its runner class comes from a package not installed in the
workers' environment, or from a script folder only on the driver's path) does not fail the task: its
connection to the scheduler breaks and it leaves, and a cluster that does not replace it leaves the batch
waiting. So the driver collects the modules a runner's pickle names (one runner of each class, unpickled
here with a recording ``find_class``: planners, callbacks and metrics included) and asks every worker to
import them, with one ``client.run``; a failure is an error that names the module, the worker, its Python
and the fix, raised before anything is submitted.

Workers that join while the batch runs (adaptive scaling, a job replacing a retired one) receive the runners
as bytes inside the task (``dask_tasks.GroupRunners``): such a worker fails the task with the same answer,
and ``load_failure_error`` turns it into the same error. A worker that cannot import dask_runner itself still
cannot read the task and leaves; ``workers_without_dask_runner`` finds such workers when one is lost.
"""

from __future__ import annotations

import importlib
import io
import logging
import pickle
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dask_runner.errors import ClusterError

if TYPE_CHECKING:
    from distributed import Client

    from dask_runner.runner.abstract_runner import AbstractRunner

logger = logging.getLogger(__name__)

FIX = ("install the package into the workers' environment (the same virtual environment on a shared "
       "filesystem), point the workers at an interpreter that has it (worker.python=/path/to/venv/bin/python), "
       "or put its folder on their path (worker.job_script_prologue='[\"export PYTHONPATH=/path/to/folder:"
       "$PYTHONPATH\"]', or PYTHONPATH in the job script that starts `dask worker`)")


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, modules: set[str]) -> None:
        super().__init__(io.BytesIO(data))
        self.modules = modules

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def modules_needed(runners: Sequence[AbstractRunner]) -> set[str]:
    """The modules a worker must import to unpickle the runners (one runner of each class is examined)."""
    from distributed.protocol.pickle import dumps

    modules: set[str] = set()
    seen: set[type] = set()
    for runner in runners:
        if type(runner) in seen:
            continue
        seen.add(type(runner))
        try:
            _RecordingUnpickler(dumps(runner), modules).load()
        except Exception:  # noqa: BLE001  (a runner that cannot travel fails alone, in the batch)
            logger.debug("could not examine the pickle of a %s", type(runner).__name__, exc_info=True)
    return {m for m in modules if m != "__main__"}


def import_on_worker(modules: list[str]) -> dict[str, Any]:
    """Runs on each worker: which of ``modules`` fail to import here, and with which Python."""
    failures: dict[str, str] = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except BaseException as exc:  # noqa: BLE001  (whatever importing raises, the worker cannot use it)
            failures[module] = f"{type(exc).__name__}: {exc}"
    return {"failures": failures, "python": sys.executable, "host": socket.gethostname()}


def _problems(address: str, answer: dict[str, Any] | BaseException, when: str = "") -> list[str]:
    """One line per module the worker at ``address`` cannot import, from its ``import_on_worker`` answer."""
    if isinstance(answer, BaseException):
        # The check itself could not be unpickled there: dask_runner is missing on that worker.
        return [f"worker {address}{when} could not run dask_runner's import check ({type(answer).__name__}: "
                f"{answer}); dask_runner itself is probably not installed in its environment"]
    problems = []
    for module, error in sorted(answer["failures"].items()):
        origin = getattr(sys.modules.get(module), "__file__", None)
        here = f"; the driver imports it from {origin}" if origin else ""
        problems.append(f"worker {address}{when} on {answer['host']} (python {answer['python']}) cannot import "
                        f"{module!r}, which the runners need ({error}){here}")
    return problems


def _error(problems: list[str], outcome: str) -> ClusterError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ClusterError(f"{problems[0]}{more}: {FIX}. {outcome}\n" + "\n".join(problems[1:]))


def check_workers_can_import(client: Client, runners: Sequence[AbstractRunner]) -> set[str]:
    """Raise ClusterError naming module, worker, Python and fix when a worker cannot import what the runners need.

    Returns the addresses of the workers checked (a worker that fails later joined during the batch).
    """
    modules = sorted(modules_needed(runners)) or ["dask_runner"]
    answers: dict[str, Any] = client.run(import_on_worker, modules, on_error="return")
    problems = [line for address, answer in sorted(answers.items()) for line in _problems(address, answer)]
    if problems:
        raise _error(problems, "Nothing was submitted.")
    return set(answers)


STOPPED = "The batch was stopped; runners already reported keep their reports."


def load_failure_error(answer: dict[str, Any], checked: set[str]) -> ClusterError:
    """The error for a worker whose task could not load its runners (``dask_tasks.RunnerLoadError``'s answer)."""
    address = str(answer.get("address", "?"))
    when = "" if address in checked else " (joined during the batch)"
    return _error(_problems(address, answer, when), STOPPED)


def workers_without_dask_runner(client: Client, exclude: set[str]) -> ClusterError | None:
    """The error naming the workers (other than ``exclude``) that cannot import dask_runner, or None.

    Such a worker cannot read a task message and leaves when it gets its first task; ``client.run`` sends
    its function as bytes the worker unpickles in a try, so asking does not make it leave.
    """
    answers: dict[str, Any] = client.run(import_on_worker, ["dask_runner"], on_error="return")
    # Only an import error says dask_runner is missing there; a worker that is going away answers with a
    # connection error, which says nothing about its environment.
    problems = [line for address, answer in sorted(answers.items())
                if address not in exclude and isinstance(answer, ImportError)
                for line in _problems(address, answer, " (joined during the batch)")]
    return _error(problems, STOPPED) if problems else None
