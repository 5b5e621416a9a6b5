"""Objects loaded once per worker process and shared by every simulation that runs there.

An ML planner that loads its network in ``initialize`` loads it once per simulation: with 0.25 GPU per
simulation that is four copies on one GPU, and a reload for every scenario. ``per_worker`` keeps one
instance per process instead, loaded by the first simulation that asks, under a lock so simultaneous
first calls (four threads of one GPU worker) still load it once. It is a plain module-level cache, so it
works the same in-process (Sequential), in threads, in process pools and on Dask workers.

Example::

    def compute_planner_trajectory(self, current_input):
        model = per_worker("my-planner:weights-v3", lambda: load_model("weights-v3.pt"))
        ...

The key names the object: use a different key for different weights or devices. Shared instances are
used concurrently by several simulations, so they must be safe to call from several threads (a torch
module in eval mode under ``torch.no_grad()`` is).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_guard = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}
_objects: dict[str, Any] = {}
_owner_pid = os.getpid()


def _reset_after_fork() -> None:
    """A forked child must not reuse its parent's objects (CUDA contexts do not survive fork) or locks."""
    global _guard, _owner_pid
    if os.getpid() != _owner_pid:
        _guard = threading.Lock()
        _key_locks.clear()
        _objects.clear()
        _owner_pid = os.getpid()


def per_worker(key: str, factory: Callable[[], T]) -> T:
    """The object cached under ``key`` in this process, built by ``factory()`` on first use.

    Thread-safe: concurrent first calls for one key run ``factory`` once and all get its result; calls
    for other keys are not blocked meanwhile. If ``factory`` raises, nothing is cached and the next call
    tries again.
    """
    _reset_after_fork()
    try:
        return _objects[key]
    except KeyError:
        pass
    with _guard:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _objects:
            _objects[key] = factory()
        return _objects[key]


def per_worker_keys() -> list[str]:
    """Keys loaded in this process (what ``per_worker`` holds now)."""
    _reset_after_fork()
    return sorted(_objects)


def clear_per_worker(key: str | None = None) -> None:
    """Drop one cached object (or all), e.g. between tests or to free GPU memory after a batch."""
    _reset_after_fork()
    with _guard:
        if key is None:
            _objects.clear()
            _key_locks.clear()
        else:
            _objects.pop(key, None)
            _key_locks.pop(key, None)


def release_gpu_memory() -> None:
    """Hand the GPU memory a finished simulation left in torch's cache back to the device (what
    ``per_worker`` holds stays: it is referenced). A no-op where torch is not loaded or CUDA was never
    initialised in this process, so CPU workers pay nothing and never start a CUDA context here."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
    except Exception:  # a broken CUDA state is the simulation's to report, not this cleanup's
        pass
