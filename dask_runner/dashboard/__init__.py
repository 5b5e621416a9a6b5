"""The Simulations page on the Dask dashboard: what a batch does, per planner, live.

``dask scheduler --preload dask_runner.dashboard`` installs it on a scheduler started by a job script;
clusters dask_runner starts have it from the start, and the driver adds it at run time elsewhere (see
:mod:`dask_runner.dashboard.install`). The driver stays the source of truth for reports: the page is a
view, fed by the driver's events (:mod:`dask_runner.dashboard.monitor`) and the scheduler's own state.
"""

from __future__ import annotations

from typing import Any


def dask_setup(scheduler: Any) -> None:
    """Called by Dask for ``--preload dask_runner.dashboard`` (and for the clusters dask_runner starts)."""
    from dask_runner.dashboard.install import install_on_scheduler

    install_on_scheduler(scheduler, "preload")
