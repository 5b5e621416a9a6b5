"""nuPlan's run_metric.py: ``python scripts/run_metric.py simulation_log_dir=<folder of simulation logs>``."""

import sys

from dask_runner.cli import metrics_main

if __name__ == "__main__":  # worker processes start by spawn and import this file: run only as a script
    sys.exit(metrics_main())
