"""AbstractRunner (nuPlan's interface): one unit of work that returns a RunnerReport."""

from __future__ import annotations

import abc
from typing import Any

from dask_runner.runner.report import RunnerReport


class AbstractRunner(abc.ABC):
    """A runner must pickle: executors send it to other processes and machines.

    ``runner_id`` identifies the runner uniquely within a batch (and across a resumed batch when the
    builder derives it from scenario and planner); reports are keyed by it, never by names.
    """

    runner_id: str

    @abc.abstractmethod
    def run(self) -> RunnerReport: ...

    @property
    @abc.abstractmethod
    def scenario(self) -> Any: ...

    @property
    @abc.abstractmethod
    def planner(self) -> Any: ...
