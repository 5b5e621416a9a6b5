"""How a batch of runners runs, whatever runs it: the executor, the batch's state, tasks and the pool interface.

This layer knows nothing of Dask: the pools in it (sequential, threads, processes) and the Dask pool in
``dask_runner.dask`` all implement ``WorkerPool``, and ``execute_runners`` drives any of them.
"""
