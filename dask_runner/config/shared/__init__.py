"""Config nodes that dask_runner's worker nodes include (``/worker_keys/...``), in every Hydra application.

dask_runner's search-path plugin adds this package to every application's search path, dask_runner's own and
nuPlan's or NAVSIM's alike: there the nuPlan-family worker nodes include dask_runner's own ones, whose includes
must resolve too.
"""
