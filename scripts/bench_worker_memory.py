"""Memory per worker: a worker's peak RSS over a long default job against one that ran a single scenario.

Usage: python scripts/bench_worker_memory.py [--scenarios N] [--rounds R] [-- extra overrides]

Runs ``dask-runner simulate`` with its defaults (IDM planner, metrics, simulation logs, report.html, a
local Dask cluster) twice per round, each in a fresh process: once on N scenarios (default 1024), once
on one. Each worker process writes its own peak RSS (``ru_maxrss``) when it closes, from a worker preload
this script gives the job through Dask's configuration (``DASK_DISTRIBUTED__WORKER__PRELOAD``); the job
is otherwise untouched. (Sampling the workers' ``VmHWM`` from outside missed the last moments of a short
job: the one-scenario baseline read 123 to 155 MB from run to run.) The baseline is the worker that ran the single scenario (the largest peak of the
short job: its other workers ran nothing); the growth is the largest worker peak of the long job minus
that baseline (every worker of the long job runs hundreds of scenarios); the target is under 50 MB.
The rounds take turns, and medians are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

TARGET_GROWTH_MB = 50.0
ROOT = Path(__file__).resolve().parents[1]
MB = 1e6


# Written into the job's temporary folder and named in the workers' Dask config: each worker process
# records its peak RSS when it closes.
WORKER_PRELOAD = '''
import os, resource


def dask_teardown(worker):
    folder = os.environ["BENCH_WORKER_PEAK_DIR"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    with open(os.path.join(folder, f"{os.getpid()}.peak"), "w") as out:
        out.write(str(peak))
'''


def peak_rss(pid: int) -> int | None:
    """The process's RSS high-water mark in bytes (Linux), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class JobMemory:
    scenarios: int
    wall_s: float
    worker_peaks: list[int]  # bytes, one per worker process
    driver_peak: int


def run_job(output_dir: Path, scenarios: int, extra: Sequence[str], interval_s: float = 0.2) -> JobMemory:
    """One ``dask-runner simulate`` in a fresh process; its workers' and its own peak RSS."""
    peaks_dir = output_dir.parent / f"{output_dir.name}-worker-peaks"
    peaks_dir.mkdir(parents=True)
    preload = peaks_dir.parent / "worker_peak_preload.py"
    preload.write_text(WORKER_PRELOAD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
               DASK_DISTRIBUTED__WORKER__PRELOAD=f'["{preload}"]', BENCH_WORKER_PEAK_DIR=str(peaks_dir))
    command = [sys.executable, "-m", "dask_runner.cli", "simulate", f"scenario_filter.limit_total_scenarios={scenarios}",
               f"output_dir={output_dir}", "show_progress=false", *extra]
    start = time.perf_counter()
    job = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver_peak = 0
    while job.poll() is None:  # the job's own peak: its high-water mark, read while it runs
        driver_peak = max(driver_peak, peak_rss(job.pid) or 0)
        time.sleep(interval_s)
    output, _ = job.communicate()
    wall = time.perf_counter() - start
    if job.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {job.returncode}):\n{output[-3000:]}")
    workers = [int(path.read_text()) for path in sorted(peaks_dir.glob("*.peak"))]
    if not workers:
        raise SystemExit("no worker wrote its peak: did the job run on a local Dask cluster?")
    return JobMemory(scenarios, wall, workers, driver_peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=1024, help="scenarios of the long job")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; each runs both jobs, taking turns")
    parser.add_argument("extra", nargs="*", help="overrides given to both jobs (after --)")
    args = parser.parse_args(argv)
    print(f"worker peak RSS: `dask-runner simulate` defaults, {args.scenarios} scenarios against 1, "
          f"{args.rounds} round(s), {psutil.cpu_count()} cores")
    growth: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench_worker_memory-") as work:
        for number in range(1, args.rounds + 1):
            jobs = {}
            for scenarios in (1, args.scenarios):
                job = jobs[scenarios] = run_job(Path(work) / f"{scenarios}-{number}", scenarios, args.extra)
                print(f"  round {number}  {scenarios:>5} scenario(s)  {job.wall_s:6.1f} s  worker peaks "
                      f"{', '.join(f'{p / MB:.0f}' for p in sorted(job.worker_peaks))} MB  driver peak "
                      f"{job.driver_peak / MB:.0f} MB", flush=True)
            one, many = jobs[1], jobs[args.scenarios]
            baseline = max(one.worker_peaks)
            growth.append((max(many.worker_peaks) - baseline) / MB)
            mean = (statistics.mean(many.worker_peaks) - baseline) / MB
            print(f"  round {number}  growth per worker {growth[-1]:.1f} MB (the largest worker; their mean "
                  f"{mean:+.1f} MB)", flush=True)
    median = statistics.median(growth)
    verdict = "met" if median < TARGET_GROWTH_MB else "NOT met"
    print(f"growth per worker over {args.scenarios} scenarios: {median:.1f} MB (median of {len(growth)} round(s); "
          f"target < {TARGET_GROWTH_MB:g} MB: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
