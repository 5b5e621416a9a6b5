"""Train planner=ml_planner: the same as ``dask-runner train`` (see ``--help``)."""

import sys

from dask_runner.experiment.train_command import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
