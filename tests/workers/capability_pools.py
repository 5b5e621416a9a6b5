"""A pool written by a user that declares a first step, for tests/workers/test_pool_capabilities.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dask_runner.execution.sequential import Sequential

STEPS: list[dict[str, Any]] = []  # the values each first step was called with
UNDONE: list[bool] = []


class PoolWithAFirstStep(Sequential):
    def __init__(self, warm_up: str = "cache") -> None:
        super().__init__()
        self.warm_up = warm_up

    @classmethod
    def first_step(cls, **settings: Any) -> Callable[[], None]:
        STEPS.append(settings)
        return lambda: UNDONE.append(True)


def pool_factory(warm_up: str = "cache") -> PoolWithAFirstStep:
    """A factory function as a worker target: a pool of the same kind, but no pool class, so no first step."""
    return PoolWithAFirstStep(warm_up)
