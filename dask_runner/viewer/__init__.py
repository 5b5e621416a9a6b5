"""The scenario replay viewer: `dask-runner view` and the replays of report.html."""
