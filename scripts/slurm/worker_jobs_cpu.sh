#!/bin/bash
# A driver job that submits its own CPU worker jobs (worker=dask_slurm, dask-jobqueue's SLURMCluster).
# The driver needs little: one core for the scheduler and the report writing. The worker jobs get the
# cores; their walltime is set per job (worker.walltime) and their workers retire 5 minutes before it and
# are replaced, so the batch can outlive any one worker job.
#
# Submit from a login node:   sbatch scripts/slurm/worker_jobs_cpu.sh
# Settings (environment variables, all optional):
#   DASK_RUNNER_ENV   virtual environment with dask_runner[slurm], on a filesystem every node sees
#   RUN_DIR           output folder, on a shared filesystem (resume=true continues it)
#   INTERFACE         network interface the nodes share (ib0, eth0; lo on a one-machine test cluster)
#   WORKER_JOBS       number of worker jobs (default 4)
#   WORKER_CORES, WORKER_MEMORY   cores and memory of each worker job (default 4 and 8GB)
#   EXTRA_OVERRIDES   more Hydra overrides, e.g. "planner=simple_planner scenario_filter.limit_total_scenarios=100"
#SBATCH --job-name=dask-runner-driver
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
set -euo pipefail

DASK_RUNNER_ENV=${DASK_RUNNER_ENV:-$HOME/venvs/dask_runner}
RUN_DIR=${RUN_DIR:-$HOME/dask_runner_runs/cpu}
INTERFACE=${INTERFACE:-ib0}
WORKER_JOBS=${WORKER_JOBS:-4}
WORKER_CORES=${WORKER_CORES:-4}
WORKER_MEMORY=${WORKER_MEMORY:-8GB}
source "$DASK_RUNNER_ENV/bin/activate"

# worker.python defaults to this interpreter: the worker jobs use the same environment as the driver.
# shellcheck disable=SC2086  # EXTRA_OVERRIDES is a list of words on purpose
dask-runner simulate worker=dask_slurm \
    worker.jobs="$WORKER_JOBS" worker.cores="$WORKER_CORES" worker.memory="$WORKER_MEMORY" worker.walltime=01:00:00 \
    worker.interface="$INTERFACE" worker.log_directory="$RUN_DIR/worker-logs" \
    output_dir="$RUN_DIR/out" resume=true ${EXTRA_OVERRIDES:-}
