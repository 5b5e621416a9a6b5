#!/bin/bash
# A scheduler, its workers and the driver started by the job script itself, sharing a scheduler file
# (worker=dask_scheduler): the plain Dask recipe, when you want to choose every `dask worker` flag.
#
# Submit from a login node:   sbatch scripts/slurm/scheduler_file.sh
# Settings (environment variables, all optional):
#   DASK_RUNNER_ENV, RUN_DIR, INTERFACE, EXTRA_OVERRIDES   as in worker_jobs_cpu.sh
#SBATCH --job-name=dask-runner-scheduler-file
#SBATCH --nodes=3
#SBATCH --ntasks=3
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
set -euo pipefail

DASK_RUNNER_ENV=${DASK_RUNNER_ENV:-$HOME/venvs/dask_runner}
RUN_DIR=${RUN_DIR:-$HOME/dask_runner_runs/scheduler-file}
INTERFACE=${INTERFACE:-ib0}
source "$DASK_RUNNER_ENV/bin/activate"
mkdir -p "$RUN_DIR"
SCHEDULER_FILE="$RUN_DIR/scheduler.json"

# A file left by an earlier job names a dead scheduler: delete it before this job's scheduler starts.
rm -f "$SCHEDULER_FILE"
dask scheduler --scheduler-file "$SCHEDULER_FILE" --interface "$INTERFACE" --dashboard-address :0 &
SCHEDULER_PID=$!
# One single-threaded worker per task; the preload is the set-up dask_runner's own clusters give workers.
srun dask worker --scheduler-file "$SCHEDULER_FILE" --interface "$INTERFACE" --nthreads 1 \
    --resources CPU=1 --preload dask_runner.dask.worker_setup &
WORKERS_PID=$!

status=0
# shellcheck disable=SC2086
dask-runner simulate worker=dask_scheduler worker.scheduler_file="$SCHEDULER_FILE" \
    output_dir="$RUN_DIR/out" resume=true ${EXTRA_OVERRIDES:-} || status=$?
kill "$WORKERS_PID" "$SCHEDULER_PID" 2>/dev/null || true
wait || true
exit "$status"
