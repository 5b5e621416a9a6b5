"""Waiting in tests without sleeping for a guessed time: poll a condition with a deadline, or look at threads.

``tests/`` is on ``sys.path`` (its conftest.py puts it there), so every test module, and the Dask
worker processes the tests start, import this module as ``sync_helpers``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import FunctionType
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.01) -> T:
    """Return the first truthy value of ``predicate()``; AssertionError naming ``what`` after ``timeout_s``.

    The short pause between two checks only paces the polling; nothing depends on how long it is.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def _stack_runs(frame: object, code: object) -> bool:
    while frame is not None:
        if frame.f_code is code:  # type: ignore[attr-defined]
            return True
        frame = frame.f_back  # type: ignore[attr-defined]
    return False


def threads_inside(function: FunctionType) -> int:
    """How many threads of this process are now inside ``function`` (it is on their call stack)."""
    code = function.__code__
    return sum(_stack_runs(frame, code) for frame in sys._current_frames().values())


def thread_is_inside(thread_id: int, function: FunctionType) -> bool:
    """Whether the thread ``thread_id`` (``threading.get_ident()``) is now inside ``function``."""
    frame = sys._current_frames().get(thread_id)
    return frame is not None and _stack_runs(frame, function.__code__)
