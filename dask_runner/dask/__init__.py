"""Runners on Dask distributed: the pool, its batch loop and tasks, and the clusters it starts or joins.

Every private attribute of distributed (and multiprocessing) that dask_runner relies on is reached
through ``dask_runner.dask.compat`` only, so a new distributed release is checked in one place.
"""
