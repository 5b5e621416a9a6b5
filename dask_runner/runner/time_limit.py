"""A cooperative per-runner time limit: the executor sets a deadline, simulation loops check it each step.

A step that never returns cannot be stopped this way; the Dask backend also enforces a hard limit by
restarting the worker.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Iterator

from dask_runner.errors import RunnerTimeoutError

_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "dask_runner_deadline", default=None
)


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Within this block, :func:`check_time_limit` raises once ``seconds`` have passed."""
    if seconds is None:
        yield
        return
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time_limit() -> None:
    """Raise RunnerTimeoutError if the current runner is past its deadline; cheap enough for every step."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise RunnerTimeoutError(f"runner exceeded its time limit of {deadline[1]:g} s")
