"""Functions mapped through pools in the tests, importable by worker processes."""

from __future__ import annotations

import os
import threading


def square_or_die(x: int) -> int:
    if x == 13:
        os._exit(13)  # kills the worker process running it
    return x * x


def square_or_raise(x: int) -> int:
    if x == 7:
        raise ValueError(f"item {x} is unlucky")
    return x * x


def hang_on(x: int, hang: int) -> int:
    if x == hang:
        threading.Event().wait()  # never returns
    return x


def current_task_key(_: int) -> str:
    from distributed import get_worker

    return str(get_worker().get_current_task())
