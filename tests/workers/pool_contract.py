"""nuPlan's worker-pool behaviours, as checks every pool must pass (imported by each pool's tests)."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from dask_runner.errors import ConfigError
from dask_runner.execution.worker_pool import Task, WorkerPool


def square(x: int) -> int:
    return x * x


def add(a: int, b: int) -> int:
    return a + b


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b


def fail(message: str) -> None:
    raise ValueError(message)


def check_pool_contract(pool: WorkerPool) -> None:
    """Map alignment, squaring a list, matrix products, submit, errors — as nuPlan's worker tests do."""
    assert pool.number_of_threads >= 1
    assert pool.config.number_of_threads == pool.number_of_threads

    # Squaring a list keeps the input order.
    assert pool.map(Task(square), list(range(20))) == [x * x for x in range(20)]

    # A non-list argument is repeated for every call; lists must share one length.
    assert pool.map(Task(add), [1, 2, 3], 10) == [11, 12, 13]
    assert pool.map(Task(add), 1, 2) == [3]
    with pytest.raises(ConfigError, match="different lengths"):
        pool.map(Task(add), [1, 2], [1, 2, 3])

    # Matrix products with numpy arrays travel to the workers and back.
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((16, 16)) for _ in range(6)]
    products = pool.map(Task(matmul), mats, mats)
    for m, p in zip(mats, products):
        np.testing.assert_allclose(p, m @ m)

    # submit returns a concurrent.futures.Future with the result, or the task's exception.
    future = pool.submit(Task(add), 2, b=3)
    assert isinstance(future, Future)
    assert future.result(timeout=60) == 5
    failing = pool.submit(Task(fail), "boom")
    with pytest.raises(ValueError, match="boom"):
        failing.result(timeout=60)
