#!/bin/bash
# Everything inside one allocation (worker=dask_slurm_runner, dask-jobqueue's SLURMRunner): srun starts the
# same command on every rank; rank 0 becomes the scheduler, rank 1 the driver (the only rank that writes
# the output folder), every other rank a single-threaded worker. No job is submitted from inside the job.
#
# Submit from a login node:   sbatch scripts/slurm/one_allocation.sh
# Settings (environment variables, all optional):
#   DASK_RUNNER_ENV, RUN_DIR, INTERFACE, EXTRA_OVERRIDES   as in worker_jobs_cpu.sh
#SBATCH --job-name=dask-runner-allocation
#SBATCH --nodes=3
#SBATCH --ntasks=9
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
set -euo pipefail

DASK_RUNNER_ENV=${DASK_RUNNER_ENV:-$HOME/venvs/dask_runner}
RUN_DIR=${RUN_DIR:-$HOME/dask_runner_runs/allocation}
INTERFACE=${INTERFACE:-ib0}
source "$DASK_RUNNER_ENV/bin/activate"
mkdir -p "$RUN_DIR"

# The scheduler file names the job ({job_id}, quoted for Hydra), so a file of an earlier job is never read.
# shellcheck disable=SC2086
srun dask-runner simulate worker=dask_slurm_runner \
    worker.scheduler_file="'$RUN_DIR/scheduler-{job_id}.json'" worker.interface="$INTERFACE" \
    output_dir="$RUN_DIR/out" resume=true ${EXTRA_OVERRIDES:-}
