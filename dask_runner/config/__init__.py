"""dask_runner's Hydra config tree (``pkg://dask_runner.config``).

A worker YAML file lists its pool's schema (``defaults: [/worker_schema/<name>@_here_, _self_]``) and only what
differs from it: the keys, their types and defaults are made from the pool's settings classes by
``dask_runner.dask.worker_schemas``, which dask_runner's command line and its Hydra search-path plugin store in
Hydra's ConfigStore before a worker file is read.
"""
