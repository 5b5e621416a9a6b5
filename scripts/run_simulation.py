"""nuPlan's run_simulation.py: ``python scripts/run_simulation.py planner=simple_planner worker=sequential``."""

import sys

from dask_runner.cli import simulate_main

if __name__ == "__main__":  # worker processes start by spawn and import this file: run only as a script
    sys.exit(simulate_main())
