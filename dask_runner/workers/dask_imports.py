"""Before a batch: can every worker import the modules the runners are pickled with?

A worker that cannot unpickle a task (its runner class comes from a package not installed in the
workers' environment, or from a script folder only on the driver's path) does not fail the task
cleanly: on SLURM worker jobs the workers died and restarted in a loop and the batch hung until killed.
So the driver collects the modules a runner's pickle names (one runner of each class, unpickled here
with a recording ``find_class``: planners, callbacks and metrics included) and asks every worker to
import them, with one ``client.run``; a failure is an error that names the module, the worker, its
Python and the fix, raised before anything is submitted.

Workers that join while the batch runs (adaptive scaling, a job replacing a retired one) get the same
check from a worker plugin the driver registers for the batch: its ``setup`` imports the modules when the
worker joins and, on a failure, sends an event the driver turns into the same error, stopping the batch.
"""

from __future__ import annotations

import importlib
import io
import logging
import pickle
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

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


def check_workers_can_import(client: Client, runners: Sequence[AbstractRunner]) -> list[str]:
    """Raise ClusterError naming module, worker, Python and fix when a worker cannot import what the runners need.

    Returns the modules checked (for ``JoinerCheck``, which checks the workers that join later).
    """
    modules = sorted(modules_needed(runners))
    if not modules:
        return modules
    answers: dict[str, Any] = client.run(import_on_worker, modules, on_error="return")
    problems = [line for address, answer in sorted(answers.items()) for line in _problems(address, answer)]
    if problems:
        raise _error(problems, "Nothing was submitted.")
    return modules


class ImportCheckPlugin(WorkerPlugin):
    """Run on every worker that joins while it is registered: the import check, a failure sent as an event."""

    def __init__(self, modules: list[str], topic: str) -> None:
        self.modules = modules
        self.topic = topic

    def setup(self, worker: Any) -> None:
        answer = import_on_worker(self.modules)
        if answer["failures"]:
            worker.log_event(self.topic, {"address": worker.address, **answer})


class JoinerCheck:
    """The import check for workers that join during one batch (``with JoinerCheck(...)`` around the batch).

    ``wake`` is called (on the client's event loop) when a worker fails it, so that a batch waiting for
    results notices at once; ``raise_if_failed`` then raises the error that names module, worker and fix.
    """

    def __init__(self, client: Client, modules: list[str], wake: Callable[[], None]) -> None:
        self.client = client
        self.modules = modules
        self.wake = wake
        self.name = f"dask_runner-import-check-{uuid.uuid4().hex[:12]}"  # one per batch: batches may overlap
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> JoinerCheck:
        if self.modules:
            self.client.subscribe_topic(self.name, self._on_event)
            self.client.register_plugin(ImportCheckPlugin(self.modules, self.name), name=self.name)
        return self

    def __exit__(self, *_: object) -> None:
        if not self.modules:
            return
        self.client.unsubscribe_topic(self.name)
        try:
            self.client.unregister_worker_plugin(self.name)
        except Exception:  # noqa: BLE001  (the cluster may be going away; the plugin goes with it)
            logger.debug("could not unregister %s", self.name, exc_info=True)

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        with self._lock:
            self.problems += _problems(str(message["address"]), message, " (joined during the batch)")
        self.wake()

    def raise_if_failed(self) -> None:
        with self._lock:
            problems = list(self.problems)
        if problems:
            raise _error(problems, "The batch was stopped; runners already reported keep their reports.")
