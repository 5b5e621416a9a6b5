#!/bin/bash
# A job array of drivers, one at a time (%1), sharing one output folder through resume=true: when a
# driver is killed by its walltime, the next array task runs the same command and finishes the batch
# (runners already reported are skipped). Runs the batch on worker jobs it submits (worker=dask_slurm).
#
# Submit from a login node:   sbatch scripts/slurm/driver_array.sh
# Settings (environment variables, all optional):
#   DASK_RUNNER_ENV, RUN_DIR, INTERFACE, WORKER_JOBS, EXTRA_OVERRIDES   as in worker_jobs_cpu.sh
#SBATCH --job-name=dask-runner-array
#SBATCH --array=0-3%1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
set -euo pipefail

DASK_RUNNER_ENV=${DASK_RUNNER_ENV:-$HOME/venvs/dask_runner}
RUN_DIR=${RUN_DIR:-$HOME/dask_runner_runs/array}
INTERFACE=${INTERFACE:-ib0}
WORKER_JOBS=${WORKER_JOBS:-4}
source "$DASK_RUNNER_ENV/bin/activate"

# Once the batch is complete, later array tasks find nothing to run and end at once.
# shellcheck disable=SC2086
dask-runner simulate worker=dask_slurm worker.jobs="$WORKER_JOBS" worker.interface="$INTERFACE" \
    worker.log_directory="$RUN_DIR/worker-logs" output_dir="$RUN_DIR/out" resume=true ${EXTRA_OVERRIDES:-}
