"""Hydra finds this plugin in every Hydra application of an environment where dask_runner is installed."""
