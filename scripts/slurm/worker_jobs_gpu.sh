#!/bin/bash
# A driver job that submits GPU worker jobs (worker=dask_slurm with worker.gpus_per_job).
# Each worker job asks SLURM for --gres=gpu:2 and starts dask-cuda workers, one per GPU, each declaring
# the resource GPU=1 with 4 threads: number_of_gpus_allocated_per_simulation=0.25 then runs four
# simulations per GPU, as on one machine. Needs dask_runner[slurm,cuda] in the environment.
#
# Submit from a login node:   sbatch scripts/slurm/worker_jobs_gpu.sh
# Settings (environment variables, all optional):
#   DASK_RUNNER_ENV, RUN_DIR, INTERFACE, WORKER_JOBS, EXTRA_OVERRIDES   as in worker_jobs_cpu.sh
#   GPU_PARTITION     the partition of the GPU nodes (default gpu)
#SBATCH --job-name=dask-runner-gpu-driver
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
set -euo pipefail

DASK_RUNNER_ENV=${DASK_RUNNER_ENV:-$HOME/venvs/dask_runner}
RUN_DIR=${RUN_DIR:-$HOME/dask_runner_runs/gpu}
INTERFACE=${INTERFACE:-ib0}
WORKER_JOBS=${WORKER_JOBS:-2}
GPU_PARTITION=${GPU_PARTITION:-gpu}
source "$DASK_RUNNER_ENV/bin/activate"

# "module load cuda" runs in each worker job before the workers start; adapt it to your site.
# shellcheck disable=SC2086
dask-runner simulate worker=dask_slurm \
    worker.jobs="$WORKER_JOBS" worker.gpus_per_job=2 worker.cores=8 worker.memory=64GB \
    worker.walltime=02:00:00 worker.queue="$GPU_PARTITION" worker.interface="$INTERFACE" \
    'worker.job_script_prologue=["module load cuda"]' worker.log_directory="$RUN_DIR/worker-logs" \
    number_of_gpus_allocated_per_simulation=0.25 \
    output_dir="$RUN_DIR/out" resume=true ${EXTRA_OVERRIDES:-}
